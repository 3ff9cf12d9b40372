"""``quantflow audit SYMBOL``: every series stored for a symbol, its ranges and its holes
with their cause, from storage's ``ListSeries`` and ``GetCoverage`` (what GraphQL's
``coverage`` shows, for every kind at once)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime

import grpc

from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.cli.backfill import BackfillError
from services.cli.progress import Progress
from services.cli.up import read_run_file, running_service_token
from services.common import names
from services.common.service_token import service_channel
from services.common.settings import Settings

# Rows shown per table; the totals count them all.
SHOWN = 50
_TIMEOUT_S = 300.0
_CAUSES = {storage_pb.HOLE_CAUSE_EXCHANGE: "EXCHANGE", storage_pb.HOLE_CAUSE_MISSING: "MISSING"}


class AuditError(BackfillError):
    """An expected failure: one line for the user."""


def storage_target(settings: Settings) -> str:
    """Storage of the running ``quantflow up``, else ``QUANTFLOW_STORAGE_TARGET``."""
    state = read_run_file(settings.data_dir)
    if state is not None:
        components = state["components"]
        assert isinstance(components, list)
        return str(next(c["grpc"] for c in components if c["name"] == "storage"))
    return settings.storage_target


def _shows(kind: str) -> Callable[[int], str]:
    """How a kind's ids read: trade ids as numbers, kline open times as UTC times."""
    if kind.startswith(names.KLINE_PREFIX):
        return lambda ms: datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ")
    return lambda series_id: f"{series_id:,}"


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]], total: int) -> list[str]:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = ["    " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["    " + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    if total > len(rows):
        lines.append(f"    … {total - len(rows):,} more (GraphQL coverage lists every one)")
    return lines


def report(symbol: str, kind: str, reply: storage_pb.GetCoverageResponse) -> list[str]:
    """One kind's section: its ranges, its holes with their cause, its totals."""
    show = _shows(kind)
    unit = "open times" if kind.startswith(names.KLINE_PREFIX) else "ids"
    lines = [f"{symbol} {kind} ({unit})"]
    lines += _table(
        ("from", "to", "count"),
        [(show(r.first_id), show(r.last_id), f"{r.count:,}") for r in reply.ranges[:SHOWN]],
        len(reply.ranges),
    )
    if reply.holes:
        lines += _table(
            ("hole from", "to", "missing", "cause"),
            [
                (show(h.first_id), show(h.last_id), f"{h.missing:,}", _CAUSES[h.cause])
                for h in reply.holes[:SHOWN]
            ],
            len(reply.holes),
        )
    exchange = reply.exchange_missing_count
    lines.append(
        f"    total: {len(reply.ranges):,} ranges, {reply.stored_count:,} stored; "
        f"{len(reply.holes):,} holes, {reply.missing_count:,} missing "
        f"({reply.missing_count - exchange:,} MISSING, {exchange:,} EXCHANGE)"
        + ("; more ranges than listed" if reply.truncated else "")
    )
    return lines


async def audit(settings: Settings, symbol: str, venue: str) -> list[str]:
    """The report's lines for every series of ``symbol`` stored on ``venue``."""
    target = storage_target(settings)
    async with service_channel(target, running_service_token(settings)) as channel:
        stub = storage_service_pb2_grpc.StorageServiceStub(channel)
        try:
            listed = await stub.ListSeries(
                storage_pb.ListSeriesRequest(symbol=symbol, venue=venue), timeout=_TIMEOUT_S
            )
            kinds = list(listed.kinds)
            if not kinds:
                return [f"{symbol} on {venue}: nothing stored"]
            progress = Progress(f"auditing {symbol}", len(kinds))
            lines: list[str] = []
            for kind in kinds:
                reply = await stub.GetCoverage(
                    storage_pb.GetCoverageRequest(symbol=symbol, venue=venue, kind=kind),
                    timeout=_TIMEOUT_S,
                )
                lines += [*report(symbol, kind, reply), ""]
                progress.advance(1)
            progress.finish()
        except grpc.aio.AioRpcError as error:
            raise AuditError(
                f"storage at {target} did not answer ({error.code().name}: {error.details()}); "
                "is `quantflow up` running?"
            ) from None
    return lines


def print_lines(lines: list[str]) -> None:
    sys.stdout.write("\n".join(lines).rstrip("\n") + "\n")

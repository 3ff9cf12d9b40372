"""Parsing raw Binance messages: our validating parser beside bare ``json.loads``."""

from __future__ import annotations

import json
from decimal import Decimal

from bench.report import Result, timed
from services.ingest.binance import parse_message


def _hand_rolled(messages: list[str]) -> None:
    """What a hand-written handler does (cryptofeed's Binance ``_trade`` does the same):
    ``json.loads``, then read the fields, prices as ``Decimal``; no validation."""
    for text in messages:
        message = json.loads(text)
        data = message.get("data", message)
        if data.get("e") != "trade":
            continue
        (data["s"], data["t"], Decimal(data["p"]), Decimal(data["q"]), data["T"], data["m"])


def _json_only(messages: list[str]) -> None:
    for text in messages:
        json.loads(text)


def _ours(messages: list[str]) -> None:
    for text in messages:
        parse_message(text)


def run(messages: list[str]) -> list[Result]:
    count = len(messages)
    return [
        timed("parse", "json.loads only (floor)", count, lambda: _json_only(messages)),
        timed(
            "parse",
            "hand-rolled: json.loads + fields + Decimal",
            count,
            lambda: _hand_rolled(messages),
            "no validation",
        ),
        timed(
            "parse",
            "quantflow parse_message (validated)",
            count,
            lambda: _ours(messages),
            "bad input → dead letter",
        ),
    ]

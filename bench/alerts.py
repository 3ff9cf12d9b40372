"""Alert rules evaluated per trade: the rule index beside the naive loop, in the same run.

100,000 active price rules over 100 symbols (``--quick``: 10,000), each symbol's 1,000 rules
cycling through ``>``, ``>=``, ``<``, ``<=``, ``crosses_above`` and ``crosses_below`` at
levels drawn uniformly (seeded) over the price range the symbol trades in, four in five
RECURRING with a 60 s cooldown, one in five ONCE. The trades are the real capture's
(BTCUSDT, ~9,800 trades) spread over the 100 symbols: symbol s replays the capture from its
own offset, its prices scaled by (s + 1) / 50, so each symbol moves like the capture at its
own price level; the symbols' trades are interleaved.

The index (``services.alerts.rule_index.RuleIndex``) evaluates every trade of the stream
(200,000; quick: 20,000), each call timed for the p99. The naive loop (one
``services.alerts.firing.RuleMachine`` per rule, all 1,000 of the symbol fed each trade)
evaluates the first trades of 10 symbols, over their 10,000 rules; the index's firings on
those trades must equal the loop's, or the run fails.
"""

from __future__ import annotations

import dataclasses
import random
import time

from bench import data
from bench.report import Result
from services.alerts.firing import Firing, Mode, Rule, RuleMachine
from services.alerts.rule_index import RuleIndex
from services.common.conditions import Condition, parse_condition
from services.common.trades import Trade

SYMBOLS = 100
RULES_PER_SYMBOL = 1_000
TRADES = 200_000
NAIVE_SYMBOLS = 10
NAIVE_TRADES = 2_000
COMPARATORS = ("<", "<=", ">", ">=", "crosses_above", "crosses_below")


def symbol_name(s: int) -> str:
    return f"SYM{s:03}USDT"


def stream(capture: list[Trade], symbols: int, size: int) -> list[Trade]:
    """``size`` trades over ``symbols`` symbols, interleaved, each symbol replaying the
    capture from its own offset (wrapping with new ids and times), prices scaled."""
    span_ids = capture[-1].trade_id - capture[0].trade_id + 1
    span_ms = capture[-1].trade_time_ms - capture[0].trade_time_ms + 1
    per_symbol = -(-size // symbols)
    columns: list[list[Trade]] = []
    for s in range(symbols):
        scale = (s + 1) / 50
        offset = s * len(capture) // symbols
        column = []
        for n in range(offset, offset + per_symbol):
            lap, original = divmod(n, len(capture))
            trade = capture[original]
            column.append(
                dataclasses.replace(
                    trade,
                    symbol=symbol_name(s),
                    price=f"{float(trade.price) * scale:.2f}",
                    trade_id=trade.trade_id + lap * span_ids,
                    trade_time_ms=trade.trade_time_ms + lap * span_ms,
                )
            )
        columns.append(column)
    return [column[n] for n in range(per_symbol) for column in columns][:size]


def rules_over(
    capture: list[Trade], symbols: int, seed: int = 10, spread: float = 1.0
) -> list[Rule]:
    """1,000 rules a symbol, levels uniform over the capture's price range widened
    ``spread`` times around its middle (scaled to the symbol's price level)."""
    rng = random.Random(seed)
    prices = [float(t.price) for t in capture]
    widen = (max(prices) - min(prices)) * (spread - 1) / 2
    low, high = min(prices) - widen, max(prices) + widen
    conditions: dict[str, Condition] = {}
    rules: list[Rule] = []
    for s in range(symbols):
        scale = (s + 1) / 50
        for r in range(RULES_PER_SYMBOL):
            level = rng.uniform(low, high) * scale
            text = f"price {COMPARATORS[r % len(COMPARATORS)]} {level:.2f}"
            condition = conditions.get(text) or parse_condition(text)
            conditions[text] = condition  # levels repeat in quick runs: parse each once
            once = rng.random() < 0.2
            rules.append(
                Rule(
                    rule_id=f"{symbol_name(s)}-{r:04}",
                    symbol=symbol_name(s),
                    condition=condition,
                    mode=Mode.ONCE if once else Mode.RECURRING,
                    cooldown_ms=0 if once else 60_000,
                )
            )
    return rules


def naive(rules: list[Rule], trades: list[Trade]) -> tuple[float, list[Firing]]:
    by_symbol: dict[str, list[RuleMachine]] = {}
    for rule in rules:
        by_symbol.setdefault(rule.symbol, []).append(RuleMachine(rule))
    firings: list[Firing] = []
    started = time.perf_counter()
    for trade in trades:
        fired = [machine.on_trade(trade) for machine in by_symbol[trade.symbol]]
        firings += sorted((f for f in fired if f is not None), key=lambda f: f.rule_id)
    return time.perf_counter() - started, firings


def run(quick: bool) -> list[Result]:
    symbols = SYMBOLS // 10 if quick else SYMBOLS
    size = TRADES // 10 if quick else TRADES
    naive_size = NAIVE_TRADES // 4 if quick else NAIVE_TRADES
    capture = data.trades()
    trades = stream(capture, symbols, size)
    rules = rules_over(capture, symbols)
    index = RuleIndex()
    started = time.perf_counter()
    for rule in rules:
        index.add(rule)
    built_s = time.perf_counter() - started

    naive_symbols = {symbol_name(s) for s in range(min(NAIVE_SYMBOLS, symbols))}
    naive_trades = [t for t in trades if t.symbol in naive_symbols][:naive_size]
    naive_rules = [rule for rule in rules if rule.symbol in naive_symbols]
    naive_s, naive_firings = naive(naive_rules, naive_trades)

    checked = {(t.symbol, t.trade_id) for t in naive_trades}
    ours: list[Firing] = []
    latencies: list[int] = []
    fired = 0
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for trade in trades:
        before = clock()
        firings = index.on_trade(trade)
        latencies.append(clock() - before)
        fired += len(firings)
        if (trade.symbol, trade.trade_id) in checked:
            ours += firings
    index_s = time.perf_counter() - started
    if ours != naive_firings:
        raise RuntimeError(
            f"the index fired {len(ours)} times on the checked trades, the naive loop "
            f"{len(naive_firings)} times"
        )
    latencies.sort()
    p99_us = latencies[int(len(latencies) * 0.99)] / 1000
    p50_us = latencies[len(latencies) // 2] / 1000
    per_symbol = f"{len(rules):,} rules over {symbols} symbols"
    naive_rate = len(naive_trades) / naive_s
    index_rate = len(trades) / index_s
    return [
        Result("alerts", f"index: add {per_symbol}", len(rules), built_s),
        Result(
            "alerts",
            f"naive loop: {RULES_PER_SYMBOL:,} rules per trade",
            len(naive_trades),
            naive_s,
            f"{len(naive_firings)} firings (index: the same)",
        ),
        Result(
            "alerts",
            f"index: {per_symbol}",
            len(trades),
            index_s,
            f"{index_rate / naive_rate:.0f}x naive; p50 {p50_us:.1f} µs, p99 {p99_us:.1f} µs "
            f"per trade; {fired} firings (target >= 20,000 trades/s)",
        ),
    ]

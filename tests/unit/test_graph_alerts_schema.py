"""graph/alert_*.py and graph/alerts.py without servers: the contract's names and shapes,
enum mapping both ways, GraphQL input → AlertsService request, a partial update merged over
the rule, cursors, and error mapping."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
import strawberry
from graphql import (
    GraphQLInputObjectType,
    GraphQLObjectType,
    OperationDefinitionNode,
    get_named_type,
    parse,
)

from graph.alert_channels import (
    DeliveryStatus,
    NotificationChannelInput,
    NotificationChannelKind,
    channel_input_to_pb,
    channel_kind_from_pb,
    channel_kind_to_pb,
    delivery_status_from_pb,
)
from graph.alert_firings import (
    decode_cursor,
    encode_cursor,
    fired_from_pb,
    firing_from_pb,
    notification_from_pb,
)
from graph.alert_rpc import alerts_error
from graph.alerts import (
    AlertRuleInput,
    AlertRuleMode,
    AlertRuleState,
    AlertRuleUpdateInput,
    merged_rule_input,
    mode_from_pb,
    mode_to_pb,
    rule_from_pb,
    rule_input_to_pb,
    state_from_pb,
)
from graph.context import Backends, Context
from graph.errors import TypedError
from graph.limits import MAX_QUERY_COST, query_cost
from graph.schema import schema
from quantflow.alerts.v1 import alert_fired_pb2
from quantflow.alerts.v1 import alerts_service_pb2 as pb


def _type(name: str) -> Any:
    found = schema._schema.get_type(name)
    assert found is not None, name
    return found


def test_the_contract_names_and_argument_shapes_are_there() -> None:
    mutation = _type("Mutation").fields
    assert str(mutation["createNotificationChannel"].args["input"].type) == (
        "NotificationChannelInput!"
    )
    assert str(mutation["createAlertRule"].args["input"].type) == "AlertRuleInput!"
    assert set(mutation["deleteNotificationChannel"].args) == {"id"}
    assert set(mutation["sendTestNotification"].args) == {"channelId"}
    for name in ("pauseAlertRule", "resumeAlertRule", "deleteAlertRule"):
        assert set(mutation[name].args) == {"id"}, name
    assert set(mutation["updateAlertRule"].args) == {"id", "input"}
    channel = get_named_type(mutation["createNotificationChannel"].type)
    assert {"id", "kind", "name"} <= set(channel.fields)
    rule = get_named_type(mutation["createAlertRule"].type)
    assert {"id", "symbol", "condition", "state", "mode", "interval", "cooldownSeconds",
            "rearm", "expiresAt", "channelIds", "firedCount", "lastFiredAt",
            "createdAt"} <= set(rule.fields)  # fmt: skip

    given = _type("NotificationChannelInput")
    assert isinstance(given, GraphQLInputObjectType)
    assert set(given.fields) == {"kind", "name", "target", "secret"}
    assert set(_type("NotificationChannelKind").values) == {
        "TELEGRAM", "DISCORD", "EMAIL", "WEBHOOK"
    }  # fmt: skip
    given = _type("AlertRuleInput")
    assert {"symbol", "condition", "interval", "mode", "cooldownSeconds", "rearm", "expiresAt",
            "channelIds"} <= set(given.fields)  # fmt: skip
    assert set(_type("AlertRuleMode").values) == {"ONCE", "RECURRING"}
    assert set(_type("AlertRuleState").values) == {
        "ARMED", "DISARMED", "PAUSED", "FINISHED", "EXPIRED"
    }  # fmt: skip

    query = _type("Query").fields
    assert {"notificationChannels", "alertRules"} <= set(query)
    assert {"ruleId", "first", "after"} <= set(query["notifications"].args)
    connection = get_named_type(query["notifications"].type)
    assert set(connection.fields) >= {"edges", "pageInfo"}
    assert str(query["ruleHistory"].type) == "[AlertFiring!]!"
    assert {"symbol", "condition", "interval", "from", "to"} <= set(query["ruleHistory"].args)
    assert str(query["ruleHistory"].args["from"].type) == "DateTime!"
    firing = _type("AlertFiring")
    assert isinstance(firing, GraphQLObjectType)
    assert {"time", "price", "tradeId", "value"} <= set(firing.fields)
    assert str(firing.fields["time"].type) == "Int64!"
    assert str(firing.fields["tradeId"].type) == "Int64"
    assert str(firing.fields["price"].type) == "String!"

    subscription = _type("Subscription").fields
    assert set(subscription["alertFired"].args) == {"ruleIds"}


def test_enums_map_to_the_protos_values_and_back() -> None:
    for kind in NotificationChannelKind:
        assert channel_kind_from_pb(channel_kind_to_pb(kind)) is kind
    assert channel_kind_to_pb(NotificationChannelKind.WEBHOOK) == pb.CHANNEL_KIND_WEBHOOK
    for mode in AlertRuleMode:
        assert mode_from_pb(mode_to_pb(mode)) is mode
    assert mode_from_pb(pb.RULE_MODE_UNSPECIFIED) is AlertRuleMode.RECURRING
    assert state_from_pb(pb.RULE_STATE_DISARMED) is AlertRuleState.DISARMED
    assert state_from_pb(pb.RULE_STATE_PAUSED) is AlertRuleState.PAUSED
    assert delivery_status_from_pb(pb.DELIVERY_STATUS_FAILED) is DeliveryStatus.FAILED
    # Every proto value but UNSPECIFIED has its GraphQL value.
    assert {state_from_pb(v) for v in pb.RuleState.values() if v} == set(AlertRuleState)
    assert state_from_pb(pb.RULE_STATE_UNSPECIFIED) is AlertRuleState.ARMED
    assert {delivery_status_from_pb(v) for v in pb.DeliveryStatus.values() if v} == set(
        DeliveryStatus
    )


def test_channel_input_becomes_a_create_request_without_a_secret_when_none() -> None:
    request = channel_input_to_pb(
        NotificationChannelInput(
            kind=NotificationChannelKind.DISCORD, name="desk", target="http://127.0.0.1:1/x"
        ),
        "alice",
    )
    assert request.kind == pb.CHANNEL_KIND_DISCORD and request.owner == "alice"
    assert (request.name, request.target, request.secret) == ("desk", "http://127.0.0.1:1/x", "")


def test_rule_input_becomes_a_rule_input_with_optional_fields_only_when_given() -> None:
    plain = rule_input_to_pb(AlertRuleInput(symbol="btcusdt", condition="price > 2680"))
    assert plain.symbol == "BTCUSDT" and plain.venue == "binance"
    assert plain.interval == "" and plain.mode == pb.RULE_MODE_RECURRING
    assert not plain.HasField("rearm") and not plain.HasField("expires_ms")
    assert list(plain.channel_ids) == []

    full = rule_input_to_pb(
        AlertRuleInput(
            symbol="ETHUSDT",
            condition="rsi(14) < 30",
            interval="1h",
            mode=AlertRuleMode.ONCE,
            cooldown_seconds=300,
            rearm=2650.5,
            expires_at=datetime(2030, 1, 1, tzinfo=UTC),
            channel_ids=[strawberry.ID("c1"), strawberry.ID("c2")],
            venue="binance_usdm",
        )
    )
    assert (full.interval, full.mode, full.cooldown_seconds) == ("1h", pb.RULE_MODE_ONCE, 300)
    assert full.rearm == 2650.5 and full.expires_ms == 1_893_456_000_000
    assert list(full.channel_ids) == ["c1", "c2"] and full.venue == "binance_usdm"


def test_rule_input_with_a_bad_symbol_is_refused_before_any_call() -> None:
    with pytest.raises(TypedError, match="BTC-USD") as raised:
        rule_input_to_pb(AlertRuleInput(symbol="BTC-USD", condition="price > 1"))
    assert raised.value.extensions == {"code": "INVALID_ARGUMENT"}


def _stored_rule() -> pb.Rule:
    return pb.Rule(
        id="r1",
        symbol="BTCUSDT",
        venue="binance",
        condition="rsi(14) < 30",
        interval="1h",
        mode=pb.RULE_MODE_ONCE,
        cooldown_seconds=60,
        rearm=100.0,
        expires_ms=2_000_000_000_000,
        channel_ids=["c1"],
        state=pb.RULE_STATE_ARMED,
        created_ms=1_700_000_000_000,
        updated_ms=1_700_000_001_000,
        fired_count=3,
        last_fired_ms=1_700_000_000_500,
    )


def test_update_keeps_the_fields_not_given() -> None:
    merged = merged_rule_input(_stored_rule(), AlertRuleUpdateInput(cooldown_seconds=120))
    assert merged == pb.RuleInput(
        symbol="BTCUSDT",
        venue="binance",
        condition="rsi(14) < 30",
        interval="1h",
        mode=pb.RULE_MODE_ONCE,
        cooldown_seconds=120,
        rearm=100.0,
        expires_ms=2_000_000_000_000,
        channel_ids=["c1"],
    )


def test_update_clears_interval_rearm_and_expiry_given_as_null() -> None:
    change = AlertRuleUpdateInput(
        condition="price > 5", interval=None, rearm=None, expires_at=None, channel_ids=[]
    )
    merged = merged_rule_input(_stored_rule(), change)
    assert merged.condition == "price > 5" and merged.interval == ""
    assert not merged.HasField("rearm") and not merged.HasField("expires_ms")
    assert list(merged.channel_ids) == []
    assert merged.mode == pb.RULE_MODE_ONCE  # not given: kept


def test_update_replaces_mode_symbol_and_expiry() -> None:
    change = AlertRuleUpdateInput(
        mode=AlertRuleMode.RECURRING,
        symbol="ethusdt",
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        rearm=7.5,
    )
    merged = merged_rule_input(_stored_rule(), change)
    assert merged.mode == pb.RULE_MODE_RECURRING and merged.symbol == "ETHUSDT"
    assert merged.expires_ms == 1_893_456_000_000 and merged.rearm == 7.5


def test_a_stored_rule_answers_its_optional_fields_as_null_when_unset() -> None:
    rule = rule_from_pb(_stored_rule())
    assert rule.interval == "1h" and rule.rearm == 100.0 and rule.fired_count == 3
    assert rule.last_fired_at == datetime(2023, 11, 14, 22, 13, 20, 500_000, tzinfo=UTC)
    bare = rule_from_pb(pb.Rule(id="r2", symbol="BTCUSDT", condition="price > 1"))
    assert bare.interval is None and bare.rearm is None and bare.expires_at is None
    assert bare.last_fired_at is None and bare.mode is AlertRuleMode.RECURRING


def test_a_firing_answers_trade_id_and_candle_open_only_when_set() -> None:
    trade_firing = pb.Firing(
        id="f1",
        rule_id="r1",
        symbol="BTCUSDT",
        time_ms=1_723_161_255_000,
        price="61583.01000000",
        trade_id=9_007_199_254_740_993,
        value=61583.01,
        recorded_ms=1_723_161_255_010,
        deliveries=[
            pb.Delivery(
                id="d1",
                channel_id="c1",
                channel_kind=pb.CHANNEL_KIND_WEBHOOK,
                status=pb.DELIVERY_STATUS_FAILED,
                reason="HTTP 404",
                attempts=[pb.Attempt(number=1, outcome="FAILED", detail="HTTP 404")],
            )
        ],
    )
    node = notification_from_pb(trade_firing)
    assert node.trade_id == 9_007_199_254_740_993 and node.candle_open_time is None
    assert node.price == "61583.01000000"
    (delivery,) = node.deliveries
    assert delivery.status is DeliveryStatus.FAILED and delivery.reason == "HTTP 404"
    assert delivery.attempts == 1 and delivery.attempt_outcomes == ["FAILED"]
    assert delivery.last_attempt is not None and delivery.last_attempt.detail == "HTTP 404"
    assert delivery.last_attempt.finished_at is None  # no finish time recorded
    assert delivery.delivered_at is None

    candle = firing_from_pb(pb.Firing(time_ms=60_000, candle_open_ms=60_000, price="1.5"))
    assert candle.trade_id is None and candle.candle_open_time == 60_000

    fired = fired_from_pb(alert_fired_pb2.AlertFired(rule_id="r1", time_ms=5, trade_id=7))
    assert fired.trade_id == 7 and fired.interval is None and fired.candle_open_time is None


def test_cursors_round_trip_and_a_bad_one_is_invalid_argument() -> None:
    for token, skip in [("", 3), ("abc:def==", 0), ("x", 499)]:
        assert decode_cursor(encode_cursor(token, skip)) == (token, skip)
    wrong_skip = base64.urlsafe_b64encode(b"notifications:x:t").decode()
    for bad in ["nope", wrong_skip, "dHJhZGU6MQ=="]:
        with pytest.raises(TypedError, match="not a cursor"):
            decode_cursor(bad)


def _rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


def test_a_condition_error_carries_its_column() -> None:
    error = alerts_error(
        _rpc_error(
            grpc.StatusCode.INVALID_ARGUMENT, "condition: unknown indicator 'rsx' at column 1"
        ),
        "createAlertRule",
    )
    assert error.extensions == {"code": "INVALID_ARGUMENT", "column": 1}
    assert "rsx" in error.message
    plain = alerts_error(_rpc_error(grpc.StatusCode.NOT_FOUND, "no rule r9"), "pauseAlertRule")
    assert plain.extensions == {"code": "NOT_FOUND"}
    masked = alerts_error(_rpc_error(grpc.StatusCode.INTERNAL, "secret stack"), "alertRules")
    assert "secret" not in masked.message and not masked.extensions


async def test_a_gateway_without_the_alerts_service_answers_unavailable() -> None:
    backends = Backends(storage=None, nats=None, namespace="")
    answer = await schema.execute("{ alertRules { id } }", context_value=Context(backends=backends))
    assert answer.errors and answer.errors[0].extensions == {"code": "UNAVAILABLE"}


async def test_create_alert_rule_checks_the_symbol_before_any_backend() -> None:
    answer = await schema.execute(
        'mutation { createAlertRule(input: {symbol: "not a symbol!", condition: "price > 1"}) '
        "{ id } }",
        context_value=Context(backends=Backends(storage=None, nats=None, namespace="")),
    )
    assert answer.errors and answer.errors[0].extensions == {"code": "INVALID_ARGUMENT"}


def test_the_readme_notifications_query_fits_the_cost_limit() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    found = re.search(r"^\{ notifications\(.*?^```", readme, re.MULTILINE | re.DOTALL)
    assert found, "the README shows a notifications query"
    text = re.sub(r"#[^\n]*", "", found.group(0).removesuffix("```"))
    document = parse(text.replace("…", "r1"))
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    assert "deliveries" in text and "lastAttempt" in text
    assert query_cost(schema._schema, operation, {}) <= MAX_QUERY_COST

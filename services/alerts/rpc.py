"""AlertsService over gRPC: a thin layer over validation, the stores, history and the
channel senders. Errors are raised as QuantflowError; the shared interceptor maps them."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import asyncpg
import grpc
from prometheus_client import Counter

from quantflow.alerts.v1 import alerts_service_pb2 as pb
from quantflow.alerts.v1 import alerts_service_pb2_grpc
from services.alerts import codec
from services.alerts.channel_store import ChannelStore
from services.alerts.channels.outcome import ChannelKind
from services.alerts.channels.senders import Sender
from services.alerts.history import HistoryQuery, rule_history
from services.alerts.market_data import Storage, SymbolCatalogue
from services.alerts.notifications import list_firings
from services.alerts.rule_store import RuleStore
from services.alerts.trial_send import DEFAULT_BUDGET_S, send_trial, trial_notice
from services.alerts.validation import RuleInput, check_channel, check_rule, owner_of
from services.storage.database_errors import unavailable_when_database_is_down

CALLS = Counter(
    "quantflow_alerts_rpc_calls", "AlertsService calls by method and outcome", ["method", "outcome"]
)


class AlertsServicer(alerts_service_pb2_grpc.AlertsServiceServicer):  # type: ignore[misc]
    def __init__(
        self,
        pool: asyncpg.Pool,
        storage: Storage,
        catalogue: SymbolCatalogue,
        senders: Mapping[ChannelKind, Sender],
        now_ms: Callable[[], int],
    ) -> None:
        self._pool = pool
        self._channels = ChannelStore(pool)
        self._rules = RuleStore(pool)
        self._storage = storage
        self._catalogue = catalogue
        self._senders = senders
        self._now_ms = now_ms

    # Channels

    async def CreateChannel(
        self, request: pb.CreateChannelRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateChannelResponse:
        given = check_channel(
            codec.kind_name(request.kind), request.name, request.target, request.secret
        )
        with unavailable_when_database_is_down():
            channel = await self._channels.create(owner_of(request.owner), given)
        return pb.CreateChannelResponse(channel=codec.channel_to_pb(channel))

    async def ListChannels(
        self, request: pb.ListChannelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListChannelsResponse:
        with unavailable_when_database_is_down():
            channels = await self._channels.of_owner(owner_of(request.owner))
        return pb.ListChannelsResponse(channels=[codec.channel_to_pb(c) for c in channels])

    async def DeleteChannel(
        self, request: pb.DeleteChannelRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteChannelResponse:
        with unavailable_when_database_is_down():
            await self._channels.delete(owner_of(request.owner), request.id)
        return pb.DeleteChannelResponse(deleted=True)

    async def SendTestNotification(
        self, request: pb.SendTestNotificationRequest, context: grpc.aio.ServicerContext
    ) -> pb.SendTestNotificationResponse:
        with unavailable_when_database_is_down():
            channel = await self._channels.get(owner_of(request.owner), request.channel_id)
        remaining = context.time_remaining()
        # Leave a second of the caller's deadline to carry the answer back.
        budget = DEFAULT_BUDGET_S if remaining is None else max(0.0, remaining - 1.0)
        result = await send_trial(
            self._senders,
            channel.destination(),
            trial_notice(channel.name, self._now_ms()),
            budget,
        )
        CALLS.labels("SendTestNotification", "delivered" if result.delivered else "failed").inc()
        return pb.SendTestNotificationResponse(
            status=pb.DELIVERY_STATUS_DELIVERED if result.delivered else pb.DELIVERY_STATUS_FAILED,
            reason=result.reason,
            attempts=result.attempts,
        )

    # Rules

    async def _checked(self, given: pb.RuleInput) -> RuleInput:
        checked = check_rule(
            symbol=given.symbol,
            venue=given.venue,
            condition=given.condition,
            interval=given.interval,
            mode=codec.mode_name(given.mode),
            cooldown_seconds=given.cooldown_seconds,
            rearm=given.rearm if given.HasField("rearm") else None,
            expires_ms=given.expires_ms if given.HasField("expires_ms") else None,
            channel_ids=list(given.channel_ids),
            now_ms=self._now_ms(),
        )
        await self._catalogue.check(checked.symbol, checked.venue)
        return checked

    async def CreateRule(
        self, request: pb.CreateRuleRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateRuleResponse:
        given = await self._checked(request.input)
        with unavailable_when_database_is_down():
            rule = await self._rules.create(owner_of(request.owner), given)
        CALLS.labels("CreateRule", "ok").inc()
        return pb.CreateRuleResponse(rule=codec.rule_to_pb(rule))

    async def ListRules(
        self, request: pb.ListRulesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListRulesResponse:
        with unavailable_when_database_is_down():
            rules = await self._rules.of_owner(owner_of(request.owner), request.symbol)
        return pb.ListRulesResponse(rules=[codec.rule_to_pb(rule) for rule in rules])

    async def GetRule(
        self, request: pb.GetRuleRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetRuleResponse:
        with unavailable_when_database_is_down():
            rule = await self._rules.get(owner_of(request.owner), request.id)
        return pb.GetRuleResponse(rule=codec.rule_to_pb(rule))

    async def UpdateRule(
        self, request: pb.UpdateRuleRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateRuleResponse:
        owner = owner_of(request.owner)
        with unavailable_when_database_is_down():
            await self._rules.get(owner, request.id)  # NOT_FOUND before judging the input
        given = await self._checked(request.input)
        with unavailable_when_database_is_down():
            rule = await self._rules.update(owner, request.id, given)
        return pb.UpdateRuleResponse(rule=codec.rule_to_pb(rule))

    async def PauseRule(
        self, request: pb.PauseRuleRequest, context: grpc.aio.ServicerContext
    ) -> pb.PauseRuleResponse:
        with unavailable_when_database_is_down():
            rule = await self._rules.pause(owner_of(request.owner), request.id)
        return pb.PauseRuleResponse(rule=codec.rule_to_pb(rule))

    async def ResumeRule(
        self, request: pb.ResumeRuleRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResumeRuleResponse:
        with unavailable_when_database_is_down():
            rule = await self._rules.resume(owner_of(request.owner), request.id)
        return pb.ResumeRuleResponse(rule=codec.rule_to_pb(rule))

    async def DeleteRule(
        self, request: pb.DeleteRuleRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteRuleResponse:
        with unavailable_when_database_is_down():
            await self._rules.delete(owner_of(request.owner), request.id)
        return pb.DeleteRuleResponse(deleted=True)

    # What happened

    async def ListNotifications(
        self, request: pb.ListNotificationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListNotificationsResponse:
        with unavailable_when_database_is_down():
            firings, token = await list_firings(
                self._pool,
                owner_of(request.owner),
                request.rule_id,
                request.page_size,
                request.page_token,
            )
        return pb.ListNotificationsResponse(
            firings=[codec.firing_record_to_pb(f) for f in firings], next_page_token=token
        )

    async def RuleHistory(
        self, request: pb.RuleHistoryRequest, context: grpc.aio.ServicerContext
    ) -> pb.RuleHistoryResponse:
        query = HistoryQuery(
            symbol=request.symbol,
            venue=request.venue,
            condition=request.condition,
            interval=request.interval,
            from_ms=request.from_ms,
            to_ms=request.to_ms,
        )
        firings = await rule_history(self._storage, query)
        condition = request.condition.strip()
        return pb.RuleHistoryResponse(
            firings=[codec.history_firing_to_pb(f, condition) for f in firings]
        )

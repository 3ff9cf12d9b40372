from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChannelKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_KIND_UNSPECIFIED: _ClassVar[ChannelKind]
    CHANNEL_KIND_TELEGRAM: _ClassVar[ChannelKind]
    CHANNEL_KIND_DISCORD: _ClassVar[ChannelKind]
    CHANNEL_KIND_EMAIL: _ClassVar[ChannelKind]
    CHANNEL_KIND_WEBHOOK: _ClassVar[ChannelKind]

class RuleMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_MODE_UNSPECIFIED: _ClassVar[RuleMode]
    RULE_MODE_ONCE: _ClassVar[RuleMode]
    RULE_MODE_RECURRING: _ClassVar[RuleMode]

class RuleState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_STATE_UNSPECIFIED: _ClassVar[RuleState]
    RULE_STATE_ARMED: _ClassVar[RuleState]
    RULE_STATE_DISARMED: _ClassVar[RuleState]
    RULE_STATE_PAUSED: _ClassVar[RuleState]
    RULE_STATE_FINISHED: _ClassVar[RuleState]
    RULE_STATE_EXPIRED: _ClassVar[RuleState]

class DeliveryStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERY_STATUS_UNSPECIFIED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_PENDING: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_DELIVERED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_FAILED: _ClassVar[DeliveryStatus]
CHANNEL_KIND_UNSPECIFIED: ChannelKind
CHANNEL_KIND_TELEGRAM: ChannelKind
CHANNEL_KIND_DISCORD: ChannelKind
CHANNEL_KIND_EMAIL: ChannelKind
CHANNEL_KIND_WEBHOOK: ChannelKind
RULE_MODE_UNSPECIFIED: RuleMode
RULE_MODE_ONCE: RuleMode
RULE_MODE_RECURRING: RuleMode
RULE_STATE_UNSPECIFIED: RuleState
RULE_STATE_ARMED: RuleState
RULE_STATE_DISARMED: RuleState
RULE_STATE_PAUSED: RuleState
RULE_STATE_FINISHED: RuleState
RULE_STATE_EXPIRED: RuleState
DELIVERY_STATUS_UNSPECIFIED: DeliveryStatus
DELIVERY_STATUS_PENDING: DeliveryStatus
DELIVERY_STATUS_DELIVERED: DeliveryStatus
DELIVERY_STATUS_FAILED: DeliveryStatus

class Channel(_message.Message):
    __slots__ = ("id", "kind", "name", "target", "has_secret", "created_ms", "owner")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    HAS_SECRET_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: ChannelKind
    name: str
    target: str
    has_secret: bool
    created_ms: int
    owner: str
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[ChannelKind, str]] = ..., name: _Optional[str] = ..., target: _Optional[str] = ..., has_secret: _Optional[bool] = ..., created_ms: _Optional[int] = ..., owner: _Optional[str] = ...) -> None: ...

class CreateChannelRequest(_message.Message):
    __slots__ = ("kind", "name", "target", "secret", "owner")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    kind: ChannelKind
    name: str
    target: str
    secret: str
    owner: str
    def __init__(self, kind: _Optional[_Union[ChannelKind, str]] = ..., name: _Optional[str] = ..., target: _Optional[str] = ..., secret: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class CreateChannelResponse(_message.Message):
    __slots__ = ("channel",)
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    channel: Channel
    def __init__(self, channel: _Optional[_Union[Channel, _Mapping]] = ...) -> None: ...

class ListChannelsRequest(_message.Message):
    __slots__ = ("owner",)
    OWNER_FIELD_NUMBER: _ClassVar[int]
    owner: str
    def __init__(self, owner: _Optional[str] = ...) -> None: ...

class ListChannelsResponse(_message.Message):
    __slots__ = ("channels",)
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    channels: _containers.RepeatedCompositeFieldContainer[Channel]
    def __init__(self, channels: _Optional[_Iterable[_Union[Channel, _Mapping]]] = ...) -> None: ...

class DeleteChannelRequest(_message.Message):
    __slots__ = ("id", "owner")
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    id: str
    owner: str
    def __init__(self, id: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class DeleteChannelResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...

class SendTestNotificationRequest(_message.Message):
    __slots__ = ("channel_id", "owner")
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    channel_id: str
    owner: str
    def __init__(self, channel_id: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class SendTestNotificationResponse(_message.Message):
    __slots__ = ("status", "reason", "attempts")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    status: DeliveryStatus
    reason: str
    attempts: int
    def __init__(self, status: _Optional[_Union[DeliveryStatus, str]] = ..., reason: _Optional[str] = ..., attempts: _Optional[int] = ...) -> None: ...

class Rule(_message.Message):
    __slots__ = ("id", "symbol", "venue", "condition", "interval", "mode", "cooldown_seconds", "rearm", "expires_ms", "channel_ids", "state", "created_ms", "updated_ms", "fired_count", "last_fired_ms", "owner")
    ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REARM_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_MS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_IDS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_MS_FIELD_NUMBER: _ClassVar[int]
    FIRED_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_FIRED_MS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    id: str
    symbol: str
    venue: str
    condition: str
    interval: str
    mode: RuleMode
    cooldown_seconds: int
    rearm: float
    expires_ms: int
    channel_ids: _containers.RepeatedScalarFieldContainer[str]
    state: RuleState
    created_ms: int
    updated_ms: int
    fired_count: int
    last_fired_ms: int
    owner: str
    def __init__(self, id: _Optional[str] = ..., symbol: _Optional[str] = ..., venue: _Optional[str] = ..., condition: _Optional[str] = ..., interval: _Optional[str] = ..., mode: _Optional[_Union[RuleMode, str]] = ..., cooldown_seconds: _Optional[int] = ..., rearm: _Optional[float] = ..., expires_ms: _Optional[int] = ..., channel_ids: _Optional[_Iterable[str]] = ..., state: _Optional[_Union[RuleState, str]] = ..., created_ms: _Optional[int] = ..., updated_ms: _Optional[int] = ..., fired_count: _Optional[int] = ..., last_fired_ms: _Optional[int] = ..., owner: _Optional[str] = ...) -> None: ...

class RuleInput(_message.Message):
    __slots__ = ("symbol", "venue", "condition", "interval", "mode", "cooldown_seconds", "rearm", "expires_ms", "channel_ids")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REARM_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_MS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_IDS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    venue: str
    condition: str
    interval: str
    mode: RuleMode
    cooldown_seconds: int
    rearm: float
    expires_ms: int
    channel_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, symbol: _Optional[str] = ..., venue: _Optional[str] = ..., condition: _Optional[str] = ..., interval: _Optional[str] = ..., mode: _Optional[_Union[RuleMode, str]] = ..., cooldown_seconds: _Optional[int] = ..., rearm: _Optional[float] = ..., expires_ms: _Optional[int] = ..., channel_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateRuleRequest(_message.Message):
    __slots__ = ("input", "owner")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    input: RuleInput
    owner: str
    def __init__(self, input: _Optional[_Union[RuleInput, _Mapping]] = ..., owner: _Optional[str] = ...) -> None: ...

class CreateRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: Rule
    def __init__(self, rule: _Optional[_Union[Rule, _Mapping]] = ...) -> None: ...

class ListRulesRequest(_message.Message):
    __slots__ = ("owner", "symbol")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    owner: str
    symbol: str
    def __init__(self, owner: _Optional[str] = ..., symbol: _Optional[str] = ...) -> None: ...

class ListRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[Rule]
    def __init__(self, rules: _Optional[_Iterable[_Union[Rule, _Mapping]]] = ...) -> None: ...

class GetRuleRequest(_message.Message):
    __slots__ = ("id", "owner")
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    id: str
    owner: str
    def __init__(self, id: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class GetRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: Rule
    def __init__(self, rule: _Optional[_Union[Rule, _Mapping]] = ...) -> None: ...

class UpdateRuleRequest(_message.Message):
    __slots__ = ("id", "owner", "input")
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    id: str
    owner: str
    input: RuleInput
    def __init__(self, id: _Optional[str] = ..., owner: _Optional[str] = ..., input: _Optional[_Union[RuleInput, _Mapping]] = ...) -> None: ...

class UpdateRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: Rule
    def __init__(self, rule: _Optional[_Union[Rule, _Mapping]] = ...) -> None: ...

class PauseRuleRequest(_message.Message):
    __slots__ = ("id", "owner")
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    id: str
    owner: str
    def __init__(self, id: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class PauseRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: Rule
    def __init__(self, rule: _Optional[_Union[Rule, _Mapping]] = ...) -> None: ...

class ResumeRuleRequest(_message.Message):
    __slots__ = ("id", "owner")
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    id: str
    owner: str
    def __init__(self, id: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class ResumeRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: Rule
    def __init__(self, rule: _Optional[_Union[Rule, _Mapping]] = ...) -> None: ...

class DeleteRuleRequest(_message.Message):
    __slots__ = ("id", "owner")
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    id: str
    owner: str
    def __init__(self, id: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class DeleteRuleResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("number", "started_ms", "finished_ms", "outcome", "detail")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    STARTED_MS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_MS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    number: int
    started_ms: int
    finished_ms: int
    outcome: str
    detail: str
    def __init__(self, number: _Optional[int] = ..., started_ms: _Optional[int] = ..., finished_ms: _Optional[int] = ..., outcome: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class Delivery(_message.Message):
    __slots__ = ("id", "channel_id", "channel_kind", "channel_name", "status", "reason", "idempotency_key", "possible_duplicate", "attempts", "delivered_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_KIND_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    POSSIBLE_DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    channel_id: str
    channel_kind: ChannelKind
    channel_name: str
    status: DeliveryStatus
    reason: str
    idempotency_key: str
    possible_duplicate: bool
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    delivered_ms: int
    def __init__(self, id: _Optional[str] = ..., channel_id: _Optional[str] = ..., channel_kind: _Optional[_Union[ChannelKind, str]] = ..., channel_name: _Optional[str] = ..., status: _Optional[_Union[DeliveryStatus, str]] = ..., reason: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., possible_duplicate: _Optional[bool] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ..., delivered_ms: _Optional[int] = ...) -> None: ...

class Firing(_message.Message):
    __slots__ = ("id", "rule_id", "symbol", "time_ms", "price", "trade_id", "value", "condition", "recorded_ms", "deliveries", "candle_open_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    RECORDED_MS_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    CANDLE_OPEN_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    rule_id: str
    symbol: str
    time_ms: int
    price: str
    trade_id: int
    value: float
    condition: str
    recorded_ms: int
    deliveries: _containers.RepeatedCompositeFieldContainer[Delivery]
    candle_open_ms: int
    def __init__(self, id: _Optional[str] = ..., rule_id: _Optional[str] = ..., symbol: _Optional[str] = ..., time_ms: _Optional[int] = ..., price: _Optional[str] = ..., trade_id: _Optional[int] = ..., value: _Optional[float] = ..., condition: _Optional[str] = ..., recorded_ms: _Optional[int] = ..., deliveries: _Optional[_Iterable[_Union[Delivery, _Mapping]]] = ..., candle_open_ms: _Optional[int] = ...) -> None: ...

class ListNotificationsRequest(_message.Message):
    __slots__ = ("owner", "rule_id", "page_size", "page_token")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    owner: str
    rule_id: str
    page_size: int
    page_token: str
    def __init__(self, owner: _Optional[str] = ..., rule_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListNotificationsResponse(_message.Message):
    __slots__ = ("firings", "next_page_token")
    FIRINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    firings: _containers.RepeatedCompositeFieldContainer[Firing]
    next_page_token: str
    def __init__(self, firings: _Optional[_Iterable[_Union[Firing, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RuleHistoryRequest(_message.Message):
    __slots__ = ("symbol", "venue", "condition", "interval", "from_ms", "to_ms")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    FROM_MS_FIELD_NUMBER: _ClassVar[int]
    TO_MS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    venue: str
    condition: str
    interval: str
    from_ms: int
    to_ms: int
    def __init__(self, symbol: _Optional[str] = ..., venue: _Optional[str] = ..., condition: _Optional[str] = ..., interval: _Optional[str] = ..., from_ms: _Optional[int] = ..., to_ms: _Optional[int] = ...) -> None: ...

class RuleHistoryResponse(_message.Message):
    __slots__ = ("firings",)
    FIRINGS_FIELD_NUMBER: _ClassVar[int]
    firings: _containers.RepeatedCompositeFieldContainer[Firing]
    def __init__(self, firings: _Optional[_Iterable[_Union[Firing, _Mapping]]] = ...) -> None: ...

"""One frozen settings object, read once from ``QUANTFLOW_*`` environment variables.

Unset ``QUANTFLOW_DATABASE_URL`` / ``QUANTFLOW_NATS_URL`` mean: start embedded servers
under ``QUANTFLOW_DATA_DIR``. The same names are the Helm chart's ConfigMap keys.

A ``QUANTFLOW_*`` variable that names no setting stops the process (a typo would otherwise
be ignored silently), except under ``QUANTFLOW_TEST_``, which test harnesses own.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from services.common import names
from services.common.auth.modes import AuthMode
from services.common.errors import InvalidArgument
from services.common.symbols import parse_symbol

DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT")
DEFAULT_STREAMS = ("trade", "aggTrade", "kline_1m")
BINANCE_WS_URL = "wss://stream.binance.com:9443"
BINANCE_REST_URL = "https://api.binance.com"
ENV_PREFIX = "QUANTFLOW_"
HARNESS_PREFIX = "QUANTFLOW_TEST_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def env_name(field: str) -> str:
    """The environment variable of a settings field: ``source`` → ``QUANTFLOW_SOURCE``."""
    return ENV_PREFIX + field.upper()


def unknown_variable(key: str, fields: Iterable[str]) -> str | None:
    """Why ``key`` is not a setting (naming the closest one), or None if it is one or is
    not ours."""
    key = key.upper()
    if not key.startswith(ENV_PREFIX) or key.startswith(HARNESS_PREFIX):
        return None
    known = [env_name(field) for field in fields]
    if key in known:
        return None
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]}?" if close else "see Configuration in the README"
    return f"{key} is not a QuantFlow setting; {hint}"


class Settings(BaseSettings):
    """Every knob of every service; each service reads the ones it needs."""

    model_config = SettingsConfigDict(env_prefix="QUANTFLOW_", frozen=True, extra="forbid")

    # Infrastructure.
    database_url: SecretStr | None = None
    nats_url: str | None = None
    data_dir: Path = Path(".quantflow")
    namespace: str = ""
    log_level: str = "INFO"
    # A directory of files named like the variables (QUANTFLOW_DATABASE_URL …), each holding
    # one value: Kubernetes Secrets mounted as files. A variable set in the environment wins.
    secrets_dir: Path | None = None

    # Ingest.
    symbols: Annotated[tuple[str, ...], NoDecode] = DEFAULT_SYMBOLS
    # Ingest replicas split the symbols: replica SHARD_INDEX of SHARD_COUNT captures
    # shard_symbols() (the Helm chart's StatefulSet sets the index from the pod's ordinal).
    shard_index: int = Field(default=0, ge=0)
    shard_count: int = Field(default=1, ge=1, le=1024)
    # Binance stream kinds subscribed live for every symbol, spelled as Binance does.
    streams: Annotated[tuple[str, ...], NoDecode] = DEFAULT_STREAMS
    source: str = "binance"
    # "auto": each replayed message's fields tell spot from USDⓈ-M futures.
    venue: str = "auto"
    replay_speed: float = Field(default=0.0, ge=0.0)
    replay_loop: bool = False
    binance_ws_url: str = BINANCE_WS_URL
    # REST, for backfilling gaps and `quantflow backfill`.
    binance_rest_url: str = BINANCE_REST_URL
    market_max_age_hours: float = Field(default=24.0, gt=0)

    # Binance connection rules: replace each connection this long after it opened (before
    # Binance's 24-hour cut), and when a trade-like stream sends nothing for this long.
    binance_rotate_after_s: float = Field(default=23 * 3600.0, gt=0, le=24 * 3600.0)
    binance_stall_timeout_s: float = Field(default=60.0, gt=0)

    # Storage.
    storage_batch_size: int = Field(default=2000, ge=1, le=50_000)
    # A batch not acked this long after delivery (its storage died) is delivered again.
    storage_ack_wait_s: float = Field(default=30.0, ge=1.0)
    storage_target: str = "127.0.0.1:7101"
    # How long each kind is kept, e.g. "trade=7d,aggtrade=30d,kline_1m=365d" (unnamed
    # kinds: forever); checked and applied by storage (services/storage/retention.py).
    retention: str = ""
    retention_every_s: float = Field(default=3600.0, gt=0)
    retention_batch_size: int = Field(default=10_000, ge=1, le=1_000_000)
    # Where graph reaches ingest (run-time subscriptions).
    ingest_target: str = "127.0.0.1:7102"
    # Where graph and the CLI reach the backtest service.
    backtest_target: str = "127.0.0.1:7104"
    # A job whose worker sent no sign of life this long goes to another worker (a live one
    # signals every quarter of it); a job whose workers died this often is FAILED.
    backtest_job_ack_wait_s: float = Field(default=30.0, ge=1.0)
    backtest_job_max_attempts: int = Field(default=3, ge=1, le=100)

    # Where graph reaches the alerts service.
    alerts_target: str = "127.0.0.1:7105"
    # Alerts: the SMTP server email notifications go through.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str = "quantflow@localhost"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    # The Telegram Bot API (tests point it at a local fake).
    telegram_api_url: str = "https://api.telegram.org"
    # Alerts delivery: a send refused with a 5xx or lost to a network fault is retried after
    # this delay, doubling each time (up to 5 minutes), for at most this many sends in all
    # (rate limits wait as long as the service says instead). The delivery worker looks at
    # the outbox at least this often; a firing's NOTIFY wakes it at once.
    alerts_retry_base_s: float = Field(default=1.0, gt=0, le=300.0)
    alerts_retry_max_attempts: int = Field(default=10, ge=1, le=1000)
    alerts_delivery_poll_s: float = Field(default=1.0, gt=0, le=60.0)

    # Auth (README "Auth"): "required", or "local" where tokenless requests act as the local
    # admin; a graph listening beyond loopback always requires it (services/common/auth/modes.py).
    auth: AuthMode = AuthMode.LOCAL
    # Ed25519 signing keys, <kid>.pem; default <data_dir>/auth/jwt-keys, where the laptop
    # stack generates one on first start. The newest kid signs; every key present verifies.
    auth_keys_dir: Path | None = None
    auth_issuer: str = "quantflow"
    auth_audience: str = "quantflow-graph"
    auth_access_ttl_s: float = Field(default=900.0, ge=10.0, le=86_400.0)
    auth_refresh_ttl_s: float = Field(default=30 * 86_400.0, ge=60.0)
    # Per-client rate limit in query-cost units (graph/limits.py): a burst, then a steady rate.
    rate_limit_burst: float = Field(default=3_000.0, ge=1.0)
    rate_limit_per_s: float = Field(default=100.0, gt=0.0)
    # Where auth is required, introspection and field suggestions are off unless this is set
    # (GraphiQL's schema explorer needs introspection).
    introspection: bool = False
    # The shared secret every gRPC call between services carries; unset: no check.
    service_token: SecretStr | None = None

    # Network: where this process listens.
    grpc_host: str = "127.0.0.1"
    storage_grpc_port: int = Field(default=7101, ge=0, le=65535)
    ingest_grpc_port: int = Field(default=7102, ge=0, le=65535)
    graph_grpc_port: int = Field(default=7103, ge=0, le=65535)
    backtest_grpc_port: int = Field(default=7104, ge=0, le=65535)
    alerts_grpc_port: int = Field(default=7105, ge=0, le=65535)
    storage_metrics_port: int = Field(default=9101, ge=0, le=65535)
    ingest_metrics_port: int = Field(default=9102, ge=0, le=65535)
    backtest_metrics_port: int = Field(default=9104, ge=0, le=65535)
    alerts_metrics_port: int = Field(default=9105, ge=0, le=65535)
    graph_host: str = "127.0.0.1"
    graph_port: int = Field(default=8000, ge=0, le=65535)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then files in ``QUANTFLOW_SECRETS_DIR``."""
        directory = os.environ.get(env_name("secrets_dir"))
        if not directory:
            return init_settings, env_settings
        if not Path(directory).is_dir():
            raise ValueError(f"{env_name('secrets_dir')}: {directory} is not a directory")
        files = SecretsSettingsSource(settings_cls, secrets_dir=directory, case_sensitive=False)
        return init_settings, env_settings, files

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_variables(cls, values: Any) -> Any:
        for key in sorted(os.environ):
            problem = unknown_variable(key, cls.model_fields)
            if problem:
                raise ValueError(problem)
        return values

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.replace(" ", ",").split(",") if part]
        if isinstance(value, list | tuple):
            try:
                symbols = tuple(parse_symbol(str(s)) for s in value)
            except InvalidArgument as error:
                raise ValueError(str(error)) from None
            if not symbols:
                raise ValueError("give at least one symbol, e.g. BTCUSDT")
            return symbols
        return value

    @field_validator("streams", mode="before")
    @classmethod
    def _split_streams(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.replace(" ", ",").split(",") if part]
        if isinstance(value, list | tuple):
            for stream in value:
                names.stream_kind(str(stream))  # ValueError naming the supported streams
            if not value:
                raise ValueError("give at least one stream, e.g. trade")
            return tuple(dict.fromkeys(str(stream) for stream in value))
        return value

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, value: str) -> str:
        names.market_stream(value)  # raises ValueError naming the rule
        return value

    @field_validator("source")
    @classmethod
    def _check_source(cls, value: str) -> str:
        if value in ("binance", "demo") or (value.startswith("replay:") and len(value) > 7):
            return value
        raise ValueError("use 'binance', 'demo' or 'replay:<path>'")

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.upper() in LOG_LEVELS:
            return value.upper()
        raise ValueError(f"use one of {', '.join(LOG_LEVELS)}")

    @field_validator("venue")
    @classmethod
    def _check_venue(cls, value: str, info: ValidationInfo) -> str:
        if value != "auto" and value not in names.VENUES:
            raise ValueError(f"use 'auto' or one of {', '.join(names.VENUES)}")
        source = info.data.get("source", "")
        if value not in ("auto", names.VENUE_BINANCE) and not source.startswith("replay:"):
            raise ValueError(
                f"{value} can be forced on replay:<path> only; live and demo trades are "
                "labelled by their own fields"
            )
        return value

    @model_validator(mode="after")
    def _check_shard(self) -> Settings:
        if self.shard_index >= self.shard_count:
            raise ValueError(
                f"QUANTFLOW_SHARD_INDEX ({self.shard_index}) must be below "
                f"QUANTFLOW_SHARD_COUNT ({self.shard_count})"
            )
        if self.shard_count > 1 and self.source != "binance":
            raise ValueError(
                "QUANTFLOW_SHARD_COUNT above 1 splits live symbols; a replay or the demo "
                "runs as one ingest (QUANTFLOW_SHARD_COUNT=1)"
            )
        if self.shard_count > len(set(self.symbols)):
            raise ValueError(
                f"QUANTFLOW_SHARD_COUNT ({self.shard_count}) is more than the "
                f"{len(set(self.symbols))} symbols of QUANTFLOW_SYMBOLS: a shard would have none"
            )
        return self

    def shard_symbols(self) -> tuple[str, ...]:
        """The symbols this ingest replica captures: every ``shard_count``-th of the sorted
        symbols, from ``shard_index``. The replicas together cover each symbol exactly once
        (all of them read the same ``QUANTFLOW_SYMBOLS``)."""
        return tuple(sorted(set(self.symbols))[self.shard_index :: self.shard_count])

    def jwt_keys_dir(self) -> Path:
        return self.auth_keys_dir or self.data_dir / "auth" / "jwt-keys"

    def database_dsn(self) -> str | None:
        return self.database_url.get_secret_value() if self.database_url else None


def describe_invalid(error: ValidationError, flags: Mapping[str, str]) -> str:
    """The problems in ``error`` on one line, each value named once: by the command-line
    flag it came from (``flags`` maps field → flag), else by its environment variable."""
    problems = []
    for problem in error.errors(include_url=False):
        ctx = problem.get("ctx", {})
        message = str(ctx["error"]) if problem["type"] == "value_error" else problem["msg"]
        if not problem["loc"]:
            problems.append(message)
            continue
        field = str(problem["loc"][0])
        problems.append(f"{flags.get(field, env_name(field))}: {message}")
    return "; ".join(problems)


def mask_password(url: str) -> str:
    """``url`` with its password, if any, shown as ``***`` (for logs and banners)."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    if ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}://{credentials}@{host}"

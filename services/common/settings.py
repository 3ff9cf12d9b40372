"""One frozen settings object, read once from ``QUANTFLOW_*`` environment variables.

Unset ``QUANTFLOW_DATABASE_URL`` / ``QUANTFLOW_NATS_URL`` mean: start embedded servers
under ``QUANTFLOW_DATA_DIR``. The same names are the Helm chart's ConfigMap keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.common import names
from services.common.errors import InvalidArgument
from services.common.symbols import parse_symbol

DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT")
BINANCE_WS_URL = "wss://stream.binance.com:9443"


class Settings(BaseSettings):
    """Every knob of every service; each service reads the ones it needs."""

    model_config = SettingsConfigDict(env_prefix="QUANTFLOW_", frozen=True, extra="forbid")

    # Infrastructure.
    database_url: SecretStr | None = None
    nats_url: str | None = None
    data_dir: Path = Path(".quantflow")
    namespace: str = ""
    log_level: str = "INFO"

    # Ingest.
    symbols: Annotated[tuple[str, ...], NoDecode] = DEFAULT_SYMBOLS
    source: str = "binance"
    replay_speed: float = Field(default=0.0, ge=0.0)
    replay_loop: bool = False
    binance_ws_url: str = BINANCE_WS_URL
    market_max_age_hours: float = Field(default=24.0, gt=0)

    # Storage.
    storage_batch_size: int = Field(default=2000, ge=1, le=50_000)
    # A batch not acked this long after delivery (its storage died) is delivered again.
    storage_ack_wait_s: float = Field(default=30.0, ge=1.0)
    storage_target: str = "127.0.0.1:7101"

    # Network: where this process listens.
    grpc_host: str = "127.0.0.1"
    storage_grpc_port: int = Field(default=7101, ge=0, le=65535)
    ingest_grpc_port: int = Field(default=7102, ge=0, le=65535)
    graph_grpc_port: int = Field(default=7103, ge=0, le=65535)
    storage_metrics_port: int = Field(default=9101, ge=0, le=65535)
    ingest_metrics_port: int = Field(default=9102, ge=0, le=65535)
    graph_host: str = "127.0.0.1"
    graph_port: int = Field(default=8000, ge=0, le=65535)

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.replace(" ", ",").split(",") if part]
        if isinstance(value, list | tuple):
            try:
                symbols = tuple(parse_symbol(str(s)) for s in value)
            except InvalidArgument as error:
                raise ValueError(f"QUANTFLOW_SYMBOLS: {error}") from None
            if not symbols:
                raise ValueError("QUANTFLOW_SYMBOLS: give at least one symbol, e.g. BTCUSDT")
            return symbols
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
        raise ValueError("QUANTFLOW_SOURCE: use 'binance', 'demo' or 'replay:<path>'")

    def database_dsn(self) -> str | None:
        return self.database_url.get_secret_value() if self.database_url else None

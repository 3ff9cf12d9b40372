"""Auth end to end over HTTP and WebSocket on loopback: the graph in required mode against
real storage and backtest services, users added as `quantflow user add` adds them."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from graph import service as graph_service
from services.backtest import service as backtest_service
from services.cli.users import add_user
from services.common.auth.tokens import TokenPolicy, issue_access_token, load_key_ring
from services.common.settings import Settings
from services.storage import service as storage_service
from tests.integration.graph_helpers import error_codes, gateway
from tests.integration.helpers import running, service_settings

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
RANGE = (
    'symbol: "BTCUSDT", venue: "binance_usdm", interval: "1m", '
    'from: "2022-04-08T00:00:00Z", to: "2022-04-09T00:00:00Z", strategy: "sma_cross"'
)


@dataclass
class Api:
    settings: Settings

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.graph_port}/graphql"

    async def post(self, query: str, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient() as client:
            return await client.post(url=self.url, json={"query": query}, headers=headers)

    async def ask(self, query: str, token: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = (await self.post(query, token)).json()
        return body

    async def data(self, query: str, token: str | None = None) -> dict[str, Any]:
        answer = await self.ask(query, token)
        assert "errors" not in answer, answer
        result: dict[str, Any] = answer["data"]
        return result

    async def login(self, name: str, password: str = PASSWORD) -> dict[str, Any]:
        document = (
            f'mutation {{ login(username: "{name}", password: "{password}") '
            "{ accessToken refreshToken expiresAt tokenType user { name admin } } }"
        )
        login: dict[str, Any] = (await self.data(document))["login"]
        return login


def _settings(
    database_url: str, nats_url: str, namespace: str, keys: Path, **extra: Any
) -> Settings:
    return service_settings(
        database_url, nats_url, namespace, auth="required", auth_keys_dir=keys, **extra
    )


@pytest_asyncio.fixture
async def api(
    database_url: str, nats_url: str, namespace: str, tmp_path: Path
) -> AsyncIterator[Api]:
    keys = tmp_path / "keys"
    load_key_ring(keys, create=True, now=datetime.now(UTC))  # what the chart mounts
    settings = _settings(database_url, nats_url, namespace, keys)
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        running(backtest_service.run, settings, settings.backtest_grpc_port),
    ):
        await add_user(settings, "alice", PASSWORD, admin=False)
        await add_user(settings, "bob", PASSWORD, admin=False)
        await add_user(settings, "root", PASSWORD, admin=True)
        async with gateway(settings):
            yield Api(settings)


async def test_login_then_the_token_answers_queries_as_that_user(api: Api) -> None:
    login = await api.login("alice")
    assert login["tokenType"] == "Bearer"
    assert login["user"] == {"name": "alice", "admin": False}
    me = await api.data("{ me { name admin } }", login["accessToken"])
    assert me["me"] == {"name": "alice", "admin": False}


async def test_without_a_token_every_query_is_unauthenticated(api: Api) -> None:
    for document in ("{ me { name } }", "{ prices { symbol } }", "{ jobs { edges { cursor } } }"):
        answer = await api.ask(document)
        assert error_codes(answer) == ["UNAUTHENTICATED"]
        assert answer["data"] is None


async def test_wrong_password_and_unknown_user_are_refused_alike(api: Api) -> None:
    wrong = await api.ask(
        'mutation { login(username: "alice", password: "nope-nope") { accessToken } }'
    )
    unknown = await api.ask(
        'mutation { login(username: "zed", password: "nope-nope") { accessToken } }'
    )
    assert error_codes(wrong) == error_codes(unknown) == ["UNAUTHENTICATED"]
    assert wrong["errors"][0]["message"] == unknown["errors"][0]["message"]


async def test_refresh_token_works_once_and_a_replay_revokes_the_new_one_too(api: Api) -> None:
    first = await api.login("alice")
    document = 'mutation {{ refreshToken(refreshToken: "{}") {{ accessToken refreshToken }} }}'
    second = (await api.data(document.format(first["refreshToken"])))["refreshToken"]
    assert (await api.data("{ me { name } }", second["accessToken"]))["me"]["name"] == "alice"
    replay = await api.ask(document.format(first["refreshToken"]))
    assert error_codes(replay) == ["UNAUTHENTICATED"]
    # The replay looked like theft: the pair issued from the first token is revoked as well.
    assert error_codes(await api.ask(document.format(second["refreshToken"]))) == [
        "UNAUTHENTICATED"
    ]


def _b64(part: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


async def test_forged_expired_and_misaddressed_tokens_are_refused_over_http(api: Api) -> None:
    settings = api.settings
    ring = load_key_ring(settings.jwt_keys_dir(), create=False, now=datetime.now(UTC))
    policy = TokenPolicy(settings.auth_issuer, settings.auth_audience, settings.auth_access_ttl_s)
    now = datetime.now(UTC)
    claims = {
        "iss": "quantflow",
        "aud": "quantflow-graph",
        "sub": "root",
        "admin": True,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 600,
    }
    kid = ring.signing_kid
    tokens = {
        "alg none": f"{_b64({'alg': 'none', 'kid': kid})}.{_b64(claims)}.",
        "expired": issue_access_token(
            ring, policy, "root", admin=True, now=now - timedelta(hours=2)
        ),
        "wrong audience": issue_access_token(
            ring, TokenPolicy("quantflow", "elsewhere", 600), "root", admin=True, now=now
        ),
        "wrong issuer": issue_access_token(
            ring, TokenPolicy("evil", "quantflow-graph", 600), "root", admin=True, now=now
        ),
        "tampered": ".".join(
            [
                *issue_access_token(ring, policy, "bob", admin=False, now=now).split(".")[:1],
                _b64(claims),
                issue_access_token(ring, policy, "bob", admin=False, now=now).split(".")[2],
            ]
        ),
        "garbage": "not-a-token",
        "unknown API key": "qf_0123456789ab_secret",
    }
    for why, token in tokens.items():
        answer = await api.ask("{ me { name } }", token)
        assert error_codes(answer) == ["UNAUTHENTICATED"], why
    # A stale token left in the headers does not stop logging in again.
    relogin = await api.post(
        f'mutation {{ login(username: "alice", password: "{PASSWORD}") {{ user {{ name }} }} }}',
        tokens["expired"],
    )
    assert relogin.json()["data"]["login"]["user"]["name"] == "alice"
    good = issue_access_token(ring, policy, "root", admin=True, now=now)
    assert (await api.data("{ me { name } }", good))["me"]["name"] == "root"


async def test_api_key_works_until_its_owner_revokes_it_and_nobody_else_can(api: Api) -> None:
    alice = (await api.login("alice"))["accessToken"]
    bob = (await api.login("bob"))["accessToken"]
    created = (
        await api.data('mutation { createApiKey(name: "bot") { key apiKey { id name } } }', alice)
    )["createApiKey"]
    key, key_id = created["key"], created["apiKey"]["id"]
    assert (await api.data("{ me { name } }", key))["me"]["name"] == "alice"
    assert [k["id"] for k in (await api.data("{ apiKeys { id } }", alice))["apiKeys"]] == [key_id]
    assert (await api.data("{ apiKeys { id } }", bob))["apiKeys"] == []

    revoke = f'mutation {{ revokeApiKey(id: "{key_id}") {{ id revokedAt }} }}'
    assert error_codes(await api.ask(revoke, bob)) == ["NOT_FOUND"]
    assert (await api.data("{ me { name } }", key))["me"]["name"] == "alice"
    assert (await api.data(revoke, alice))["revokeApiKey"]["revokedAt"] is not None
    assert error_codes(await api.ask("{ me { name } }", key)) == ["UNAUTHENTICATED"]


async def test_one_user_cannot_see_or_cancel_anothers_jobs(api: Api) -> None:
    alice = (await api.login("alice"))["accessToken"]
    bob = (await api.login("bob"))["accessToken"]
    job = (await api.data(f"mutation {{ submitBacktest(input: {{{RANGE}}}) {{ id }} }}", alice))[
        "submitBacktest"
    ]
    listing = "{ jobs { edges { node { id } } } }"
    assert [e["node"]["id"] for e in (await api.data(listing, alice))["jobs"]["edges"]] == [
        job["id"]
    ]
    assert (await api.data(listing, bob))["jobs"]["edges"] == []
    assert error_codes(await api.ask(f'{{ job(id: "{job["id"]}") {{ id }} }}', bob)) == [
        "NOT_FOUND"
    ]
    cancel = f'mutation {{ cancelJob(id: "{job["id"]}") {{ id }} }}'
    assert error_codes(await api.ask(cancel, bob)) == ["NOT_FOUND"]
    assert (await api.data(f'{{ job(id: "{job["id"]}") {{ id }} }}', alice))["job"]["id"] == job[
        "id"
    ]


async def test_admin_operations_are_forbidden_to_users(api: Api) -> None:
    bob = (await api.login("bob"))["accessToken"]
    root = (await api.login("root"))["accessToken"]
    subscribe = (
        'mutation { subscribeMarketData(symbols: ["BTCUSDT"], streams: ["trade"]) { symbol } }'
    )
    add = f'mutation {{ createUser(name: "carol", password: "{PASSWORD}") {{ name admin }} }}'
    assert error_codes(await api.ask(subscribe, bob)) == ["FORBIDDEN"]
    assert error_codes(await api.ask(add, bob)) == ["FORBIDDEN"]
    assert (await api.data(add, root))["createUser"] == {"name": "carol", "admin": False}
    assert (await api.login("carol"))["user"]["name"] == "carol"
    # The admin passes the role check; this gateway runs without ingest, so ingest answers.
    assert error_codes(await api.ask(subscribe, root)) == ["UNAVAILABLE"]


async def test_introspection_and_field_suggestions_are_off_when_auth_is_required(
    api: Api,
) -> None:
    token = (await api.login("alice"))["accessToken"]
    introspection = await api.ask("{ __schema { types { name } } }", token)
    assert introspection.get("data") is None
    assert "introspection" in introspection["errors"][0]["message"].lower()
    typo = await api.ask("{ prics { symbol } }", token)
    assert "Did you mean" not in typo["errors"][0]["message"]


async def _ws_session(api: Api, payload: Mapping[str, object]) -> Any:
    ws_url = f"ws://127.0.0.1:{api.settings.graph_port}/graphql"
    socket = await connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")])
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    return socket


async def test_websocket_authenticates_in_connection_init(api: Api) -> None:
    alice = (await api.login("alice"))["accessToken"]
    job = (await api.data(f"mutation {{ submitBacktest(input: {{{RANGE}}}) {{ id }} }}", alice))[
        "submitBacktest"
    ]

    payloads: list[Mapping[str, object]] = [{}, {"Authorization": "Bearer forged.token.here"}]
    for payload in payloads:
        socket = await _ws_session(api, payload)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403

    socket = await _ws_session(api, {"Authorization": f"Bearer {alice}"})
    try:
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
        query = f'subscription {{ jobProgress(id: "{job["id"]}") {{ id state }} }}'
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        message = json.loads(await asyncio.wait_for(socket.recv(), 30))
        assert message["type"] == "next", message
        assert message["payload"]["data"]["jobProgress"]["id"] == job["id"]
    finally:
        await socket.close()


async def test_rate_limit_answers_rate_limited_with_retry_after(
    database_url: str, nats_url: str, namespace: str, tmp_path: Path
) -> None:
    settings = _settings(
        database_url,
        nats_url,
        namespace,
        tmp_path / "keys",
        rate_limit_burst=30.0,
        rate_limit_per_s=0.5,
    )
    load_key_ring(tmp_path / "keys", create=True, now=datetime.now(UTC))
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        await add_user(settings, "alice", PASSWORD, admin=False)
        await add_user(settings, "bob", PASSWORD, admin=False)
        async with gateway(settings):
            api = Api(settings)
            alice = (await api.login("alice"))["accessToken"]
            bob = (await api.login("bob"))["accessToken"]
            costly = "{ me { name admin } apiKeys { id name createdAt } }"  # 3 + 10 * 3 = 33
            first = await api.post(costly, alice)
            assert first.status_code == 200 and "errors" not in first.json()
            limited = await api.post(costly, alice)
            assert limited.status_code == 429
            assert int(limited.headers["Retry-After"]) >= 1
            assert error_codes(limited.json()) == ["RATE_LIMITED"]
            # Bob has a bucket of his own.
            assert "errors" not in (await api.post("{ me { name } }", bob)).json()


async def test_local_mode_acts_as_the_local_admin_without_a_token(
    database_url: str, nats_url: str, namespace: str, tmp_path: Path
) -> None:
    settings = service_settings(
        database_url, nats_url, namespace, auth="local", data_dir=tmp_path / "data"
    )
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        gateway(settings),
    ):
        api = Api(settings)
        assert (await api.data("{ me { name admin } }"))["me"] == {"name": "local", "admin": True}
        # The laptop stack generated its signing key on first start, under the data directory.
        assert list((tmp_path / "data" / "auth" / "jwt-keys").glob("*.pem"))
        # A token that is sent is still checked.
        assert error_codes(await api.ask("{ me { name } }", "forged")) == ["UNAUTHENTICATED"]


async def test_local_mode_is_not_rate_limited(
    database_url: str, nats_url: str, namespace: str, tmp_path: Path
) -> None:
    settings = service_settings(
        database_url,
        nats_url,
        namespace,
        auth="local",
        data_dir=tmp_path / "data",
        rate_limit_burst=5.0,
        rate_limit_per_s=0.01,
    )
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        gateway(settings),
    ):
        api = Api(settings)
        for _ in range(5):
            response = await api.post("{ me { name admin } }")
            assert response.status_code == 200 and "errors" not in response.json()


async def test_rest_routes_authenticate_and_scope_like_graphql(api: Api) -> None:
    alice = (await api.login("alice"))["accessToken"]
    bob = (await api.login("bob"))["accessToken"]
    job = (await api.data(f"mutation {{ submitBacktest(input: {{{RANGE}}}) {{ id }} }}", alice))[
        "submitBacktest"
    ]
    base = f"http://127.0.0.1:{api.settings.graph_port}"
    route = f"{base}/backtest/jobs/{job['id']}"
    async with httpx.AsyncClient() as client:
        nobody = await client.get(route)
        assert nobody.status_code == 401
        assert nobody.json()["error"]["code"] == "UNAUTHENTICATED"
        assert (await client.get(f"{base}/prices")).status_code == 401
        forged = await client.get(route, headers={"Authorization": "Bearer x.y.z"})
        assert forged.status_code == 401
        other = await client.get(route, headers={"Authorization": f"Bearer {bob}"})
        assert other.status_code == 404
        owner = await client.get(route, headers={"Authorization": f"Bearer {alice}"})
        assert owner.status_code == 200 and owner.json()["id"] == job["id"]


async def test_introspection_can_be_switched_back_on_where_auth_is_required(
    database_url: str, nats_url: str, namespace: str, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    load_key_ring(keys, create=True, now=datetime.now(UTC))
    settings = _settings(database_url, nats_url, namespace, keys, introspection=True)
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        await add_user(settings, "alice", PASSWORD, admin=False)
        async with gateway(settings):
            api = Api(settings)
            token = (await api.login("alice"))["accessToken"]
            types = (await api.data("{ __schema { types { name } } }", token))["__schema"]
            assert "AuthPayload" in {t["name"] for t in types["types"]}
            # Still no way in without a token.
            anonymous = await api.ask("{ __schema { types { name } } }")
            assert error_codes(anonymous) == ["UNAUTHENTICATED"]


async def test_a_configured_key_directory_without_keys_stops_the_graph_naming_it(
    database_url: str, nats_url: str, namespace: str, tmp_path: Path
) -> None:
    settings = _settings(database_url, nats_url, namespace, tmp_path / "empty")
    with pytest.raises(SystemExit, match="QUANTFLOW_AUTH_KEYS_DIR: no signing key"):
        await graph_service.run(settings, asyncio.Event())

"""Tokens through the API (issue 12, point 7): `tokens`, `createToken` (the secret shown once),
`revokeToken` (refused from the next request on; never the last admin token without
API_ADMIN_TOKEN), the audit log naming the token, and the last use recorded at most once a
minute, in the background, never waiting for SQLite's write lock."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from herald.app import AppState, create_app
from herald.logging import JsonFormatter, TextFormatter
from herald.settings import Settings
from models.token import ApiToken, Role, create_token, hash_token
from tests.support.api import GQL, error_of

STATS = "{ stats { mailings } }"
FIELDS = "id name role createdAt lastUsedAt revokedAt"
CREATE = f"""mutation($role: TokenRole!, $name: String!) {{
  createToken(role: $role, name: $name) {{ token apiToken {{ {FIELDS} }} }} }}"""
REVOKE = f"mutation($id: ID!) {{ revokeToken(id: $id) {{ {FIELDS} }} }}"
LIST = f"""query($first: Int, $after: String, $all: Boolean) {{
  tokens(first: $first, after: $after, includeRevoked: $all) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {FIELDS} }} }} }} }}"""
CREATE_CLIENT = 'mutation { createClient(input: {phone: "79160000001", timezone: "UTC"}) { id } }'


async def create(gql: GQL, role: str = "VIEWER", name: str = "dash") -> tuple[str, dict[str, Any]]:
    payload = (await gql.ok(CREATE, role=role, name=name))["createToken"]
    return payload["token"], payload["apiToken"]


async def test_create_token_shows_the_secret_once(gql: GQL, database: str) -> None:
    secret, token = await create(gql, name="  dash  ")
    assert secret.startswith("hrld_") and len(secret) > 40
    assert token["name"] == "dash" and token["role"] == "VIEWER"
    assert token["lastUsedAt"] is None and token["revokedAt"] is None
    assert datetime.fromisoformat(token["createdAt"]).tzinfo is not None
    row = await ApiToken.get(id=int(token["id"]))
    assert row.token_hash == hash_token(secret) and secret not in str(row.__dict__)
    assert (await gql.ok(STATS))["stats"] == {"mailings": 0}
    assert (await gql(STATS, token=secret))["data"] == {"stats": {"mailings": 0}}
    listed = await gql(LIST)
    assert secret not in json.dumps(listed)
    assert [e["node"]["id"] for e in listed["data"]["tokens"]["edges"]] == [token["id"]]


async def test_viewers_may_not_see_create_or_revoke_tokens(gql: GQL, database: str) -> None:
    viewer, token = await create(gql)
    assert error_of(await gql(LIST, token=viewer)) == {"code": "FORBIDDEN", "field": None}
    body = await gql(CREATE, token=viewer, role="ADMIN", name="mine")
    assert error_of(body)["code"] == "FORBIDDEN" and body["data"] is None
    body = await gql(REVOKE, token=viewer, id=token["id"])
    assert error_of(body)["code"] == "FORBIDDEN"
    assert await ApiToken.all().count() == 1 and await ApiToken.filter(revoked_at=None).count()


@pytest.mark.parametrize(
    "name,field",
    [("x" * 101, "name"), ("a\nb", "name"), ("\x00", "name"), ("tab\there", "name")],
)
async def test_bad_names_are_refused(gql: GQL, database: str, name: str, field: str) -> None:
    assert error_of(await gql(CREATE, role="ADMIN", name=name)) == {
        "code": "BAD_USER_INPUT",
        "field": field,
    }
    assert await ApiToken.all().count() == 0


async def test_tokens_pages_active_ones_and_counts_toward_the_cost(gql: GQL, database: str) -> None:
    ids = [(await create(gql, name=f"t{i}"))[1]["id"] for i in range(3)]
    await gql.ok(REVOKE, id=ids[1])
    first = (await gql(LIST, first=1))["data"]["tokens"]
    assert first["totalCount"] == 2 and first["pageInfo"]["hasNextPage"]  # API_ADMIN_TOKEN: no row
    rest = await gql(LIST, first=10, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in rest["data"]["tokens"]["edges"]] == [ids[2]]
    assert rest["extensions"]["cost"] == {"nodes": 50, "budget": 1000}
    every = (await gql(LIST, all=True))["data"]["tokens"]
    assert [e["node"]["name"] for e in every["edges"]] == ["t0", "t1", "t2"]
    assert every["edges"][1]["node"]["revokedAt"] is not None
    three = "{ " + " ".join(f"t{i}: tokens(first: 400) {{ totalCount }}" for i in range(3)) + " }"
    refused = await gql(three)
    assert refused["errors"][0]["extensions"]["cost"] == 1200 and refused["data"] is None
    client_cursor = await gql(LIST, after="Y2xpZW50OjE")  # "client:1"
    assert error_of(client_cursor) == {"code": "BAD_USER_INPUT", "field": "after"}


async def test_a_revoked_token_is_refused_from_the_next_request(gql: GQL, database: str) -> None:
    secret, token = await create(gql, role="ADMIN", name="ci")
    assert "errors" not in await gql(STATS, token=secret)
    revoked = (await gql.ok(REVOKE, id=token["id"]))["revokeToken"]
    assert revoked["revokedAt"] is not None and revoked["name"] == "ci"
    assert error_of(await gql(STATS, token=secret))["code"] == "UNAUTHENTICATED"
    assert error_of(await gql(CREATE_CLIENT, token=secret))["code"] == "UNAUTHENTICATED"
    again = (await gql.ok(REVOKE, id=token["id"]))["revokeToken"]
    assert again == revoked  # revoking a revoked token changes nothing
    assert error_of(await gql(REVOKE, id="999")) == {"code": "NOT_FOUND", "field": "id"}
    for bad in ("x", "0", "-1", " 1", "\u0661", "2147483648"):
        assert error_of(await gql(REVOKE, id=bad)) == {"code": "BAD_USER_INPUT", "field": "id"}


@pytest.fixture
async def no_env_admin(
    database: str, database_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with no API_ADMIN_TOKEN: stored admin tokens are the only way in."""
    settings = Settings.from_env({"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path)})
    app = create_app(AppState(settings=settings, manage_db=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://herald.test") as http:
        yield http


async def test_the_last_admin_token_is_kept_without_api_admin_token(
    no_env_admin: httpx.AsyncClient,
) -> None:
    first = await create_token(Role.ADMIN, name="first")
    gql = GQL(no_env_admin, first)
    first_id = str((await ApiToken.get(name="first")).id)
    await create(gql, role="VIEWER", name="viewer")  # a viewer is no admin
    refused = await gql(REVOKE, id=first_id)
    assert error_of(refused) == {"code": "CONFLICT", "field": "id"}
    assert "last admin token" in refused["errors"][0]["message"]
    second, _ = await create(gql, role="ADMIN", name="second")
    assert (await gql.ok(REVOKE, id=first_id))["revokeToken"]["revokedAt"]
    second_id = str((await ApiToken.get(name="second")).id)
    refused = await gql(REVOKE, token=second, id=second_id)
    assert error_of(refused) == {"code": "CONFLICT", "field": "id"}
    assert await ApiToken.filter(role=Role.ADMIN, revoked_at=None).count() == 1


async def test_with_api_admin_token_the_last_stored_admin_may_go(gql: GQL, database: str) -> None:
    _, token = await create(gql, role="ADMIN", name="only")
    assert (await gql.ok(REVOKE, id=token["id"]))["revokeToken"]["revokedAt"]


async def test_audit_lines_name_the_token_never_its_secret(
    gql: GQL, database: str, caplog: pytest.LogCaptureFixture, admin_token: str
) -> None:
    caplog.set_level(logging.INFO, logger="herald.api")
    secret, token = await create(gql, role="ADMIN", name="ci deploy")
    ci = GQL(gql.http, secret)
    client_id = (await ci.ok(CREATE_CLIENT))["createClient"]["id"]
    await ci.ok(f'mutation {{ updateClient(id: "{client_id}", input: {{tag: "vip"}}) {{ id }} }}')
    imported = 'mutation { importClients(clients: [{phone: "79160000002", timezone: "UTC"}])'
    await ci.ok(imported + " { created } }")
    await ci.ok(f'mutation {{ deleteClient(id: "{client_id}") }}')
    viewer = (await create(ci, name="v"))[1]["id"]
    await ci.ok(REVOKE, id=viewer)
    audited = [r for r in caplog.records if hasattr(r, "operation")]
    assert [(r.operation, r.token) for r in audited] == [  # type: ignore[attr-defined]
        ("createToken", "env:API_ADMIN_TOKEN"),
        *[
            (operation, f"{token['id']}:ci deploy")
            for operation in (
                "createClient",
                "updateClient",
                "importClients",
                "deleteClient",
                "createToken",
                "revokeToken",
            )
        ],
    ]
    assert not hasattr(audited[0], "token_id")
    assert {getattr(r, "token_id", None) for r in audited[1:]} == {int(token["id"])}
    assert audited[-1].api_token_id == int(viewer)  # type: ignore[attr-defined]
    lines = [f.format(r) for r in audited for f in (JsonFormatter(), TextFormatter())]
    assert "token=env:API_ADMIN_TOKEN" in lines[1]
    assert not [line for line in lines if secret in line or admin_token in line]


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2030, 1, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def state(settings: Settings, clock: Clock) -> AppState:
    return AppState(settings=settings, manage_db=False, clock=clock)


@pytest.fixture
async def clocked(database: str, state: AppState, admin_token: str) -> AsyncIterator[GQL]:
    """The app on an injected clock, its AppState (and so its token usage) in the test's hands."""
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://herald.test") as http:
        yield GQL(http, admin_token)


async def last_used(token_id: int) -> datetime | None:
    return (await ApiToken.get(id=token_id)).last_used_at


async def test_last_use_is_written_at_most_once_a_minute(
    clocked: GQL, state: AppState, clock: Clock
) -> None:
    secret = await create_token(Role.VIEWER, name="dash")
    token_id = (await ApiToken.get(name="dash")).id
    start = clock.now
    for step in range(3):  # three requests in the same instant: one write
        clock.now = start + timedelta(milliseconds=step)
        assert "errors" not in await clocked(STATS, token=secret)
    await state.token_usage.idle()
    assert await last_used(token_id) == start
    clock.now = start + timedelta(seconds=59)
    assert "errors" not in await clocked(STATS, token=secret)
    await state.token_usage.idle()
    assert await last_used(token_id) == start  # no write within the minute
    clock.now = start + timedelta(seconds=61)
    assert "errors" not in await clocked(STATS, token=secret)
    await state.token_usage.idle()
    assert await last_used(token_id) == clock.now
    listed = (await clocked.ok(LIST))["tokens"]["edges"][0]["node"]
    assert datetime.fromisoformat(listed["lastUsedAt"]) == clock.now


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_last_use_never_waits_for_the_sqlite_write_lock(
    clocked: GQL, state: AppState, clock: Clock, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process holding SQLite's write lock: the request answers, and the last use is
    refused at once ("database is locked": OperationalError) instead of waiting on the shared
    connection for the busy timeout (which the task's own timeout would have cut:
    TimeoutError); it is written a minute later."""
    secret = await create_token(Role.VIEWER, name="dash")
    token_id = (await ApiToken.get(name="dash")).id
    other = sqlite3.connect(database_url.removeprefix("sqlite://"), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        assert (await clocked(STATS, token=secret))["data"] == {"stats": {"mailings": 0}}
        await state.token_usage.idle()
        other.execute("ROLLBACK")
    finally:
        other.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "herald.api"]
    assert warnings == ["could not record tokens' last use: OperationalError"]
    assert await last_used(token_id) is None
    clock.now += timedelta(minutes=1)
    assert "errors" not in await clocked(STATS, token=secret)
    await state.token_usage.idle()
    assert await last_used(token_id) == clock.now

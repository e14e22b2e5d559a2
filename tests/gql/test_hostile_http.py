"""Hostile HTTP requests through the real app: each gets a coded JSON error (never a 5xx, never
plain text), logs at most one line and no traceback, and the service answers normally after."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from models.token import Role, create_token
from tests.support.api import GQL

STATS = "{ stats { mailings messages } }"
CREATE_CLIENT = "mutation($input: ClientInput!) { createClient(input: $input) { id } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO)
    yield caplog
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) <= 1, [r.getMessage() for r in loud]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def auth(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


async def post_raw(
    http: httpx.AsyncClient, body: bytes, token: str, **headers: str
) -> httpx.Response:
    return await http.post(
        "/graphql",
        content=body,
        headers=auth(token, **{"content-type": "application/json"}, **headers),
    )


def coded(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """The response is JSON with one BAD_USER_INPUT error (on `field`) and the given status."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/"), response.headers
    body: dict[str, Any] = response.json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert error["extensions"].get("field") == field, body
    return body


async def ask(http: httpx.AsyncClient, token: str, query: str, **variables: Any) -> dict[str, Any]:
    """Like the `gql` fixture, but JSON-escapes lone surrogates (httpx would refuse to encode
    them): on the wire they are the six ASCII characters `\\ud800`."""
    body = json.dumps({"query": query, "variables": variables}).encode("ascii")
    response = await post_raw(http, body, token)
    assert response.status_code in (200, 400), response.text
    result: dict[str, Any] = response.json()
    return result


async def still_serves(gql: GQL) -> None:
    assert (await gql.ok(STATS))["stats"] == {"mailings": 0, "messages": 0}


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


# Item 1: bodies that are not a GraphQL request object.
@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "{ stats { messages } }", "x": "\xff\xfe"}',  # not UTF-8
        b'{"query": "{ stats { messages } }", "x": "\xed\xa0\x80"}',  # an encoded surrogate
        b"42",
        b"[]",
        b'"x"',
        b"null",
        b"true",
        b"  \n 7",
        b'{"query": "{ stats { messages } }", "variables": {"v": '
        + b"[" * 5000
        + b"]" * 5000
        + b"}}",
        b'{"query": "{ stats { messages } }", "variables": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}",
    ],
    ids=[
        "latin1",
        "cesu8",
        "int",
        "array",
        "string",
        "null",
        "bool",
        "spaced-int",
        "deep",
        "deeper",
    ],
)
async def test_malformed_bodies_are_400_with_a_code(
    client: httpx.AsyncClient, admin_token: str, gql: GQL, log: Any, body: bytes
) -> None:
    coded(await post_raw(client, body, admin_token), 400)
    coded(await post_raw(client, body, admin_token, accept=GRAPHQL_RESPONSE), 400)
    await still_serves(gql)


# Item 3: lone surrogates, which UTF-8 (SQLite, PostgreSQL, logs) cannot encode.
async def test_lone_surrogate_in_a_viewer_filter(
    client: httpx.AsyncClient, gql: GQL, database: str, log: Any
) -> None:
    viewer = await create_token(Role.VIEWER)
    query = "query($t: String) { clients(tag: $t) { edges { node { id } } } }"
    for bad in ("\ud800", "ok\udfffok", "\ude00\ud83d"):
        body = await ask(client, viewer, query, t=bad)
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "tag"}
    assert "errors" not in await ask(client, viewer, query, t="\U0001f600 fine")
    await still_serves(gql)


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        (
            CREATE_CLIENT,
            {"input": {"phone": "79160000001", "timezone": "UTC", "tag": "\ud800"}},
            "tag",
        ),
        (
            'mutation($t: String) { createClient(input: {phone: "79160000001", timezone: "UTC", '
            "tag: $t}) { id } }",
            {"t": "a\udbff"},
            "tag",
        ),
        (
            "mutation($c: [ClientInput!]!) { importClients(clients: $c) { created } }",
            {
                "c": [
                    {"phone": "79160000001", "timezone": "UTC"},
                    {"phone": "79160000002", "timezone": "UTC", "tag": "\udc00"},
                ]
            },
            "tag",
        ),
        (
            "mutation($i: MailingInput!) { createMailing(input: $i) { id } }",
            {
                "i": {
                    "text": "hi \ud800",
                    "startAt": "2030-01-01T00:00:00Z",
                    "endAt": "2030-01-02T00:00:00Z",
                    "filter": {"tags": ["a"]},
                }
            },
            "text",
        ),
    ],
    ids=["input-tag", "literal-object-tag", "import-row-tag", "mailing-text"],
)
async def test_lone_surrogate_in_mutation_input(
    client: httpx.AsyncClient,
    admin_token: str,
    gql: GQL,
    log: Any,
    query: str,
    variables: dict[str, Any],
    field: str,
) -> None:
    body = await ask(client, admin_token, query, **variables)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, body
    assert body["data"] is None
    await still_serves(gql)


# Item 6: subscriptions over HTTP (GraphiQL before it re-parses, SSE and multipart clients).
SUBSCRIPTION = "subscription { overallStats { mailings } }"


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "text/event-stream",
        "multipart/mixed;subscriptionSpec=1.0, application/json",
        GRAPHQL_RESPONSE,
    ],
)
async def test_subscription_over_http_needs_a_websocket(
    client: httpx.AsyncClient, admin_token: str, gql: GQL, log: Any, accept: str | None
) -> None:
    headers = auth(admin_token, **({"accept": accept} if accept else {}))
    posted = await client.post("/graphql", json={"query": SUBSCRIPTION}, headers=headers)
    got = await client.get("/graphql", params={"query": SUBSCRIPTION}, headers=headers)
    for response in (posted, got):
        body = coded(response, 400)
        assert "websocket" in body["errors"][0]["message"]
    await still_serves(gql)


# Item 7: GraphQL over HTTP: JSON errors always, the spec's statuses for its media type.
async def test_mutation_over_get_is_405_with_allow_post(
    client: httpx.AsyncClient, admin_token: str, gql: GQL, log: Any
) -> None:
    query = 'mutation { deleteClient(id: "1") }'
    for accept in ("application/json", GRAPHQL_RESPONSE):
        response = await client.get(
            "/graphql", params={"query": query}, headers=auth(admin_token, accept=accept)
        )
        coded(response, 405)
        assert response.headers["allow"] == "POST"
    await still_serves(gql)


async def test_other_methods_are_405_json(
    client: httpx.AsyncClient, admin_token: str, gql: GQL, log: Any
) -> None:
    response = await client.put("/graphql", json={"query": STATS}, headers=auth(admin_token))
    coded(response, 405)
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "POST"}
    await still_serves(gql)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b'{"query": 42}', "application/json"),
        (b'{"query": "{ stats { messages } }", "variables": [7]}', "application/json"),
        (b"query=x", "text/plain"),
        (b'{"query": "{ stats { messages } }"}', ""),
        (b'{"qeury": "{ stats { messages } }"}', "application/json"),
        (b'{"query": "{ stats { messages } }", "operationName": "Nope"}', "application/json"),
    ],
    ids=[
        "bad-json",
        "empty",
        "query-int",
        "variables-list",
        "text-plain",
        "no-type",
        "typo",
        "no-op",
    ],
)
async def test_requests_that_are_not_graphql_are_400_json(
    client: httpx.AsyncClient, admin_token: str, gql: GQL, log: Any, body: bytes, content_type: str
) -> None:
    for accept in ("*/*", "application/json", GRAPHQL_RESPONSE):
        headers = auth(admin_token, accept=accept)
        if content_type:
            headers["content-type"] = content_type
        response = await client.post("/graphql", content=body, headers=headers)
        coded(response, 400)
    await still_serves(gql)


async def test_graphql_response_media_type_status_rules(
    client: httpx.AsyncClient, admin_token: str, gql: GQL, database: str, log: Any
) -> None:
    async def ask(query: str, accept: str, token: str | None = admin_token) -> httpx.Response:
        headers = auth(token, accept=accept) if token else {"accept": accept}
        return await client.post("/graphql", json={"query": query}, headers=headers)

    modern = "application/graphql-response+json, application/json;q=0.9"
    ok = await ask(STATS, modern)
    assert ok.status_code == 200 and ok.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert ok.json()["data"]["stats"]["messages"] == 0

    for query in ("{ stats { ", "{ nope }", "query($x: Int!) { stats { messages } }"):
        refused = await ask(query, modern)
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        assert "data" not in refused.json()
        assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        legacy = await ask(query, "application/json")
        assert legacy.status_code == 200 and legacy.headers["content-type"] == "application/json"
        assert legacy.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    anonymous = await ask(STATS, GRAPHQL_RESPONSE, token=None)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    viewer = await create_token(Role.VIEWER)
    forbidden = await ask('mutation { deleteClient(id: "1") }', GRAPHQL_RESPONSE, token=viewer)
    assert forbidden.status_code == 403
    # application/json ranked higher, or only wildcards: the legacy type and its 200s
    for accept in ("application/json, application/graphql-response+json;q=0.5", "*/*", "text/html"):
        legacy = await ask("{ nope }", accept)
        assert legacy.status_code == 200 and legacy.headers["content-type"] == "application/json"
    await still_serves(gql)


async def test_body_limit_answers_in_the_negotiated_type(
    client: httpx.AsyncClient, admin_token: str, log: Any
) -> None:
    big = b'{"query": "' + b" " * (6 * 1024 * 1024) + b'{ stats { messages } }"}'
    response = await post_raw(client, big, admin_token, accept=GRAPHQL_RESPONSE)
    coded(response, 413)
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)

from __future__ import annotations

import httpx

from models.token import ApiToken, Role, create_token
from tests.support.api import GQL, error_of

STATS = "{ stats { mailings messages } }"
CREATE = 'mutation { createClient(input: {phone: "79160000001", timezone: "UTC"}) { id } }'


async def test_missing_and_invalid_tokens(gql: GQL) -> None:
    assert error_of(await gql(STATS, token=None))["code"] == "UNAUTHENTICATED"
    assert error_of(await gql(STATS, token="nope"))["code"] == "UNAUTHENTICATED"
    assert error_of(await gql(CREATE, token=None))["code"] == "UNAUTHENTICATED"
    assert (await gql.ok(STATS))["stats"] == {"mailings": 0, "messages": 0}


async def test_viewer_reads_but_cannot_mutate(gql: GQL, database: str) -> None:
    viewer = await create_token(Role.VIEWER, name="dash")
    assert (await gql(STATS, token=viewer))["data"]["stats"]["mailings"] == 0
    body = await gql(CREATE, token=viewer)
    assert error_of(body)["code"] == "FORBIDDEN"
    assert body["data"] is None


async def test_created_admin_token_works_and_is_stored_hashed(gql: GQL, database: str) -> None:
    admin = await create_token(Role.ADMIN)
    assert "errors" not in await gql(CREATE, token=admin)
    stored = [str(h) for h in await ApiToken.all().values_list("token_hash", flat=True)]
    assert admin not in stored and len(stored) == 1


async def test_introspection_without_token_is_allowed(gql: GQL) -> None:
    body = await gql("{ __schema { queryType { name } } }", token=None)
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_malformed_requests_never_500(client: httpx.AsyncClient, admin_token: str) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    cases = [
        {"content": b"{not json", "headers": {**auth, "content-type": "application/json"}},
        {"json": {"query": "{ stats { "}, "headers": auth},
        {"json": {"query": "{ nope }"}, "headers": auth},
        {"json": {"query": 42}, "headers": auth},
        {"json": [], "headers": auth},
        {"content": b"", "headers": {**auth, "content-type": "application/json"}},
        {"content": b"query=x", "headers": {**auth, "content-type": "text/plain"}},
    ]
    for case in cases:
        response = await client.post("/graphql", **case)  # type: ignore[arg-type]
        assert 400 <= response.status_code < 500 or response.status_code == 200, case
        assert "Traceback" not in response.text


async def test_syntax_and_validation_errors_are_bad_user_input(gql: GQL) -> None:
    assert error_of(await gql("{ stats { "))["code"] == "BAD_USER_INPUT"
    assert error_of(await gql("{ nope }"))["code"] == "BAD_USER_INPUT"


async def test_limits_depth_aliases_tokens(gql: GQL) -> None:
    deep = "{ mailings { edges { node { messages { edges { node { mailing { messages { edges {"
    deep += " node { mailing { messages { edges { node { id } } } } } } } } } } } } } } }"
    assert error_of(await gql(deep))["code"] == "BAD_USER_INPUT"
    aliases = "{ " + " ".join(f"a{i}: stats {{ messages }}" for i in range(40)) + " }"
    assert error_of(await gql(aliases))["code"] == "BAD_USER_INPUT"
    tokens = "{ stats { " + "messages " * 6000 + "} }"
    assert error_of(await gql(tokens))["code"] == "BAD_USER_INPUT"


async def test_body_size_limit(client: httpx.AsyncClient, admin_token: str) -> None:
    big = b'{"query": "' + b" " * (6 * 1024 * 1024) + b'{ stats { messages } }"}'
    response = await client.post(
        "/graphql",
        content=big,
        headers={"Authorization": f"Bearer {admin_token}", "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_unexpected_errors_are_masked(gql: GQL, database: str) -> None:
    from models.sql import db

    await db().execute_script("ALTER TABLE mailing RENAME TO mailing_hidden")
    try:
        body = await gql("{ stats { messages } }")
    finally:
        await db().execute_script("ALTER TABLE mailing_hidden RENAME TO mailing")
    assert error_of(body) == {"code": "INTERNAL_SERVER_ERROR", "field": None}
    assert body["errors"][0]["message"] == "Internal server error"
    assert "mailing_hidden" not in str(body["errors"][0])

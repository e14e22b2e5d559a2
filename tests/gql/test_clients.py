from __future__ import annotations

import pytest

from models.pages import MAX_PAGE
from tests.support.api import GQL, error_of

CREATE = """mutation($input: ClientInput!) {
  createClient(input: $input) { id phone operatorCode tag timezone createdAt updatedAt } }"""
UPDATE = """mutation($id: ID!, $input: ClientPatch!) {
  updateClient(id: $id, input: $input) { id phone operatorCode tag timezone } }"""
GET = "query($id: ID!) { client(id: $id) { id phone operatorCode tag timezone } }"
LIST = """query($first: Int, $after: String, $tag: String, $op: String) {
  clients(first: $first, after: $after, tag: $tag, operatorCode: $op) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { phone } } } }"""
DELETE = "mutation($id: ID!) { deleteClient(id: $id) }"
IDS = "query($first: Int) { clients(first: $first) { edges { node { id } } } }"
IMPORT = """mutation($clients: [ClientInput!]!) {
  importClients(clients: $clients) { created updated errors { row field message } } }"""


def client_input(phone: str = "79161234567", **extra: object) -> dict[str, object]:
    return {"phone": phone, "timezone": "Europe/Moscow", **extra}


async def test_create_defaults_operator_code_from_phone(gql: GQL) -> None:
    data = await gql.ok(CREATE, input=client_input(tag="vip"))
    created = data["createClient"]
    assert created["operatorCode"] == "916"
    assert created["tag"] == "vip"
    assert created["createdAt"].endswith("+00:00")
    fetched = await gql.ok(GET, id=created["id"])
    assert fetched["client"]["phone"] == "79161234567"


async def test_explicit_operator_code_kept(gql: GQL) -> None:
    data = await gql.ok(CREATE, input=client_input(operatorCode="999"))
    assert data["createClient"]["operatorCode"] == "999"


@pytest.mark.parametrize(
    "override,field",
    [
        ({"phone": "89161234567"}, "phone"),
        ({"phone": "7916123456"}, "phone"),
        ({"phone": "7916123456a"}, "phone"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"operatorCode": "12"}, "operatorCode"),
        ({"operatorCode": "abc"}, "operatorCode"),
        ({"tag": "x" * 65}, "tag"),
    ],
)
async def test_invalid_client_input(gql: GQL, override: dict[str, str], field: str) -> None:
    body = await gql(CREATE, input=client_input(**override))
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": field}
    assert body["data"] is None


async def test_duplicate_phone_is_conflict(gql: GQL) -> None:
    await gql.ok(CREATE, input=client_input())
    body = await gql(CREATE, input=client_input())
    assert error_of(body) == {"code": "CONFLICT", "field": "phone"}


async def test_update_client(gql: GQL) -> None:
    cid = (await gql.ok(CREATE, input=client_input(tag="a")))["createClient"]["id"]
    data = await gql.ok(UPDATE, id=cid, input={"tag": None, "timezone": "Asia/Tokyo"})
    assert data["updateClient"]["tag"] is None
    assert data["updateClient"]["timezone"] == "Asia/Tokyo"
    assert data["updateClient"]["phone"] == "79161234567"
    body = await gql(UPDATE, id=cid, input={"timezone": "Nowhere/Land"})
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "timezone"}
    body = await gql(UPDATE, id=cid, input={"phone": None})
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "phone"}


async def test_update_to_taken_phone_is_conflict(gql: GQL) -> None:
    await gql.ok(CREATE, input=client_input("79160000001"))
    cid = (await gql.ok(CREATE, input=client_input("79160000002")))["createClient"]["id"]
    body = await gql(UPDATE, id=cid, input={"phone": "79160000001"})
    assert error_of(body) == {"code": "CONFLICT", "field": "phone"}


async def test_unknown_ids(gql: GQL) -> None:
    assert (await gql.ok(GET, id="999"))["client"] is None
    assert error_of(await gql(UPDATE, id="999", input={"tag": "x"}))["code"] == "NOT_FOUND"
    assert error_of(await gql(DELETE, id="999"))["code"] == "NOT_FOUND"
    assert error_of(await gql(GET, id="abc")) == {"code": "BAD_USER_INPUT", "field": "id"}


async def test_delete_client(gql: GQL) -> None:
    cid = (await gql.ok(CREATE, input=client_input()))["createClient"]["id"]
    assert (await gql.ok(DELETE, id=cid))["deleteClient"] == cid
    assert (await gql.ok(GET, id=cid))["client"] is None


async def test_pagination_walks_every_row_once_and_filters(gql: GQL) -> None:
    rows = [client_input(f"7900000{i:04d}", tag="even" if i % 2 == 0 else "odd") for i in range(7)]
    await gql.ok(IMPORT, clients=rows)
    seen: list[str] = []
    after = None
    while True:
        page = (await gql.ok(LIST, first=3, after=after))["clients"]
        assert page["totalCount"] == 7
        seen += [e["node"]["phone"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [r["phone"] for r in rows]
    evens = (await gql.ok(LIST, first=10, tag="even"))["clients"]
    assert evens["totalCount"] == 4
    assert (await gql.ok(LIST, first=10, op="900"))["clients"]["totalCount"] == 7
    assert error_of(await gql(LIST, first=-1)) == {"code": "BAD_USER_INPUT", "field": "first"}
    assert error_of(await gql(LIST, after="garbage!")) == {
        "code": "BAD_USER_INPUT",
        "field": "after",
    }


async def test_next_page_resumes_after_the_cursor_not_at_an_offset(gql: GQL) -> None:
    """Deleting a row already seen shifts no unseen row past the cursor (OFFSET would skip
    one)."""
    phones = [f"7900000{i:04d}" for i in range(6)]
    await gql.ok(IMPORT, clients=[client_input(p) for p in phones])
    first = (await gql.ok(LIST, first=3))["clients"]
    seen = (await gql.ok(IDS, first=1))["clients"]["edges"][0]
    await gql.ok(DELETE, id=seen["node"]["id"])
    after = first["pageInfo"]["endCursor"]
    rest = (await gql.ok(LIST, first=3, after=after))["clients"]
    assert [e["node"]["phone"] for e in rest["edges"]] == phones[3:]
    assert rest["totalCount"] == 5


async def test_page_size_is_capped_not_refused(gql: GQL) -> None:
    phones = [f"7900000{i:04d}" for i in range(MAX_PAGE + 1)]
    await gql.ok(IMPORT, clients=[client_input(p) for p in phones])
    big = (await gql.ok(LIST, first=100000))["clients"]
    assert len(big["edges"]) == MAX_PAGE
    assert big["pageInfo"]["hasNextPage"] is True and big["totalCount"] == MAX_PAGE + 1


async def test_import_upserts_and_reports_bad_rows(gql: GQL) -> None:
    await gql.ok(CREATE, input=client_input("79160000001", tag="old"))
    result = (
        await gql.ok(
            IMPORT,
            clients=[
                client_input("79160000001", tag="new"),
                client_input("79160000002"),
                client_input("12345", tag="bad"),
                client_input("79160000003", timezone="Bad/Zone"),
            ],
        )
    )["importClients"]
    assert result["created"] == 1
    assert result["updated"] == 1
    assert [(e["row"], e["field"]) for e in result["errors"]] == [(2, "phone"), (3, "timezone")]
    page = (await gql.ok(LIST, first=10))["clients"]
    assert page["totalCount"] == 2
    assert (await gql.ok(LIST, tag="new"))["clients"]["totalCount"] == 1


async def test_import_ten_thousand(gql: GQL) -> None:
    rows = [client_input(f"79{i:09d}") for i in range(10_000)]
    result = (await gql.ok(IMPORT, clients=rows))["importClients"]
    assert (result["created"], result["updated"], result["errors"]) == (10_000, 0, [])
    result = (await gql.ok(IMPORT, clients=rows))["importClients"]
    assert (result["created"], result["updated"]) == (0, 10_000)

"""Finding things through the API: `mailings(orderBy, search)`, `clients(phonePrefix,
operatorCodes, tags)`, `stats.perMailingConnection`, and cursors that carry their order."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from models.message import Message, MessageStatus
from tests.support.api import GQL, create_mailing, error_of

MAILINGS = """query($first: Int, $after: String, $state: MailingState, $order: MailingOrder,
                   $search: String) {
  mailings(first: $first, after: $after, state: $state, orderBy: $order, search: $search) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id text state } } } }"""
CLIENTS = """query($first: Int, $after: String, $prefix: String, $codes: [String!],
                   $tags: [String!], $tag: String) {
  clients(first: $first, after: $after, phonePrefix: $prefix, operatorCodes: $codes,
          tags: $tags, tag: $tag) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { phone } } } }"""
IMPORT = "mutation($c: [ClientInput!]!) { importClients(clients: $c) { created } }"
PER_MAILING = """query($first: Int, $after: String) { stats { perMailingConnection(
  first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
  edges { node { mailingId state total byStatus { status count } } } } } }"""
END = "2099-12-31T00:00:00Z"
CANCEL = "mutation($id: ID!) { cancelMailing(id: $id) { state } }"
UPDATE = "mutation($id: ID!, $t: String!) { updateMailing(id: $id, input: {text: $t}) { id } }"


async def _walk(gql: GQL, query: str, root: str, first: int, **variables: Any) -> list[Any]:
    nodes: list[Any] = []
    after = None
    while True:
        page = (await gql.ok(query, first=first, after=after, **variables))[root]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


async def test_mailings_in_each_order_and_direction(gql: GQL) -> None:
    starts = [3, 1, 2, 1]  # hours; two share a start
    ids = [
        (await create_mailing(gql, startAt=f"2099-01-01T0{h}:00:00Z", endAt=END))["id"]
        for h in starts
    ]
    await gql.ok(CANCEL, id=ids[2])
    newest = await _walk(gql, MAILINGS, "mailings", 1)
    assert [m["id"] for m in newest] == ids[::-1]
    by_start = await _walk(gql, MAILINGS, "mailings", 2, order={"field": "START_AT"})
    assert [m["id"] for m in by_start] == [ids[0], ids[2], ids[3], ids[1]]  # ties: id DESC
    ascending = {"field": "START_AT", "direction": "ASC"}
    by_start_asc = await _walk(gql, MAILINGS, "mailings", 3, order=ascending)
    assert [m["id"] for m in by_start_asc] == [ids[1], ids[3], ids[2], ids[0]]
    by_state = await _walk(gql, MAILINGS, "mailings", 1, order={"field": "STATE"})
    assert [m["id"] for m in by_state] == [ids[3], ids[1], ids[0], ids[2]]  # SCHEDULED first
    oldest = await _walk(gql, MAILINGS, "mailings", 2, order={"direction": "ASC"})
    assert [m["id"] for m in oldest] == ids
    scheduled = await _walk(gql, MAILINGS, "mailings", 2, state="SCHEDULED", order=ascending)
    assert [m["id"] for m in scheduled] == [ids[1], ids[3], ids[0]]


async def test_search_is_a_case_insensitive_substring_with_literal_wildcards(gql: GQL) -> None:
    texts = ["Скидка 50% сегодня", "скидка 500 рублей", "Hello_World", "HelloXWorld"]
    ids = [(await create_mailing(gql, text=t))["id"] for t in texts]

    async def found(search: str) -> list[str]:
        page = (await gql.ok(MAILINGS, search=search, order={"direction": "ASC"}))["mailings"]
        assert page["totalCount"] == len(page["edges"])
        return [edge["node"]["text"] for edge in page["edges"]]

    assert await found("СКИДКА") == texts[:2]
    assert await found("50%") == texts[:1]
    assert await found("o_w") == ["Hello_World"]
    assert await found("") == texts
    assert await found("nothing") == []
    await gql.ok(UPDATE, id=ids[3], t="Привет")  # the edited text is what is searched
    assert await found("ПРИВЕТ") == ["Привет"]
    assert await found("xworld") == []
    body = await gql(MAILINGS, search="a\x00b")
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "search"}
    body = await gql(MAILINGS, search="x" * 1001)
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "search"}


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        _b64("mailing:5"),  # an id cursor: not the newest-first order's
        _b64('mailing:start_at.desc:["2030-01-01T00:00:00+00:00","5"]'),  # another order
        _b64('client:created_at.desc:["2030-01-01T00:00:00+00:00","5"]'),
        _b64('mailing:created_at.desc:["2030-01-01T00:00:00","5"]'),  # naive
        _b64('mailing:created_at.desc:["1999-12-31T00:00:00+00:00","5"]'),  # out of range
        _b64('mailing:created_at.desc:["0001-01-01T00:00:00+03:00","5"]'),
        _b64('mailing:created_at.desc:["yesterday","5"]'),
        _b64('mailing:created_at.desc:["2030-01-01T00:00:00+00:00","\u0665"]'),  # Arabic digit
        _b64('mailing:created_at.desc:["2030-01-01T00:00:00+00:00","2147483648"]'),
        _b64('mailing:created_at.desc:["2030-01-01T00:00:00+00:00",5]'),  # not a string
        _b64('mailing:created_at.desc:["2030-01-01T00:00:00+00:00"]'),
        _b64('mailing:created_at.desc:{"a": 1}'),
        _b64("mailing:created_at.desc:" + "[" * 5000 + "]" * 5000),  # too long to decode
        _b64("mailing:created_at.desc:[not json"),
        "!!!",
    ],
)
async def test_forged_mailing_cursors_are_bad_input(gql: GQL, cursor: str) -> None:
    assert error_of(await gql(MAILINGS, after=cursor)) == {
        "code": "BAD_USER_INPUT",
        "field": "after",
    }


async def test_a_cursor_resumes_only_its_own_order(gql: GQL) -> None:
    for _ in range(3):
        await create_mailing(gql)
    page = (await gql.ok(MAILINGS, first=1, order={"field": "STATE"}))["mailings"]
    cursor = page["pageInfo"]["endCursor"]
    assert (await gql.ok(MAILINGS, first=5, after=cursor, order={"field": "STATE"}))["mailings"]
    for order in [None, {"field": "STATE", "direction": "ASC"}, {"field": "START_AT"}]:
        body = await gql(MAILINGS, after=cursor, order=order)
        assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "after"}
    body = await gql(CLIENTS, after=cursor)
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "after"}


def _client(phone: str, code: str | None = None, tag: str | None = None) -> dict[str, Any]:
    return {"phone": phone, "operatorCode": code, "tag": tag, "timezone": "UTC"}


async def test_clients_by_phone_prefix_in_phone_order(gql: GQL) -> None:
    phones = ["79169999999", "79160000002", "79170000000", "79160000001", "79159999999"]
    await gql.ok(IMPORT, c=[_client(p) for p in phones])
    found = await _walk(gql, CLIENTS, "clients", 1, prefix="7916")
    assert [c["phone"] for c in found] == ["79160000001", "79160000002", "79169999999"]
    page = (await gql.ok(CLIENTS, prefix="79160000001"))["clients"]
    assert page["totalCount"] == 1
    assert (await gql.ok(CLIENTS, prefix="7"))["clients"]["totalCount"] == 5
    assert (await gql.ok(CLIENTS, prefix="8"))["clients"]["totalCount"] == 0
    for bad in ["", "7916a", "+7916", "7\u0669\u0661\u0666", "791612345678", " 7916"]:
        body = await gql(CLIENTS, prefix=bad)
        assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "phonePrefix"}, bad
    # An id cursor does not resume the phone order (nor the other way round).
    by_id = (await gql.ok(CLIENTS, first=1))["clients"]["pageInfo"]["endCursor"]
    body = await gql(CLIENTS, prefix="7916", after=by_id)
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "after"}


async def test_clients_by_operator_code_and_tag_lists(gql: GQL) -> None:
    rows = [
        _client("79160000001", "916", "vip"),
        _client("79160000002", "916", None),
        _client("79030000003", "903", "vip"),
        _client("79030000004", "903", "new"),
        _client("79250000005", "925", "new"),
    ]
    await gql.ok(IMPORT, c=rows)

    async def phones(**variables: Any) -> list[str]:
        return [c["phone"] for c in await _walk(gql, CLIENTS, "clients", 2, **variables)]

    assert await phones(codes=["916", "925"]) == ["79160000001", "79160000002", "79250000005"]
    assert await phones(tags=["vip", "new"]) == [r["phone"] for r in rows if r["tag"]]
    assert await phones(codes=["903"], tags=["new"]) == ["79030000004"]
    assert await phones(codes=["903"], tag="vip") == ["79030000003"]
    assert await phones(codes=[], tags=[]) == [r["phone"] for r in rows]
    assert await phones(prefix="790", tags=["vip"]) == ["79030000003"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"codes": ["91"]}, "operatorCodes"),
        ({"codes": ["\uff19\uff11\uff16"]}, "operatorCodes"),
        ({"codes": [str(100 + i) for i in range(101)]}, "operatorCodes"),
        ({"tags": [""]}, "tags"),
        ({"tags": ["a\tb"]}, "tags"),
    ]
    for variables, field in cases:
        assert error_of(await gql(CLIENTS, **variables)) == {
            "code": "BAD_USER_INPUT",
            "field": field,
        }


async def _seed(mailing_id: int, statuses: list[MessageStatus]) -> None:
    await Message.bulk_create(
        [
            Message(mailing_id=mailing_id, phone=f"7916{i:07d}", timezone="UTC", status=s)
            for i, s in enumerate(statuses)
        ]
    )


async def test_per_mailing_connection(gql: GQL, database: str) -> None:
    ids = [int((await create_mailing(gql))["id"]) for _ in range(3)]
    await _seed(ids[1], [MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.SENT])
    pages: list[Any] = []
    after = None
    while True:
        stats = (await gql.ok(PER_MAILING, first=2, after=after))["stats"]
        page = stats["perMailingConnection"]
        assert page["totalCount"] == 3
        pages += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [int(n["mailingId"]) for n in pages] == ids
    counts = {s["status"]: s["count"] for s in pages[1]["byStatus"]}
    assert pages[1]["total"] == 3 and counts["SENT"] == 2 and counts["FAILED"] == 1
    assert pages[0]["total"] == 0 and pages[0]["state"] == "SCHEDULED"
    mailings_cursor = (await gql.ok(MAILINGS, first=1))["mailings"]["pageInfo"]["endCursor"]
    body = await gql(PER_MAILING, after=mailings_cursor)
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "after"}

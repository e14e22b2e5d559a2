"""testSend through the real app and the probe simulator as a real HTTP server: one send now,
recorded in Mailing.testSends with the probe's answer, never among the mailing's messages, its
stats or its export; and cloneMailing's copy delivered by a worker."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import pytest

from herald.settings import Settings
from models.testsend import TEST_SEND_IDS, TestSend
from models.token import Role, create_token
from tests.support.api import GQL, create_mailing, error_of
from tests.support.delivery import all_final, clients, mailing, status_counts
from tests.support.engine import Engine, wait_for
from tests.support.ws import served
from tools.probesim import RunningSim

FIELDS = "id mailingId probeMessageId phone text outcome httpStatus error latencyMs createdAt"
SEND = f"""mutation($m: ID!, $phone: String!) {{
  testSend(mailingId: $m, phone: $phone) {{ {FIELDS} }} }}"""
READ = f"""query($id: ID!, $first: Int, $after: String) {{ mailing(id: $id) {{
  stats {{ total }} messages {{ totalCount }}
  testSends(first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {FIELDS} }} }} }} }} }}"""
CLONE = "mutation($id: ID!) { cloneMailing(id: $id) { id state } }"
CANCEL = "mutation($id: ID!) { cancelMailing(id: $id) { state } }"


async def test_a_test_send_reaches_the_probe_and_is_recorded_apart(engine: Engine) -> None:
    gql = engine.gql
    mid = (await create_mailing(gql, text="Hello\nworld"))["id"]
    sent = (await gql.ok(SEND, m=mid, phone=" 79161234567 "))["testSend"]
    assert sent["outcome"] == "SENT" and sent["httpStatus"] == 200 and sent["error"] is None
    assert (sent["mailingId"], sent["phone"], sent["text"]) == (mid, "79161234567", "Hello\nworld")
    probe_id = TEST_SEND_IDS + int(sent["id"])
    assert sent["probeMessageId"] == str(probe_id) and sent["latencyMs"] >= 0
    delivery = engine.sim.state.deliveries[probe_id]
    assert (delivery.phone, delivery.text, delivery.count) == (79161234567, "Hello\nworld", 1)
    read = (await gql.ok(READ, id=mid))["mailing"]
    assert read["testSends"]["edges"] == [{"node": sent}]
    assert read["stats"]["total"] == 0 and read["messages"]["totalCount"] == 0
    auth = {"Authorization": f"Bearer {gql.token}"}
    export = await gql.http.get(f"/export/mailings/{mid}/messages.csv", headers=auth)
    assert export.text.count("\r\n") == 1  # the header alone
    stats = await gql.http.get(f"/export/mailings/{mid}/stats.csv", headers=auth)
    assert {row[1] for row in list(csv.reader(io.StringIO(stats.text)))[1:]} == {"0"}


@pytest.mark.parametrize(
    "fault,outcome,status,error",
    [
        ({"reject_rate": 1.0}, "REJECTED", 400, "HTTP 400"),
        ({"error_rate": 1.0}, "FAILED", 500, "HTTP 500"),
        ({"throttle_rate": 1.0}, "FAILED", 429, "HTTP 429"),
        ({"garbage_rate": 1.0}, "FAILED", 200, "bad body"),
        ({"down": True}, "FAILED", 503, "HTTP 503"),
        ({"token": "another"}, "FAILED", 401, "the probe refused Herald's token"),
        ({"timeout_rate": 1.0, "hang_seconds": 5.0}, "FAILED", None, "timeout"),
    ],
)
async def test_every_probe_failure_is_the_records_outcome(
    engine: Engine, fault: dict[str, Any], outcome: str, status: int | None, error: str
) -> None:
    mid = (await create_mailing(engine.gql))["id"]
    engine.configure(**fault)
    sent = (await engine.gql.ok(SEND, m=mid, phone="79161234567"))["testSend"]
    assert (sent["outcome"], sent["httpStatus"]) == (outcome, status)
    assert sent["error"].startswith(error), sent["error"]
    assert engine.sim.state.deliveries == {} and engine.sim.state.requests == 1  # no retry
    stored = await TestSend.get(id=int(sent["id"]))
    assert (stored.outcome, stored.http_status, stored.error) == (outcome, status, sent["error"])


@pytest.mark.parametrize(
    "phone", ["+79161234567", "89161234567", "7916123456", "7\u0669161234567", "79161234567\x00"]
)
async def test_phones_are_validated_like_clients(engine: Engine, phone: str) -> None:
    mid = (await create_mailing(engine.gql))["id"]
    body = await engine.gql(SEND, m=mid, phone=phone)
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "phone"}
    assert engine.sim.state.requests == 0 and await TestSend.all().count() == 0


async def test_mailing_ids_permissions_and_deletion(engine: Engine) -> None:
    gql = engine.gql
    for bad in ("0", "x", "\u0661", "2147483648"):
        error = error_of(await gql(SEND, m=bad, phone="79161234567"))
        assert error == {"code": "BAD_USER_INPUT", "field": "mailingId"}
    error = error_of(await gql(SEND, m="999", phone="79161234567"))
    assert error == {"code": "NOT_FOUND", "field": "mailingId"}
    mid = (await create_mailing(gql))["id"]
    viewer = await create_token(Role.VIEWER)
    assert error_of(await gql(SEND, token=viewer, m=mid, phone="79161234567"))["code"] == (
        "FORBIDDEN"
    )
    assert engine.sim.state.requests == 0
    await gql.ok(SEND, m=mid, phone="79161234567")
    assert (await gql(READ, token=viewer, id=mid))["data"]["mailing"]["testSends"][
        "totalCount"
    ] == 1
    await gql.ok("mutation($id: ID!) { deleteMailing(id: $id) }", id=mid)
    assert await TestSend.all().count() == 0


async def test_test_sends_page_with_cursors(engine: Engine) -> None:
    mid = (await create_mailing(engine.gql))["id"]
    ids = [
        (await engine.gql.ok(SEND, m=mid, phone=f"7916000000{i}"))["testSend"]["id"]
        for i in range(3)
    ]
    page = (await engine.gql.ok(READ, id=mid, first=2))["mailing"]["testSends"]
    assert [e["node"]["id"] for e in page["edges"]] == ids[:2] and page["totalCount"] == 3
    after = page["pageInfo"]["endCursor"]
    rest = (await engine.gql.ok(READ, id=mid, first=2, after=after))["mailing"]["testSends"]
    assert [e["node"]["id"] for e in rest["edges"]] == ids[2:]
    assert not rest["pageInfo"]["hasNextPage"]
    body = await engine.gql(READ, id=mid, after="bWVzc2FnZTox")  # a message cursor
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "after"}


async def test_without_a_probe_client_test_send_is_a_conflict(
    gql: GQL, client: httpx.AsyncClient
) -> None:
    mid = (await create_mailing(gql))["id"]  # the `client` app: no delivery, no probe client
    body = await gql(SEND, m=mid, phone="79161234567")
    assert error_of(body) == {"code": "CONFLICT", "field": None}
    assert await TestSend.all().count() == 0


async def test_a_clone_is_delivered_and_takes_no_test_sends(engine: Engine) -> None:
    await clients(engine, 5)
    await engine.start_worker()
    source = await mailing(engine)
    await wait_for(lambda: all_final(source), what="the original delivered")
    await engine.gql.ok(SEND, m=str(source), phone="79161234567")
    clone = (await engine.gql.ok(CLONE, id=str(source)))["cloneMailing"]  # lead 0: at once
    assert clone["state"] == "SCHEDULED"
    clone_id = int(clone["id"])
    await wait_for(lambda: all_final(clone_id), what="the clone delivered")
    assert await status_counts(clone_id) == {"SENT": 5}
    assert await TestSend.filter(mailing_id=clone_id).count() == 0
    assert len(engine.sim.state.deliveries) == 11  # 5 + 5 messages and one test send


async def test_the_served_app_makes_its_own_probe_client(
    database: str, sim: RunningSim, tmp_path: Path, admin_token: str
) -> None:
    """herald serve's wiring: `delivery` binds testSend to a probe client of its own."""
    env = {
        "DATABASE_URL": database,
        "API_ADMIN_TOKEN": admin_token,
        "DATA_DIR": str(tmp_path),
        "PROBE_URL": sim.url,
        "PROBE_TOKEN": sim.state.config.token or "",
    }
    async with served(Settings.from_env(env)) as ws_url:
        base = ws_url.replace("ws://", "http://").removesuffix("/graphql")
        async with httpx.AsyncClient(base_url=base) as http:
            gql = GQL(http, admin_token)
            mid = (await create_mailing(gql))["id"]
            sent = (await gql.ok(SEND, m=mid, phone="79161234567"))["testSend"]
    assert sent["outcome"] == "SENT"
    assert list(sim.state.deliveries) == [TEST_SEND_IDS + int(sent["id"])]

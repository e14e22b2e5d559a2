"""Hostile graphql-transport-ws frames against a real uvicorn server: each gets the protocol's
answer (close 4400 with a reason, or an `error` message with extensions.code), frees what it
held, logs at most one line and no traceback, and the server answers a fresh socket after."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from herald.app import MAX_SUBSCRIPTIONS
from models.token import Role, create_token
from tests.support.ws import acked, open_ws, receive

OVERALL = "subscription { overallStats { mailings } }"
STATS = "{ stats { messages } }"


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def quiet(log: pytest.LogCaptureFixture, what: object) -> None:
    """At most one WARNING+ line and no traceback since the last check."""
    loud = [r for r in log.records if r.levelno >= logging.WARNING]
    assert len(loud) <= 1, (what, [r.getMessage() for r in loud])
    assert not [r for r in log.records if r.exc_info], (what, "a traceback was logged")
    log.clear()


async def closed_with(ws: ClientConnection, timeout: float = 10) -> tuple[int | None, str]:
    with pytest.raises(ConnectionClosed):
        while True:
            await receive(ws, timeout)
    return ws.close_code, ws.close_reason or ""


def subscribe(op_id: str, query: str, **payload: Any) -> str:
    return json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query, **payload}})


async def still_serves(url: str, token: str) -> None:
    ws = await acked(url, token)
    await ws.send(subscribe("ok", STATS))
    message = await receive(ws)
    assert message["type"] == "next" and message["payload"]["data"]["stats"]["messages"] == 0
    await ws.close()


FRAMES = {
    "null-payload": '{"type": "subscribe", "id": "1", "payload": null}',
    "query-int": '{"type": "subscribe", "id": "1", "payload": {"query": 5}}',
    "variables-list": json.dumps(
        {"type": "subscribe", "id": "1", "payload": {"query": STATS, "variables": [1]}}
    ),
    "operation-name-int": json.dumps(
        {"type": "subscribe", "id": "1", "payload": {"query": STATS, "operationName": 7}}
    ),
    "list-id": json.dumps({"type": "subscribe", "id": ["x"], "payload": {"query": STATS}}),
    "object-id-complete": '{"type": "complete", "id": {}}',
    "number": "42",
    "array": "[]",
    "ping-payload-string": '{"type": "ping", "payload": "x"}',
    "deep-json": "[" * 100_000 + "]" * 100_000,
    # close reasons that echo the frame: longer than a close frame holds, or not encodable
    "long-unknown-type": json.dumps({"type": "é" * 200}),
    "surrogate-type": json.dumps({"type": "\ud800"}),
}


@pytest.mark.parametrize("name", list(FRAMES))
async def test_malformed_frames_close_4400_with_a_reason(
    url: str, admin_token: str, log: pytest.LogCaptureFixture, name: str
) -> None:
    ws = await acked(url, admin_token)
    await ws.send(FRAMES[name])
    code, reason = await closed_with(ws)
    assert code == 4400 and reason, (code, reason)
    quiet(log, name)
    await still_serves(url, admin_token)


async def test_bad_frames_hold_no_operation_slot(
    url: str, admin_token: str, log: pytest.LogCaptureFixture
) -> None:
    """Twenty `query: 5` frames used to take all twenty slots without an answer."""
    for _ in range(MAX_SUBSCRIPTIONS + 1):
        ws = await acked(url, admin_token)
        await ws.send(FRAMES["query-int"])
        assert (await closed_with(ws))[0] == 4400
    quiet(log, "query-int")
    await still_serves(url, admin_token)


async def test_subscription_limit_error_has_a_code_and_frees_on_complete(
    url: str, admin_token: str, log: pytest.LogCaptureFixture
) -> None:
    viewer = await create_token(Role.VIEWER)
    ws = await acked(url, viewer)
    for n in range(MAX_SUBSCRIPTIONS):
        await ws.send(subscribe(str(n), OVERALL))
        assert (await receive(ws))["type"] == "next"
    await ws.send(subscribe("over", OVERALL))
    refused = await receive(ws)
    assert refused["type"] == "error" and refused["id"] == "over", refused
    assert refused["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    await ws.send(json.dumps({"type": "complete", "id": "0"}))
    await ws.send(subscribe("again", OVERALL))
    assert (await receive(ws))["type"] == "next"
    quiet(log, "limit")
    await ws.close()
    await still_serves(url, admin_token)


@pytest.mark.parametrize(
    "query",
    [
        "subscription { ...F } fragment F on Subscription { mailingStats(id: $id) { mailingId } }",
        "subscription { ... on Subscription { mailingStats(id: $id) { mailingId } } }",
        "subscription { ... { ...F } } "
        "fragment F on Subscription { mailingStats(id: $id) { total } }",
    ],
    ids=["fragment", "inline", "nested"],
)
async def test_unknown_mailing_inside_a_fragment_is_an_error_message(
    url: str, admin_token: str, log: pytest.LogCaptureFixture, query: str
) -> None:
    query = query.replace("subscription {", "subscription($id: ID!) {", 1)
    ws = await acked(url, admin_token)
    await ws.send(subscribe("1", query, variables={"id": "999"}))
    message = await receive(ws)
    assert message["type"] == "error", message
    assert message["payload"][0]["extensions"] == {"code": "NOT_FOUND", "field": "id"}
    quiet(log, query)
    await ws.close()
    await still_serves(url, admin_token)


async def test_lone_surrogates_over_the_socket(
    url: str, admin_token: str, log: pytest.LogCaptureFixture
) -> None:
    ws = await acked(url, admin_token)
    query = "query($t: String) { clients(tag: $t) { totalCount } }"
    await ws.send(subscribe("1", query, variables={"t": "\ud800"}))
    message = await receive(ws)
    assert message["type"] == "error", message
    assert message["payload"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "tag"}
    await ws.close()
    rejected = await open_ws(url, None, payload={"Authorization": "Bearer \ud800"})
    assert (await closed_with(rejected))[0] == 4401
    quiet(log, "surrogates")
    await still_serves(url, admin_token)

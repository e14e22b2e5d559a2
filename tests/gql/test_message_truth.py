"""Message.nextAttemptAt, waitingFor and history, and Mailing.timeline, through the API with a
fixed clock: the rows are written by the worker's own statements (claim, record, mark_sent)
at chosen instants, and read back over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis

from herald.app import AppState, create_app
from herald.settings import Settings
from models.attempts import Attempt, ErrorClass, MessageAttempt
from models.delivery import Claimed, Outcome, Scope, claim, mark_sent, record
from models.schedule import start_mailing
from models.token import Role, create_token
from models.transitions import MessageEvent
from models.waits import circuit_key
from tests.support.api import GQL, error_of

NOW = datetime(2030, 6, 3, 12, 0, tzinfo=UTC)
END = NOW + timedelta(hours=2)
IMPORT = "mutation($c: [ClientInput!]!) { importClients(clients: $c) { created } }"
CREATE = "mutation($m: MailingInput!) { createMailing(input: $m) { id } }"
MESSAGES = """query($id: ID!) { mailing(id: $id) { messages(first: 20) { edges { node {
  id phone status attempts lastError nextAttemptAt waitingFor
  history { attempt at httpStatus latencyMs errorClass error outcome } } } } } }"""
TIMELINE = """query($id: ID!, $bucket: TimelineBucket!, $from: DateTime, $to: DateTime) {
  mailing(id: $id) { timeline(bucket: $bucket, from: $from, to: $to) {
    start sent failed retried } } }"""


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Api:
    gql: GQL
    clock: Clock
    redis: ArqRedis
    queue: str

    async def mailing(self, zones: list[str], end: datetime = END, **extra: Any) -> int:
        rows = [{"phone": f"7916{i:07d}", "timezone": z} for i, z in enumerate(zones)]
        await self.gql.ok(IMPORT, c=rows)
        period = {"startAt": NOW.isoformat(), "endAt": end.isoformat(), "filter": {}}
        data = await self.gql.ok(CREATE, m={"text": "Hi", **period, **extra})
        mailing_id = int(data["createMailing"]["id"])
        assert await start_mailing(mailing_id, NOW)
        return mailing_id

    async def messages(self, mailing_id: int) -> dict[str, dict[str, Any]]:
        data = await self.gql.ok(MESSAGES, id=str(mailing_id))
        edges = data["mailing"]["messages"]["edges"]
        return {e["node"]["phone"]: e["node"] for e in edges}


@pytest.fixture
async def api(
    database: str, admin_token: str, tmp_path: Path, redis: ArqRedis, queue: str
) -> AsyncIterator[Api]:
    env = {"DATABASE_URL": database, "API_ADMIN_TOKEN": admin_token, "DATA_DIR": str(tmp_path)}
    settings = Settings.from_env({**env, "QUEUE_NAME": queue})
    clock = Clock()
    state = AppState(settings=settings, manage_db=False, redis=redis, clock=clock)
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://herald.test") as http:
        yield Api(GQL(http, admin_token), clock, redis, queue)


async def _claim(mailing_id: int, at: datetime = NOW) -> list[Claimed]:
    found = await claim([Scope(mailing_id, None)], at, "w1", at + timedelta(minutes=1), 50)
    return sorted(found, key=lambda m: m.id)


def _failure(
    m: Claimed, event: MessageEvent, *, at: datetime, cls: ErrorClass, status: int | None
) -> Outcome:
    error = f"HTTP {status}" if status else "timeout"
    return Outcome(
        id=m.id,
        event=event,
        next_attempt_at=at + timedelta(seconds=30) if event == MessageEvent.RETRY else None,
        error=error,
        lease_until=m.lease_until,
        attempt=Attempt(
            number=m.attempts, at=at, error_class=cls, http_status=status, latency=0.0125
        ),
    )


async def test_window_and_due_messages_say_why_and_when(api: Api) -> None:
    window = {"start": "09:00", "end": "17:00"}
    mailing_id = await api.mailing(["UTC", "Asia/Tokyo"], NOW + timedelta(days=1), window=window)
    by_phone = await api.messages(mailing_id)
    utc, tokyo = by_phone["79160000000"], by_phone["79160000001"]
    assert (utc["status"], utc["waitingFor"]) == ("PENDING", "NONE")
    assert utc["nextAttemptAt"] == NOW.isoformat()
    # 21:00 in Tokyo: it waits for 09:00 there, midnight UTC.
    assert (tokyo["status"], tokyo["waitingFor"]) == ("PENDING", "WINDOW")
    assert tokyo["nextAttemptAt"] == "2030-06-04T00:00:00+00:00"
    api.clock.now = datetime(2030, 6, 3, 16, 59, tzinfo=UTC)  # still open in UTC
    assert (await api.messages(mailing_id))["79160000000"]["waitingFor"] == "NONE"
    api.clock.now = datetime(2030, 6, 3, 13, 0, tzinfo=UTC) + timedelta(hours=4)
    assert (await api.messages(mailing_id))["79160000000"]["waitingFor"] == "WINDOW"


async def test_backoff_pause_end_and_circuit(api: Api) -> None:
    mailing_id = await api.mailing(["UTC", "UTC", "UTC"])
    first, second, third = await _claim(mailing_id)
    failed = _failure(first, MessageEvent.RETRY, at=NOW, cls=ErrorClass.TRANSIENT, status=503)
    released = Outcome(
        id=second.id,
        event=MessageEvent.RELEASE,
        next_attempt_at=END,
        lease_until=second.lease_until,
    )
    await record([failed, released], "w1", NOW)
    await mark_sent([third.id], NOW)
    by_phone = await api.messages(mailing_id)
    retrying, too_late, sent = (by_phone[f"791600000{i:02d}"] for i in range(3))
    assert (retrying["status"], retrying["waitingFor"]) == ("RETRYING", "RETRY_BACKOFF")
    assert retrying["nextAttemptAt"] == (NOW + timedelta(seconds=30)).isoformat()
    assert (too_late["status"], too_late["waitingFor"], too_late["attempts"]) == (
        "PENDING",
        "END",
        0,
    )
    assert (sent["status"], sent["waitingFor"], sent["nextAttemptAt"]) == ("SENT", "NONE", None)
    api.clock.now = NOW + timedelta(seconds=31)  # backoff over: due, unless the circuit is open
    assert (await api.messages(mailing_id))["79160000000"]["waitingFor"] == "NONE"
    await api.redis.set(circuit_key(api.queue), "1", ex=60)
    assert (await api.messages(mailing_id))["79160000000"]["waitingFor"] == "CIRCUIT"
    await api.redis.delete(circuit_key(api.queue))
    await api.gql.ok(f'mutation {{ pauseMailing(id: "{mailing_id}") {{ state }} }}')
    assert (await api.messages(mailing_id))["79160000000"]["waitingFor"] == "PAUSED"


async def test_history_keeps_failed_attempts_only(api: Api) -> None:
    mailing_id = await api.mailing(["UTC", "UTC", "UTC"])
    flaky, doomed, fine = await _claim(mailing_id)
    await record(
        [
            _failure(flaky, MessageEvent.RETRY, at=NOW, cls=ErrorClass.TIMEOUT, status=None),
            _failure(doomed, MessageEvent.REJECT, at=NOW, cls=ErrorClass.REJECTED, status=400),
        ],
        "w1",
        NOW,
    )
    await mark_sent([fine.id], NOW)  # a first-time success: no row
    later = NOW + timedelta(seconds=40)
    [again] = await _claim(mailing_id, later)
    stale = _failure(again, MessageEvent.RETRY, at=later, cls=ErrorClass.TRANSIENT, status=503)
    await record([Outcome(**{**stale.__dict__, "lease_until": NOW})], "w1", later)  # lost lease
    await record(
        [_failure(again, MessageEvent.RETRY, at=later, cls=ErrorClass.TRANSIENT, status=503)],
        "w1",
        later,
    )
    assert await MessageAttempt.filter(mailing_id=mailing_id).count() == 3
    by_phone = await api.messages(mailing_id)
    assert by_phone["79160000002"]["history"] == []
    assert by_phone["79160000001"]["history"] == [
        {
            "attempt": 1,
            "at": NOW.isoformat(),
            "httpStatus": 400,
            "latencyMs": 12.5,
            "errorClass": "REJECTED",
            "error": "HTTP 400",
            "outcome": "FAILED",
        }
    ]
    history = by_phone["79160000000"]["history"]
    assert [(h["attempt"], h["errorClass"], h["httpStatus"]) for h in history] == [
        (2, "TRANSIENT", 503),
        (1, "TIMEOUT", None),
    ]
    assert by_phone["79160000000"]["lastError"] == history[0]["error"] == "HTTP 503"
    query = "query($id: ID!, $n: Int) { mailing(id: $id) { messages { edges { node {"
    query += " history(first: $n) { attempt } } } } } }"
    one = await api.gql.ok(query, id=str(mailing_id), n=1)
    assert [len(e["node"]["history"]) for e in one["mailing"]["messages"]["edges"]] == [1, 1, 0]
    assert error_of(await api.gql(query, id=str(mailing_id), n=-1)) == {
        "code": "BAD_USER_INPUT",
        "field": "first",
    }
    await api.gql.ok(f'mutation {{ deleteMailing(id: "{mailing_id}") }}')
    assert await MessageAttempt.filter(mailing_id=mailing_id).count() == 0


async def test_timeline_through_the_api(api: Api) -> None:
    mailing_id = await api.mailing(["UTC"] * 4)
    ids = await _claim(mailing_id)
    await mark_sent([ids[0].id], NOW + timedelta(seconds=5))
    await mark_sent([ids[1].id], NOW + timedelta(seconds=70))
    minute = NOW + timedelta(seconds=61)
    retry = _failure(ids[2], MessageEvent.RETRY, at=minute, cls=ErrorClass.TRANSIENT, status=500)
    reject = _failure(ids[3], MessageEvent.REJECT, at=minute, cls=ErrorClass.REJECTED, status=404)
    await record([retry, reject], "w1", minute)
    api.clock.now = NOW + timedelta(seconds=150)
    viewer = GQL(api.gql.http, await create_token(Role.VIEWER, name="charts"))
    body = await viewer(TIMELINE, id=str(mailing_id), bucket="MINUTE")
    assert body["extensions"]["cost"]["nodes"] == 500
    points = body["data"]["mailing"]["timeline"]
    assert points == [
        {"start": NOW.isoformat(), "sent": 1, "failed": 0, "retried": 0},
        {"start": "2030-06-03T12:01:00+00:00", "sent": 1, "failed": 1, "retried": 1},
        {"start": "2030-06-03T12:02:00+00:00", "sent": 0, "failed": 0, "retried": 0},
    ]
    hour = await api.gql.ok(TIMELINE, id=str(mailing_id), bucket="HOUR")
    assert hour["mailing"]["timeline"] == [
        {"start": NOW.isoformat(), "sent": 2, "failed": 1, "retried": 1}
    ]
    ranged = await api.gql.ok(
        TIMELINE, id=str(mailing_id), bucket="SECOND", **{"from": minute.isoformat()}
    )
    assert len(ranged["mailing"]["timeline"]) == 89  # 12:01:01 up to now, 12:02:30
    assert sum(p["sent"] for p in ranged["mailing"]["timeline"]) == 1


@pytest.mark.parametrize(
    "variables,field",
    [
        ({"bucket": "SECOND", "to": (NOW + timedelta(hours=1)).isoformat()}, "bucket"),
        ({"bucket": "MINUTE", "from": NOW.isoformat(), "to": NOW.isoformat()}, "to"),
        ({"bucket": "MINUTE", "from": "2030-06-03T12:00:00"}, "from"),
        ({"bucket": "MINUTE", "from": "0001-01-01T00:00:00+03:00"}, "from"),
        ({"bucket": "WEEK"}, None),  # a variable's coercion: the message names $bucket
    ],
    ids=["too many buckets", "empty range", "naive from", "from out of range", "no such bucket"],
)
async def test_timeline_refusals(api: Api, variables: dict[str, str], field: str | None) -> None:
    mailing_id = await api.mailing(["UTC"])
    body = await api.gql(TIMELINE, id=str(mailing_id), **variables)
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": field}


async def test_timeline_of_an_unstarted_mailing_is_empty(api: Api) -> None:
    period = {"startAt": (NOW + timedelta(hours=1)).isoformat(), "endAt": END.isoformat()}
    data = await api.gql.ok(CREATE, m={"text": "Hi", **period, "filter": {}})
    timeline = await api.gql.ok(TIMELINE, id=data["createMailing"]["id"], bucket="SECOND")
    assert timeline["mailing"]["timeline"] == []

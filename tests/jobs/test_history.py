"""Attempt history and the timeline from real deliveries: the worker against the probe
simulator. A healthy delivery writes no history row; a faulty one keeps every failed attempt,
and the timeline adds up to the statistics."""

from __future__ import annotations

from typing import Any

from models.attempts import MessageAttempt
from tests.support.delivery import all_final, clients, in_state, mailing, status_counts
from tests.support.engine import Engine, wait_for

HISTORY = """query($id: ID!) { mailing(id: $id) {
  messages(first: 100) { edges { node { status attempts lastError waitingFor nextAttemptAt
    history(first: 8) { attempt httpStatus errorClass error outcome latencyMs } } } } } }"""


TIMELINE = """query($id: ID!) { mailing(id: $id) {
  timeline(bucket: MINUTE) { sent failed retried } } }"""


async def _read(engine: Engine, mailing_id: int) -> dict[str, Any]:
    """Messages with their history (100 + 100 x 8 nodes), then the timeline (500 nodes)."""
    data = await engine.gql.ok(HISTORY, id=str(mailing_id))
    timeline = await engine.gql.ok(TIMELINE, id=str(mailing_id))
    found: dict[str, Any] = {**data["mailing"], **timeline["mailing"]}
    return found


async def test_a_healthy_delivery_writes_no_history(engine: Engine) -> None:
    await clients(engine, 40)
    await engine.start_worker()
    mid = await mailing(engine)
    await wait_for(lambda: in_state(mid, "FINISHED"), what="FINISHED")
    assert await status_counts(mid) == {"SENT": 40}
    assert await MessageAttempt.all().count() == 0
    read = await _read(engine, mid)
    nodes = [e["node"] for e in read["messages"]["edges"]]
    assert all(n["history"] == [] and n["waitingFor"] == "NONE" for n in nodes)
    assert all(n["nextAttemptAt"] is None for n in nodes)
    assert sum(p["sent"] for p in read["timeline"]) == 40
    assert sum(p["failed"] + p["retried"] for p in read["timeline"]) == 0


async def test_every_failed_attempt_is_kept(engine: Engine) -> None:
    await clients(engine, 60)
    engine.configure(error_rate=0.3, reject_rate=0.15, garbage_rate=0.1, seed=7)
    await engine.start_worker()
    mid = await mailing(engine)
    await wait_for(lambda: all_final(mid), what="all messages final")
    await wait_for(lambda: in_state(mid, "FINISHED"), timeout=5, what="FINISHED")
    read = await _read(engine, mid)
    nodes = [e["node"] for e in read["messages"]["edges"]]
    counts = await status_counts(mid)
    assert counts.get("FAILED", 0) > 0 and counts.get("SENT", 0) > 0
    retried = 0
    for node in nodes:
        history = node["history"]
        numbers = [h["attempt"] for h in history]
        assert numbers == sorted(numbers, reverse=True)  # newest first
        retried += sum(h["outcome"] == "RETRYING" for h in history)
        assert all(h["latencyMs"] is not None for h in history)
        if node["status"] == "SENT":  # the success itself is not kept
            assert len(history) == node["attempts"] - 1
            assert all(h["outcome"] == "RETRYING" for h in history)
        else:
            assert node["status"] == "FAILED" and len(history) == node["attempts"]
            assert history[0]["outcome"] == "FAILED"
            assert history[0]["error"] == node["lastError"]
    assert retried > 0
    assert await MessageAttempt.filter(mailing_id=mid).count() == sum(
        len(n["history"]) for n in nodes
    )
    timeline = read["timeline"]
    assert sum(p["sent"] for p in timeline) == counts["SENT"]
    assert sum(p["failed"] for p in timeline) == counts["FAILED"]
    assert sum(p["retried"] for p in timeline) == retried


async def test_a_refused_token_is_kept_and_gives_the_attempt_back(engine: Engine) -> None:
    await clients(engine, 5)
    token = engine.sim.state.config.token
    engine.configure(token="not-herald's")
    await engine.start_worker()
    mid = await mailing(engine)

    async def refused() -> bool:
        return await MessageAttempt.filter(mailing_id=mid, error_class="unauthorized").exists()

    await wait_for(refused, what="a 401 in the history")
    engine.configure(token=token)
    await wait_for(lambda: in_state(mid, "FINISHED"), what="FINISHED once the token is right")
    nodes = [e["node"] for e in (await _read(engine, mid))["messages"]["edges"]]
    kept = [h for n in nodes for h in n["history"] if h["errorClass"] == "UNAUTHORIZED"]
    assert kept and all(h["httpStatus"] == 401 and h["outcome"] == "PENDING" for h in kept)
    assert all(n["status"] == "SENT" and n["attempts"] == 1 for n in nodes)

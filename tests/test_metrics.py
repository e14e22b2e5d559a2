"""/metrics: scraped through the app during a real delivery (real database, Redis, probe
simulator over HTTP, an in-process worker), protected from non-local clients, and merged across
processes in multiprocess mode."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from herald.app import AppState, create_app
from herald.clock import utc_now
from herald.settings import Settings
from jobs.sweep import sweep
from models.mailing import Mailing
from tests.support.api import GQL, error_of
from tests.support.delivery import all_final, clients, mailing
from tests.support.engine import Engine, wait_for
from tests.support.ws import acked, receive

REPO = Path(__file__).resolve().parent.parent
N = 60


def value(text: str, name: str, **labels: str) -> float:
    """The sum of a sample's values over the series matching `labels`."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


async def scrape(http: httpx.AsyncClient, token: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_counters_move_during_a_real_delivery(engine: Engine) -> None:
    http = engine.gql.http
    before = await scrape(http)
    engine.configure(latency_ms=20)
    await clients(engine, N)
    await engine.start_worker()
    mid = await mailing(engine, filter={"tags": []})

    async def sending() -> bool:
        now = await scrape(http)
        return value(now, "herald_messages_total", outcome="accept") > value(
            before, "herald_messages_total", outcome="accept"
        )

    await wait_for(sending, what="accepted messages counted while delivering")
    await wait_for(lambda: all_final(mid), what="all messages final")
    await wait_for(lambda: _finished(mid, engine), timeout=10, what="FINISHED")

    async def swept() -> bool:  # the sweep runs at the worker's start, then every second
        now = await scrape(http)
        return value(now, "herald_sweep_duration_seconds_count") > value(
            before, "herald_sweep_duration_seconds_count"
        )

    await wait_for(swept, timeout=10, what="a sweep timed")
    after = await scrape(http)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("herald_messages_total", outcome="accept") == N
    assert moved("herald_messages_claimed_total") >= N
    assert moved("herald_probe_outcomes_total", outcome="accepted") == N
    assert moved("herald_probe_request_duration_seconds_count") >= N
    assert moved("herald_probe_request_duration_seconds_bucket", le="0.01") < N  # 20 ms each
    assert moved("herald_mailing_transitions_total", event="start") == 1
    assert moved("herald_mailing_transitions_total", event="finish") == 1
    assert (
        moved(
            "herald_graphql_operations_total",
            type="mutation",
            field="createMailing",
            outcome="ok",
        )
        == 1
    )
    assert moved("herald_graphql_operation_duration_seconds_count", field="createMailing") == 1
    assert value(after, "herald_messages_in_flight") == 0
    assert value(after, "herald_circuit_open") == 0
    assert value(after, "herald_worker_heartbeat_timestamp_seconds") > 0
    assert "herald_due_backlog_messages" in after
    assert "herald_websocket_subscriptions" in after
    _no_ids_in_labels(after)


async def _finished(mailing_id: int, running: Engine) -> bool:
    body = await running.gql.ok("query($id: ID!) { mailing(id: $id) { state } }", id=mailing_id)
    return bool(body["mailing"]["state"] == "FINISHED")


def _no_ids_in_labels(text: str) -> None:
    """No phone number anywhere, and no label value holds a number (an id) except bucket
    bounds and the Python version."""
    phones = [f"79{i:09d}" for i in range(N)]
    assert not [phone for phone in phones if phone in text]
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for label, label_value in sample.labels.items():
                if label in ("le", "generation", "major", "minor", "patchlevel", "version"):
                    continue
                assert not re.search(r"\d", label_value), (sample.name, label, label_value)


async def test_pause_resume_before_start_and_lapse_are_counted_by_event(engine: Engine) -> None:
    http = engine.gql.http
    before = await scrape(http)
    future = await mailing(engine, start=timedelta(hours=1), end=timedelta(hours=2))
    await engine.gql.ok("mutation($id: ID!) { pauseMailing(id: $id) { id } }", id=future)
    resumed = await engine.gql.ok(
        "mutation($id: ID!) { resumeMailing(id: $id) { state } }", id=future
    )
    assert resumed["resumeMailing"]["state"] == "SCHEDULED"
    lapsing = await mailing(engine, start=timedelta(hours=1), end=timedelta(hours=2))
    ended = datetime.now(UTC) - timedelta(
        minutes=1
    )  # its whole period passed while Herald was down
    await Mailing.filter(id=lapsing).update(start_at=ended - timedelta(hours=1), end_at=ended)

    async def announce(_: object) -> None:
        return None

    await sweep({"clock": utc_now, "publish": announce})
    after = await scrape(http)

    def moved(event: str) -> float:
        name = "herald_mailing_transitions_total"
        return value(after, name, event=event) - value(before, name, event=event)

    assert (moved("pause"), moved("resume_unstarted"), moved("resume")) == (1, 1, 0)
    assert moved("lapse") == 1


async def test_graphql_errors_are_counted_by_code(gql: GQL) -> None:
    http = gql.http
    before = await scrape(http)
    body = await gql("mutation($id: ID!) { pauseMailing(id: $id) { id } }", id="999999")
    code = error_of(body)["code"]
    after = await scrape(http)
    labels = {"type": "mutation", "field": "pauseMailing", "outcome": code}
    counted = value(after, "herald_graphql_operations_total", **labels)
    assert counted - value(before, "herald_graphql_operations_total", **labels) == 1


def _app(settings: Settings, client_ip: str) -> httpx.AsyncClient:
    app = create_app(AppState(settings=settings, manage_db=False))
    transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://herald.test")


async def test_metrics_are_refused_to_remote_clients_without_the_admin_token(
    settings: Settings, admin_token: str
) -> None:
    async with _app(settings, "203.0.113.7") as remote:
        missing = await remote.get("/metrics")
        wrong = await remote.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert (missing.status_code, missing.json()["code"]) == (401, "UNAUTHENTICATED")
        assert (wrong.status_code, wrong.json()["code"]) == (403, "FORBIDDEN")
        assert "herald_messages_total" not in missing.text + wrong.text
        assert "herald_messages_total" in await scrape(remote, admin_token)
    async with _app(settings, "::1") as local:
        assert "herald_messages_total" in await scrape(local)


async def test_metrics_access_setting(settings: Settings, admin_token: str) -> None:
    env = {"API_ADMIN_TOKEN": admin_token, "DATABASE_URL": settings.database_url}
    token_only = Settings.from_env({**env, "METRICS_ACCESS": "token"})
    async with _app(token_only, "127.0.0.1") as local:
        assert (await local.get("/metrics")).status_code == 401
        assert "herald_messages_total" in await scrape(local, admin_token)
    public = Settings.from_env({**env, "METRICS_ACCESS": "public"})
    async with _app(public, "203.0.113.7") as remote:
        assert "herald_messages_total" in await scrape(remote)


def test_multiprocess_mode_merges_every_process(tmp_path: Path) -> None:
    """Two processes count (as the API and a worker would); a third exposes their sum."""
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": ""}
    count = "import metrics; metrics.MESSAGES.labels(outcome='accept').inc(3)"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], cwd=REPO, env=env, check=True)
    show = "import metrics; print(metrics.exposition()[0].decode())"
    out = subprocess.run(
        [sys.executable, "-c", show], cwd=REPO, env=env, check=True, capture_output=True, text=True
    )
    assert value(out.stdout, "herald_messages_total", outcome="accept") == 6


async def test_active_subscriptions_are_a_gauge_on_a_real_server(
    url: str,
    admin_token: str,
) -> None:
    http_url = url.replace("ws://", "http://").removesuffix("/graphql")
    async with httpx.AsyncClient(base_url=http_url) as http:
        before = value(await scrape(http), "herald_websocket_subscriptions")
        ws = await acked(url, admin_token)
        subscribe = {"query": "subscription { overallStats { mailings } }"}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        assert (await receive(ws))["type"] == "next"
        during = value(await scrape(http), "herald_websocket_subscriptions")
        await ws.send(json.dumps({"id": "1", "type": "complete"}))
        await ws.close()

        async def released() -> bool:
            return value(await scrape(http), "herald_websocket_subscriptions") == before

        assert during == before + 1
        await wait_for(released, timeout=10, what="the subscription gauge back down")

"""Latency of the query shapes the cost limit (gql/cost.py) allows and refuses, on a seeded
database: `python -m bench.cost [--mailings 1000 --clients 1000] [--url postgres://…]`.

Seeding is three set-based statements (clients, mailings, then every mailing x every client
as SENT messages), so a million messages take seconds, not a Python loop."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from gql import cost
from gql.cost import MIN_PAGE_COST
from herald import db
from herald.app import AppState, create_app
from herald.settings import Settings
from models.pages import MAX_PAGE
from models.sql import db as conn
from models.sql import is_postgres

TS = "'2026-01-01 00:00:00+00:00'"
END = "'2026-01-02 00:00:00+00:00'"
SQLITE_SERIES = "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) "
CLIENTS_SQLITE = (
    SQLITE_SERIES + "INSERT INTO client (phone, operator_code, tag, timezone, created_at,"
    f" updated_at) SELECT printf('79%09d', i), '900', NULL, 'UTC', {TS}, {TS} FROM s"
)
CLIENTS_PG = (
    "INSERT INTO client (phone, operator_code, tag, timezone, created_at, updated_at)"
    f" SELECT '79' || lpad(i::text, 9, '0'), '900', NULL, 'UTC', {TS}, {TS}"
    " FROM generate_series(1, {n}) AS i"
)
MAILINGS = (
    "INSERT INTO mailing (text, start_at, end_at, operator_codes, tags, state, created_at,"
    f" updated_at) SELECT 'Bench ' || i, {TS}, {END}, '[]', '[]', 'FINISHED', {TS}, {TS}"
)
MAILINGS_SQLITE = SQLITE_SERIES + MAILINGS + " FROM s"
MAILINGS_PG = MAILINGS + " FROM generate_series(1, {n}) AS i"
MESSAGES = (
    "INSERT INTO message (mailing_id, client_id, phone, timezone, status, attempts,"
    f" created_at, updated_at, sent_at) SELECT m.id, c.id, c.phone, c.timezone, 'SENT', 1,"
    f" {TS}, {TS}, {TS} FROM mailing m CROSS JOIN client c"
)

NODE = "id phone mailing { id text } client { id phone }"


def nested(outer: int, inner: int, alias: str = "") -> str:
    """The issue's shape: mailings x their messages, each message with its mailing and client."""
    return (
        f"{alias}mailings(first: {outer}) {{ edges {{ node {{ id"
        f" messages(first: {inner}) {{ totalCount edges {{ node {{ {NODE} }} }} }} }} }} }}"
    )


async def seed(mailings: int, clients: int) -> None:
    """`mailings` FINISHED mailings, each with one SENT message per client."""
    c = conn()
    pg = is_postgres()
    await c.execute_script((CLIENTS_PG if pg else CLIENTS_SQLITE).format(n=clients))
    await c.execute_script((MAILINGS_PG if pg else MAILINGS_SQLITE).format(n=mailings))
    await c.execute_script(MESSAGES)
    if pg:
        await c.execute_script("ANALYZE client; ANALYZE mailing; ANALYZE message")


def shapes(budget: int) -> list[tuple[str, str]]:
    """The issue's query, then the costliest shapes the budget allows: few big pages, many
    small ones (a count and a page query each), and as many aliased pages as it allows."""
    floor = MIN_PAGE_COST
    deep = max(1, (budget - floor) // (MAX_PAGE + 1) if budget > floor + MAX_PAGE else 1)
    wide = max(1, (budget - floor) // floor)
    count = min(30, budget // floor)
    aliases = " ".join(
        f'a{i}: mailing(id: "{i + 1}") {{ id messages(first: {floor}) {{ totalCount'
        f" edges {{ node {{ {NODE} }} }} }} }}"
        for i in range(count)
    )
    return [
        ("issue: mailings(500) x messages(500)", "{ " + nested(500, 500) + " }"),
        ("mailings(100) x messages(9)", "{ " + nested(100, 9) + " }"),
        (f"mailings({deep}) x messages({MAX_PAGE})", "{ " + nested(deep, MAX_PAGE) + " }"),
        (f"mailings({wide}) x messages({floor})", "{ " + nested(wide, floor) + " }"),
        (f"mailings({wide}) x messages(9)", "{ " + nested(wide, 9) + " }"),
        (f"{count} aliases: mailing(id) x messages({floor})", "{ " + aliases + " }"),
        (
            f"one page: mailing(id) x messages({MAX_PAGE})",
            '{ mailing(id: "1") { messages('
            f"first: {MAX_PAGE}) {{ totalCount edges {{ node {{ {NODE} }} }} }} }} }}",
        ),
        ("clients(500)", "{ clients(first: 500) { edges { node { id phone tag } } } }"),
    ]


async def measure(url: str, mailings: int, clients: int, runs: int, budget: int) -> None:
    if url.startswith("postgres"):
        await db.connect(url)
        await conn().execute_script("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        await db.disconnect()
    await db.migrate(url)
    await db.connect(url)
    try:
        started = time.perf_counter()
        await seed(mailings, clients)
        print(f"seeded {mailings * clients:,} messages in {time.perf_counter() - started:.1f} s")
        token = secrets.token_urlsafe(16)
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings.from_env(
                {"DATABASE_URL": url, "API_ADMIN_TOKEN": token, "DATA_DIR": tmp}
            )
            app = create_app(AppState(settings=settings, manage_db=False))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://herald.bench", timeout=600
            ) as http:
                for name, query in shapes(budget):
                    times, body = [], {}
                    for _ in range(runs):
                        t0 = time.perf_counter()
                        response = await http.post(
                            "/graphql",
                            json={"query": query},
                            headers={"Authorization": f"Bearer {token}"},
                        )
                        times.append(time.perf_counter() - t0)
                        body = response.json()
                    nodes = body.get("extensions", {}).get("cost", {}).get("nodes")
                    if body.get("errors"):
                        nodes = body["errors"][0]["extensions"].get("cost")
                    outcome = "refused" if body.get("errors") else "answered"
                    print(
                        f"{name:<48} cost {nodes!s:>8}  {outcome:<8}"
                        f" median {statistics.median(times) * 1000:7.0f} ms"
                        f"  max {max(times) * 1000:7.0f} ms"
                    )
    finally:
        await db.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cost")
    parser.add_argument("--mailings", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--budget", type=int, help="the limit to serve with (default: ours)")
    parser.add_argument("--shapes-for", type=int, help="budget the shapes fill (default: --budget)")
    args = parser.parse_args()
    if args.budget:
        cost.BUDGET = args.budget  # read by each request's CostLimit
    with tempfile.TemporaryDirectory(prefix="herald-cost-") as tmp:
        url = args.url or f"sqlite://{Path(tmp) / 'cost.sqlite3'}"
        asyncio.run(
            measure(url, args.mailings, args.clients, args.runs, args.shapes_for or cost.BUDGET)
        )


if __name__ == "__main__":
    main()

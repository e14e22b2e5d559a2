"""Query plans of the statements that touch `message` while a mailing is sent, and of a
client's delete, on a large table: `python -m bench.plans --messages 10000000` (SQLite in a
temporary file, or BENCH_DATABASE_URL). The same statements are checked on a small table by
tests/models/test_message_plans.py.

The table: `--messages / 10` clients, nine PAUSED mailings and a RUNNING one, each with a
message per client, all unsent: the claim must read only the running mailing's rows."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from herald import db
from models.client import delete_client
from models.delivery import CLAIMED_SQLITE, IDS, MARK_SENT, Scope, _claim_sql, claim
from models.mailing import Mailing, MailingState
from models.message import Message
from models.sql import LOCK_CLIENT_MESSAGES, dialect, for_dialect, is_postgres, render
from models.sql import db as conn
from models.states import MessageStatus
from models.transitions import UNSENT
from tests.support.plans import query_plan


@dataclass(frozen=True)
class Table:
    running: int  # the mailing being sent
    client: int  # a client with a message in every mailing
    zones: frozenset[str]


def statements(table: Table, now: datetime) -> dict[str, tuple[str, list[Any]]]:
    """name → (SQL, values) as the worker and deleteClient run them."""
    lease = now + timedelta(seconds=60)
    out: dict[str, tuple[str, list[Any]]] = {}
    for name, scope in (
        ("claim", Scope(table.running, None)),
        ("claim, window open in some zones", Scope(table.running, table.zones)),
    ):
        sql, picks = _claim_sql([scope], 500, is_postgres())
        out[name] = render(sql, dialect(), now=now, owner="w", lease_until=lease, **picks)
    if not is_postgres():
        out["claim: its rows read back (SQLite)"] = render(
            CLAIMED_SQLITE, dialect(), mailings=[table.running], owner="w", lease_until=lease
        )
    ids = list(range(1000, 1150))
    out["mark_sent (150 ids)"] = render(for_dialect(MARK_SENT), dialect(), ids=ids, now=now)
    unsent = [s.value for s in UNSENT]
    cancel = Message.filter(status__in=unsent, client_id=table.client).update(
        status=MessageStatus.CANCELLED, updated_at=now, lease_owner=None
    )
    detach = Message.filter(client_id=table.client).update(client_id=None)
    out["deleteClient: cancel its unsent"] = (cancel.sql(params_inline=True), [])
    out["deleteClient: keep its messages (client NULL)"] = (detach.sql(params_inline=True), [])
    if is_postgres():
        out["deleteClient: lock its messages"] = render(
            LOCK_CLIENT_MESSAGES, dialect(), value=table.client
        )
        out["outcome lock (150 ids)"] = render(
            f"SELECT id FROM message WHERE {IDS.postgres}", dialect(), ids=ids
        )
    return out


async def plans(table: Table, now: datetime) -> dict[str, str]:
    return {
        name: await query_plan(sql, values)
        for name, (sql, values) in statements(table, now).items()
    }


SERIES = {
    "sqlite": (
        "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n})"
        " INSERT INTO client (phone, operator_code, tag, timezone, created_at, updated_at)"
        " SELECT printf('79%09d', i), '900', NULL, CASE i % 3 WHEN 0 THEN 'Europe/Moscow'"
        " WHEN 1 THEN 'Asia/Tokyo' ELSE 'UTC' END, '2026-01-01 00:00:00+00:00',"
        " '2026-01-01 00:00:00+00:00' FROM s WHERE i < {n}"
    ),
    "postgres": (
        "INSERT INTO client (phone, operator_code, tag, timezone, created_at, updated_at)"
        " SELECT '79' || lpad(i::text, 9, '0'), '900', NULL, (ARRAY['Europe/Moscow',"
        " 'Asia/Tokyo', 'UTC'])[i % 3 + 1], now(), now() FROM generate_series(0, {n} - 1) AS i"
    ),
}
MESSAGES = (
    "INSERT INTO message (mailing_id, client_id, phone, timezone, status, attempts,"
    " next_attempt_at, created_at, updated_at) SELECT {mailing}, c.id, c.phone, c.timezone,"
    " 'PENDING', 0, c.created_at, c.created_at, c.created_at FROM client c"
)


async def build(clients: int, mailings: int, now: datetime) -> Table:
    """`clients` clients and `mailings` mailings (the last RUNNING, the older ones PAUSED, so
    their messages come first in (status, next_attempt_at) order), each with one PENDING
    message per client."""
    c = conn()
    await c.execute_script(SERIES[dialect()].format(n=clients))
    ids = []
    for n in range(mailings):
        mailing = await Mailing.create(
            text="plans",
            start_at=now - timedelta(hours=1),
            end_at=now + timedelta(hours=1),
            state=MailingState.RUNNING if n == mailings - 1 else MailingState.PAUSED,
            started_at=now,
        )
        await c.execute_script(MESSAGES.format(mailing=mailing.id))
        ids.append(mailing.id)
    if is_postgres():
        await c.execute_script("ANALYZE")  # what autovacuum does after a bulk load
    client = await Message.filter(mailing_id=ids[-1]).order_by("id").first().values("client_id")
    return Table(ids[-1], int(client["client_id"]), frozenset({"Asia/Tokyo"}))


NEW_INDEXES = {  # migration 0010_perf's, as each database writes their definition
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'message'"
    ' AND (sql LIKE \'%("client_id")\' OR sql LIKE \'%"status", "next_attempt_at")\''
    " AND sql LIKE '%(\"mailing_id\", %')",
    "postgres": "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'message' AND"
    " (indexdef LIKE '%(client_id)' OR indexdef LIKE '%(mailing_id, status, next_attempt_at)')",
}


async def drop_new_indexes() -> None:
    """The table as it was before 0010_perf, for the plans before."""
    for row in await conn().execute_query_dict(NEW_INDEXES[dialect()]):
        await conn().execute_script(f'DROP INDEX "{row["name"]}"')


async def own_plan(sql: str, values: list[Any]) -> str:
    """The plan each database picks by itself (no planner settings: on a large table that is
    the question; tests/support/plans.py prices scans out to ask it of a small one)."""
    if not is_postgres():
        return await query_plan(sql, values)
    rows = await conn().execute_query_dict("EXPLAIN " + sql, values)
    return "\n".join(str(row["QUERY PLAN"]) for row in rows)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="herald-plans-") as tmp:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite://{Path(tmp) / 'plans.sqlite3'}"
        if url.startswith("postgres"):  # from empty: a --before run dropped indexes
            await db.connect(url)
            await conn().execute_script("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            await db.disconnect()
        await db.migrate(url)
        await db.connect(url)
        try:
            now = datetime.now(UTC)
            started = time.perf_counter()
            table = await build(args.messages // args.mailings, args.mailings, now)
            total = await Message.all().count()
            print(f"{total:,} messages in {time.perf_counter() - started:.0f} s ({dialect()})")
            now = datetime.now(UTC)  # after the load: every message is due (PostgreSQL
            # stamped them with its own now())
            if args.before:
                await drop_new_indexes()
                print("without 0010_perf's indexes")
            for name, (sql, values) in statements(table, now).items():
                print(f"\n### {name}\n{await own_plan(sql, values)}")
            lease = now + timedelta(seconds=60)
            started = time.perf_counter()
            claimed = await claim([Scope(table.running, None)], now, "w", lease, 500)
            print(f"\nclaim of {len(claimed)}: {(time.perf_counter() - started) * 1000:.0f} ms")
            started = time.perf_counter()
            await delete_client(table.client, now)
            print(f"deleteClient: {(time.perf_counter() - started) * 1000:.0f} ms")
        finally:
            await db.disconnect()


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.plans")
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--mailings", type=int, default=10)
    parser.add_argument("--before", action="store_true", help="drop 0010_perf's indexes first")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))

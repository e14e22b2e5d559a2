"""`render`, the one place named parameters become placeholders: a table of cases per dialect,
and the rendered forms run on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from tortoise.backends.sqlite.client import SqliteClient

import models.sql as sql_module
from models.delivery import mark_sent, record
from models.mailing import Mailing
from models.sql import (
    POSTGRES,
    SQLITE,
    PerDialect,
    db,
    fetch,
    is_lock_conflict,
    json_rows,
    render,
    write_each,
    write_statements,
    write_then_fetch,
    write_transaction,
)
from tests.support.database import BACKENDS

CASES: list[tuple[str, dict[str, Any], str, str, list[Any]]] = [
    # sql, params, PostgreSQL text, SQLite text, values
    ("a = :a", {"a": 1}, "a = $1", "a = ?1", [1]),
    ("a = :a AND b > :a", {"a": 1}, "a = $1 AND b > $1", "a = ?1 AND b > ?1", [1]),
    ("b = :b AND a = :a", {"a": 1, "b": 2}, "b = $1 AND a = $2", "b = ?1 AND a = ?2", [2, 1]),
    ("id IN (:ids)", {"ids": [7, 5]}, "id IN ($1, $2)", "id IN (?1, ?2)", [7, 5]),
    ("id IN (:ids)", {"ids": (7,)}, "id IN ($1)", "id IN (?1)", [7]),
    ("tz IN (:z)", {"z": frozenset({"b", "a"})}, "tz IN ($1, $2)", "tz IN (?1, ?2)", ["a", "b"]),
    ("id IN (:ids)", {"ids": []}, "id IN (NULL)", "id IN (NULL)", []),
    (
        "x IN (:ids) AND y = :y AND z IN (:ids)",
        {"ids": [1, 2], "y": "s"},
        "x IN ($1, $2) AND y = $3 AND z IN ($1, $2)",
        "x IN (?1, ?2) AND y = ?3 AND z IN (?1, ?2)",
        [1, 2, "s"],
    ),
    ("SELECT :at::timestamptz", {"at": "t"}, "SELECT $1::timestamptz", "SELECT ?1", ["t"]),
    ("SELECT :ids::bigint[]", {"ids": "{}"}, "SELECT $1::bigint[]", "SELECT ?1", ["{}"]),
    ("a::text = :a", {"a": "x"}, "a::text = $1", "a::text = ?1", ["x"]),
    ("t = '12:30' AND a = :a", {"a": 1}, "t = '12:30' AND a = $1", "t = '12:30' AND a = ?1", [1]),
    (
        "t = 'it''s :a' OR a = :a",
        {"a": 1},
        "t = 'it''s :a' OR a = $1",
        "t = 'it''s :a' OR a = ?1",
        [1],
    ),
    ("a = :a_1 OR b = :a", {"a": 1, "a_1": 2}, "a = $1 OR b = $2", "a = ?1 OR b = ?2", [2, 1]),
    ("e IS NULL", {}, "e IS NULL", "e IS NULL", []),
    ("s = :s", {"s": "abc"}, "s = $1", "s = ?1", ["abc"]),  # a string is one value, not a list
    ("n = :n", {"n": None}, "n = $1", "n = ?1", [None]),
]


@pytest.mark.parametrize(("sql", "params", "postgres", "sqlite", "values"), CASES)
def test_render(
    sql: str, params: dict[str, Any], postgres: str, sqlite: str, values: list[Any]
) -> None:
    assert render(sql, POSTGRES, **params) == (postgres, values)
    assert render(sql, SQLITE, **params) == (sqlite, values)


@pytest.mark.parametrize(
    ("sql", "params", "error"),
    [
        ("a = :a", {}, KeyError),  # a placeholder nobody gave
        ("a = :a", {"a": 1, "b": 2}, KeyError),  # a value nothing uses (a typo in the SQL)
        ("a = 1", {"a": 1}, KeyError),
        ("t = ':a'", {"a": 1}, KeyError),  # inside a literal: not a placeholder
    ],
)
def test_render_refuses_mismatched_parameters(
    sql: str, params: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        render(sql, SQLITE, **params)


def test_render_knows_two_dialects() -> None:
    with pytest.raises(ValueError, match="mysql"):
        render("a = :a", "mysql", a=1)


async def test_rendered_statements_run(database: str) -> None:
    first = await Mailing.create(text="a", start_at="2030-01-01T00:00Z", end_at="2030-01-02T00:00Z")
    second = await Mailing.create(
        text="b", start_at="2030-01-01T00:00Z", end_at="2030-01-02T00:00Z"
    )
    select = "SELECT id FROM mailing WHERE id IN (:ids) AND text <> :t ORDER BY id"
    assert await fetch(select, ids=[second.id, first.id], t="x") == [
        {"id": first.id},
        {"id": second.id},
    ]
    assert await fetch(select, ids=[first.id], t="a") == []
    assert await fetch(select, ids=[], t="x") == []  # an empty list matches nothing
    assert await fetch("SELECT :n::int + 1 AS n", n=41) == [{"n": 42}]


def test_json_rows_writes_datetimes_as_the_sqlite_adapter_does() -> None:
    at = datetime(2030, 1, 1, 12, 0, 0, 250, tzinfo=UTC)
    assert json_rows([{"id": 1, "at": at, "err": None}]) == (
        '[{"id":1,"at":"2030-01-01 12:00:00.000250+00:00","err":null}]'
    )
    with pytest.raises(TypeError):
        json_rows([{"x": object()}])


async def test_json_rows_round_trip(database: str) -> None:
    """A datetime sent as a JSON row compares equal to the same datetime stored by the ORM."""
    at = datetime(2030, 1, 1, 12, 0, 0, 250, tzinfo=UTC)
    mailing = await Mailing.create(text="a", start_at=at, end_at=at + timedelta(hours=1))
    sql = PerDialect(
        postgres="SELECT m.id FROM mailing m, json_to_recordset(:rows::json)"
        " AS r(id int, at timestamptz) WHERE m.id = r.id AND m.start_at = r.at",
        sqlite="SELECT m.id FROM mailing m, json_each(:rows) r"
        " WHERE m.id = json_extract(r.value, '$.id')"
        " AND m.start_at = json_extract(r.value, '$.at')",
    )
    assert await fetch(sql, rows=json_rows([{"id": mailing.id, "at": at}])) == [{"id": mailing.id}]
    later = at + timedelta(microseconds=1)
    assert await fetch(sql, rows=json_rows([{"id": mailing.id, "at": later}])) == []


# The write lock held by another process: a real `python` child holding BEGIN IMMEDIATE on the
# same file until told to commit.
HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE mailing SET text = 'by the holder'")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
"""


@contextlib.asynccontextmanager
async def lock_held_by_another_process() -> AsyncIterator[asyncio.subprocess.Process]:
    conn = db()
    assert isinstance(conn, SqliteClient)
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, conn.filename,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert holder.stdout and holder.stdin
    try:
        assert await holder.stdout.readline() == b"locked\n"
        yield holder
    finally:
        if holder.returncode is None:
            holder.kill()
        await holder.wait()


async def busy_timeout() -> int:
    [row] = await fetch("PRAGMA busy_timeout")
    return int(next(iter(row.values())))


def polling(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once beginning found the lock taken and pauses before trying again (the pause runs
    on the connection's thread, so the event is a thread's)."""
    polled = threading.Event()

    def pause(seconds: float) -> None:
        polled.set()
        time.sleep(seconds)

    monkeypatch.setattr(sql_module, "time", SimpleNamespace(sleep=pause, monotonic=time.monotonic))
    return polled


@write_transaction
async def _rename(mailing_id: int) -> str:
    """Read, then write, in one write transaction: what it read comes back."""
    seen = (await Mailing.get(id=mailing_id)).text
    await Mailing.filter(id=mailing_id).update(text="by the transaction")
    return seen


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_write_transaction_waits_for_another_process_then_begins(
    database: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Beginning polls for the lock (not SQLite's coarse busy handler): it begins only once the
    other process has committed, so it reads that process's write, and the connection's busy
    timeout is the same afterwards."""
    mailing = await Mailing.create(text="t", start_at=datetime.now(UTC), end_at=datetime.now(UTC))
    before = await busy_timeout()
    polled = polling(monkeypatch)
    async with lock_held_by_another_process() as holder:
        waiting = asyncio.ensure_future(_rename(mailing.id))
        assert await asyncio.to_thread(polled.wait, 10)
        assert not waiting.done()
        assert holder.stdin
        holder.stdin.write(b"commit\n")
        await holder.stdin.drain()
        assert await waiting == "by the holder"
    assert (await Mailing.get(id=mailing.id)).text == "by the transaction"
    assert await busy_timeout() == before > 0
    assert "lock conflict" not in caplog.text  # it waited; it did not fail and re-run


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_lock_held_past_the_busy_timeout_fails_as_a_lock_conflict(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wait is bounded by the connection's busy timeout, attempt after attempt; then the
    caller gets the lock conflict, and the connection is usable again."""
    mailing = await Mailing.create(text="t", start_at=datetime.now(UTC), end_at=datetime.now(UTC))
    before = await busy_timeout()
    monkeypatch.setattr(sql_module, "RETRY_BASE_SECONDS", 0.001)
    await fetch("PRAGMA busy_timeout = 20")
    try:
        async with lock_held_by_another_process():
            with pytest.raises(Exception) as caught:
                await _rename(mailing.id)
            assert is_lock_conflict(caught.value)
        assert await busy_timeout() == 20
        assert await _rename(mailing.id) == "t"  # the holder was killed: its write is gone
    finally:
        await fetch(f"PRAGMA busy_timeout = {before}")


def _text_of(filename: str, mailing_id: int) -> str:
    """The mailing's text as a connection of its own sees it (what is committed)."""
    with contextlib.closing(sqlite3.connect(filename)) as own:
        (text,) = own.execute("SELECT text FROM mailing WHERE id = ?", [mailing_id]).fetchone()
        return str(text)


RENAME = "UPDATE mailing SET text = :text WHERE id = :id"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_write_commits_while_the_event_loop_that_started_it_is_busy(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole transaction, BEGIN IMMEDIATE to COMMIT, runs on the connection's thread: a
    worker's event loop busy with its sends does not keep the database's one write lock held
    (every API mutation waited for it). Through write_transaction each statement waited for
    the loop, so this failed: the write was not committed while the loop was blocked."""
    conn = db()
    assert isinstance(conn, SqliteClient)
    mailing = await Mailing.create(text="t", start_at=datetime.now(UTC), end_at=datetime.now(UTC))
    entered, returned = threading.Event(), threading.Event()
    transactions = sql_module._sqlite_transactions

    def observed(*args: Any) -> None:  # on the connection's thread
        entered.set()
        try:
            transactions(*args)
        finally:
            returned.set()

    monkeypatch.setattr(sql_module, "_sqlite_transactions", observed)
    writing = asyncio.ensure_future(write_statements((RENAME, {"text": "new", "id": mailing.id})))
    assert await asyncio.to_thread(entered.wait, 10)  # handed to the connection's thread
    finished = returned.wait(10)  # blocks the event loop meanwhile
    committed = _text_of(conn.filename, mailing.id) == "new"
    await writing
    assert finished and committed


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_write_each_runs_transactions_of_their_own(database: str) -> None:
    """A failing transaction is rolled back whole and raised; those before it stay committed
    and are not run again."""
    a, b = [
        await Mailing.create(text="t", start_at=datetime.now(UTC), end_at=datetime.now(UTC))
        for _ in range(2)
    ]
    with pytest.raises(sqlite3.OperationalError, match="no such column"):
        await write_each(
            [
                [(RENAME, {"text": "first", "id": a.id})],
                [(RENAME, {"text": "second", "id": b.id}), ("UPDATE mailing SET nope = 1", {})],
            ]
        )
    assert [(await Mailing.get(id=m.id)).text for m in (a, b)] == ["first", "t"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_write_each_waits_for_another_process_then_writes(
    database: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """On the connection's thread it polls for the lock, as write_transaction's begin does:
    once the other process commits, every transaction is written, none failed and re-run, and
    the connection's busy timeout is what it was."""
    a, b = [
        await Mailing.create(text="t", start_at=datetime.now(UTC), end_at=datetime.now(UTC))
        for _ in range(2)
    ]
    before = await busy_timeout()
    polled = polling(monkeypatch)
    async with lock_held_by_another_process() as holder:
        writing = asyncio.ensure_future(
            write_each(
                [[(RENAME, {"text": "mine", "id": m.id})] for m in (a, b)],
            )
        )
        assert await asyncio.to_thread(polled.wait, 10)  # it found the lock taken
        assert not writing.done()
        assert holder.stdin
        holder.stdin.write(b"commit\n")
        await holder.stdin.drain()
        await writing
    assert [(await Mailing.get(id=m.id)).text for m in (a, b)] == ["mine", "mine"]
    assert await busy_timeout() == before > 0
    assert "lock conflict" not in caplog.text


APPEND = "UPDATE mailing SET text = text || :more WHERE id = :id"
TEXT = "SELECT id, text FROM mailing WHERE id = :id"


async def test_write_then_fetch_reads_what_it_wrote(database: str) -> None:
    mailing = await Mailing.create(text="t", start_at=datetime.now(UTC), end_at=datetime.now(UTC))
    rows = await write_then_fetch(
        (APPEND, {"more": "x", "id": mailing.id}), (TEXT, {"id": mailing.id})
    )
    assert rows == [{"id": mailing.id, "text": "tx"}]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_write_then_fetch_is_one_call_on_the_connections_thread(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim's write and its read-back cost one wait for the event loop, not two: one job
    for aiosqlite's thread (write_statements then fetch would be two)."""
    conn = db()
    assert isinstance(conn, SqliteClient)
    mailing = await Mailing.create(text="t", start_at=datetime.now(UTC), end_at=datetime.now(UTC))
    async with conn.acquire_connection() as connection:
        jobs = []
        execute = connection._execute

        async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
            jobs.append(fn)
            return await execute(fn, *args, **kwargs)

        monkeypatch.setattr(connection, "_execute", counted)
    rows = await write_then_fetch(
        (APPEND, {"more": "y", "id": mailing.id}), (TEXT, {"id": mailing.id})
    )
    assert rows == [{"id": mailing.id, "text": "ty"}]
    assert len(jobs) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_write_then_fetch_does_not_write_again_when_the_read_fails(database: str) -> None:
    mailing = await Mailing.create(text="t", start_at=datetime.now(UTC), end_at=datetime.now(UTC))
    with pytest.raises(sqlite3.OperationalError, match="no such column"):
        await write_then_fetch(
            (APPEND, {"more": "z", "id": mailing.id}), ("SELECT nope FROM mailing", {})
        )
    assert (await Mailing.get(id=mailing.id)).text == "tz"


if "postgres" in BACKENDS:  # row locks exist only on PostgreSQL

    @pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
    async def test_a_deadlock_is_retried_and_logged_with_postgres_detail(
        database: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Two write transactions that lock two rows in opposite orders: PostgreSQL aborts one,
        it is re-run and commits, and its log line carries the DETAIL naming the processes and
        locks (what a deadlock's cause is found from)."""
        now = datetime.now(UTC)
        a, b = [await Mailing.create(text="t", start_at=now, end_at=now) for _ in range(2)]
        first_locked = {a.id: asyncio.Event(), b.id: asyncio.Event()}

        @write_transaction
        async def cross(mine: int, theirs: int) -> None:
            await Mailing.filter(id=mine).update(text=f"by {mine}")
            first_locked[mine].set()
            await first_locked[theirs].wait()  # both hold their first row: a cycle next
            await Mailing.filter(id=theirs).update(text=f"by {mine}")

        await asyncio.wait_for(asyncio.gather(cross(a.id, b.id), cross(b.id, a.id)), timeout=30)
        retried = [r.getMessage() for r in caplog.records if "lock conflict" in r.getMessage()]
        assert len(retried) == 1, retried
        assert "deadlock detected" in retried[0] and "waits for" in retried[0]


async def test_write_each_with_nothing_to_write_touches_no_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker's flush writes every 50 ms, mostly nothing at all: no round trip then."""

    def no_connection() -> None:
        pytest.fail("write_each asked for a connection with nothing to write")

    monkeypatch.setattr(sql_module, "db", no_connection)
    await write_each([])
    await mark_sent([], datetime.now(UTC))
    await record([], "w1", datetime.now(UTC))

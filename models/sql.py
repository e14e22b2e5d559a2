"""Raw SQL for the few set-based statements the ORM cannot express in one query: `render`, the
one place named parameters become each database's placeholders, `fetch`/`execute` that run a
named statement, and the one way to write in a transaction (`write_transaction`).

Statements are module-level constants (UPPER_CASE) with `:name` parameters, in the domain
module that uses them; the functions there pick a constant and pass the values by name."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from tortoise import connections
from tortoise.backends.base.client import (
    BaseDBAsyncClient,
    TransactionalDBClient,
    TransactionContext,
)
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections
from tortoise.transactions import in_transaction

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


def db() -> BaseDBAsyncClient:
    conn: BaseDBAsyncClient = connections.get("default")
    return conn


def is_postgres(conn: BaseDBAsyncClient | None = None) -> bool:
    return (conn or db()).capabilities.dialect == "postgres"


# `:name` outside string literals, optionally followed by a PostgreSQL cast (`:ids::bigint[]`).
# A literal is matched first and kept as it is, so `'12:30'` holds no placeholder; `a::text`
# is a cast, not a placeholder (the lookbehind).
_TOKEN = re.compile(r"'(?:[^']|'')*'|(?<![:\w]):([A-Za-z_]\w*)((?:::[A-Za-z_]\w*(?:\[\])?)?)")
POSTGRES, SQLITE = "postgres", "sqlite"


def render(sql: str, dialect: str, /, **params: Any) -> tuple[str, list[Any]]:
    """The one place SQL meets its bind values: `:name` placeholders become numbered ones,
    `$n` on PostgreSQL (asyncpg) and `?n` on SQLite, one number per name however often it is
    used. A list, tuple or set value is expanded in place (`IN (:ids)` → `IN ($1, $2)`;
    empty → `NULL`, which matches nothing). A cast written after a placeholder
    (`:at::timestamptz`) is kept on PostgreSQL, where asyncpg must know a parameter's type
    when the SQL alone does not say it (a SELECT list), and dropped on SQLite. Every
    parameter must be used and every placeholder given: a typo fails here, not in the
    database."""
    if dialect not in (POSTGRES, SQLITE):
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    values: list[Any] = []
    numbers: dict[str, str] = {}

    def number(value: Any) -> str:
        values.append(value)
        return f"${len(values)}" if dialect == POSTGRES else f"?{len(values)}"

    def placeholder(match: re.Match[str]) -> str:
        name, cast = match.group(1), match.group(2)
        if name is None:  # a string literal
            return match.group(0)
        if name not in params:
            raise KeyError(f"SQL parameter :{name} not given")
        if name not in numbers:
            value = params[name]
            if isinstance(value, list | tuple | set | frozenset):
                items = sorted(value) if isinstance(value, set | frozenset) else value
                numbers[name] = ", ".join(number(v) for v in items) or "NULL"
            else:
                numbers[name] = number(value)
        if cast and dialect == POSTGRES:
            return numbers[name] + cast
        return numbers[name]

    text = _TOKEN.sub(placeholder, sql)
    if unused := set(params) - set(numbers):
        raise KeyError(f"SQL parameters not used: {', '.join(sorted(unused))}")
    return text, values


@dataclass(frozen=True)
class PerDialect:
    """A statement whose text differs by database (row locks exist only on PostgreSQL)."""

    postgres: str
    sqlite: str


Statement = str | PerDialect


def dialect() -> str:
    return POSTGRES if is_postgres() else SQLITE


def for_dialect(sql: Statement) -> str:
    """The statement's text for the current connection's database."""
    if isinstance(sql, PerDialect):
        return sql.postgres if is_postgres() else sql.sqlite
    return sql


async def fetch(sql: Statement, /, **params: Any) -> list[dict[str, Any]]:
    """Run one statement with named parameters on the current connection; its rows."""
    text, values = render(for_dialect(sql), dialect(), **params)
    return list(await db().execute_query_dict(text, values))


async def execute(sql: Statement, /, **params: Any) -> None:
    """Run one statement with named parameters on the current connection."""
    text, values = render(for_dialect(sql), dialect(), **params)
    await db().execute_query(text, values)


async def execute_nowait(sql: Statement, /, **params: Any) -> None:
    """Run one best-effort write that must never wait for SQLite's write lock: there it runs
    on a short-lived connection of its own with no busy timeout, and fails at once
    (`sqlite3.OperationalError`, "database is locked") while another process writes. On the
    process's one shared connection it would wait up to the busy timeout, with every other
    query of the process queued behind it. On PostgreSQL (a pool) it runs as usual: bound it
    with the caller's timeout."""
    conn = db()
    if not isinstance(conn, SqliteClient) or conn.filename == ":memory:":
        await execute(sql, **params)
        return
    text, values = render(for_dialect(sql), SQLITE, **params)

    def run() -> None:
        with contextlib.closing(sqlite3.connect(conn.filename, timeout=0)) as own:
            with own:  # commits
                own.execute(text, values)

    await asyncio.to_thread(run)


def json_rows(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as one JSON parameter (`json_to_recordset` on PostgreSQL, `json_each` on SQLite),
    for a statement over many rows whose text must not grow with them. Datetimes are written
    as the SQLite adapter writes them (tortoise's `isoformat(" ")`), which PostgreSQL reads as
    timestamptz: a value read back compares equal to the one stored."""
    return json.dumps(list(rows), default=_json_value, separators=(",", ":"))


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat(" ")
    raise TypeError(f"{type(value).__name__} is not a JSON row value")


LOCK_MAILING_MESSAGES = (
    "SELECT COUNT(*) AS n FROM (SELECT id FROM message WHERE mailing_id = :value"
    " ORDER BY id FOR UPDATE) AS locked"
)
LOCK_CLIENT_MESSAGES = (
    "SELECT COUNT(*) AS n FROM (SELECT id FROM message WHERE client_id = :value"
    " ORDER BY id FOR UPDATE) AS locked"
)
_LOCKS = {"mailing_id": LOCK_MAILING_MESSAGES, "client_id": LOCK_CLIENT_MESSAGES}


async def lock_messages(column: str, value: int) -> None:
    """Lock every message whose `column` (mailing_id or client_id) equals `value`, in id
    order, before touching any of them. Every writer of messages takes their row locks in id
    order (the worker's outcomes too, models/delivery.py), and only then, through the counter
    triggers, mailing_stat rows: with one order there is no deadlock. On SQLite a write
    transaction already holds the database's only write lock, so there is nothing to do."""
    if not is_postgres():
        return
    await fetch(_LOCKS[column], value=value)


# Lock conflicts a transaction may lose and win on a second try: PostgreSQL's deadlock_detected
# and serialization_failure, and SQLite's busy/locked once its busy timeout has run out.
RETRY_SQLSTATES = frozenset({"40P01", "40001"})
WRITE_ATTEMPTS = 5
RETRY_BASE_SECONDS = 0.05


def write_transaction(func: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Run the decorated domain function in one write transaction, retried on lock conflicts.

    On SQLite the transaction begins IMMEDIATE: it takes the database's one write lock before
    its first read, waiting up to the busy timeout (herald/db.py) for a worker in another
    process to commit. tortoise begins a plain (deferred) BEGIN, and a deferred transaction
    that has read cannot be upgraded to a writer while another process writes: SQLite answers
    "database is locked" at once, without waiting. On PostgreSQL it is a normal transaction.

    A deadlock or serialization failure (PostgreSQL) or a lock still held after the busy
    timeout (SQLite) rolls the whole transaction back; it is re-run from the start, up to
    WRITE_ATTEMPTS times with jittered exponential backoff, so no client sees it. Inside an
    enclosing transaction the function simply joins it (the outermost one retries)."""

    @functools.wraps(func)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        if isinstance(db(), TransactionalDBClient):
            return await func(*args, **kwargs)

        async def once() -> T:
            async with _begin_write(db()):
                return await func(*args, **kwargs)

        return await _retrying(func.__qualname__, once)

    return run


async def _retrying(name: str, once: Callable[[], Awaitable[T]]) -> T:
    """Run a whole write transaction, re-running it on a lock conflict (write_transaction)."""
    attempt = 1
    while True:
        try:
            return await once()
        except Exception as exc:
            if attempt == WRITE_ATTEMPTS or not is_lock_conflict(exc):
                raise
            log.warning(
                "lock conflict in %s, retrying (attempt %d of %d): %s%s",
                name,
                attempt + 1,
                WRITE_ATTEMPTS,
                exc,
                _detail(exc),
            )
        delay = RETRY_BASE_SECONDS * 2 ** (attempt - 1)
        await asyncio.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311 - jitter
        attempt += 1


# Rows per write transaction of the worker's set-based writes (a claim's outcomes). On SQLite
# one transaction holds the database's only write lock, and an API mutation waits for it: 100
# rows hold it 2-3 ms. On PostgreSQL rows are locked one by one and each commit waits for the
# disk, so transactions stay large there.
SQLITE_WRITE_ROWS = 100
POSTGRES_WRITE_ROWS = 1000
# Between two of write_each's transactions on SQLite, the lock stays free this long, so a
# writer of another process that polls for it (every BEGIN_POLL_SECONDS) gets in.
WRITE_GAP_SECONDS = 0.003

Steps = Sequence[tuple[Statement, Mapping[str, Any]]]


def rows_per_write() -> int:
    """How many rows one of the worker's write transactions should change (see above)."""
    return POSTGRES_WRITE_ROWS if is_postgres() else SQLITE_WRITE_ROWS


async def write_statements(*steps: tuple[Statement, Mapping[str, Any]]) -> None:
    """Run named statements, in order, as one write transaction: write_transaction for a
    transaction that is nothing but statements, as the worker's writes are."""
    await write_each([steps])


async def write_each(transactions: Sequence[Steps]) -> None:
    """Run each list of named statements (none empty) as a write transaction of its own, one
    after the other (each is retried on a lock conflict as write_transaction's are).

    On SQLite all of them run in one call on the connection's thread, each from BEGIN
    IMMEDIATE to COMMIT, with the lock left free for WRITE_GAP_SECONDS between two. Through
    write_transaction every statement is a round trip through the event loop while the
    database's one write lock is held, and a worker's loop busy with 512 requests in flight took
    40 ms (p50) to 200 ms to come back to it: every API mutation waited that long. Here the lock
    is held only while SQLite works. The wait for the lock polls (`_begin_immediate`) on that
    thread (this process's queries queue behind it either way: the connection is one). A
    sqlite3 error is raised as it is, not translated into tortoise's. Inside an enclosing
    transaction the statements join it. No transactions: nothing is done, no round trip."""
    if not transactions:
        return
    conn = _plain_sqlite()
    if conn is None:
        for steps in transactions:
            await _statements_in_transaction(steps)
        return
    await _on_sqlite_thread(conn, "write_each", transactions)


async def write_then_fetch(
    write: tuple[Statement, Mapping[str, Any]], read: tuple[Statement, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """`write` as one write transaction (as write_statements), then the rows of `read`. On
    SQLite both in ONE call on the connection's thread: each call back from that thread waits
    for the worker's busy event loop (up to tens of ms a time), and a claim, its rows read
    after its commit, is on every send's path. The write is retried on a lock conflict as
    write_statements' are; once it has committed it is never run again."""
    conn = _plain_sqlite()
    if conn is None:
        await write_statements(write)
        return await fetch(read[0], **read[1])
    return await _on_sqlite_thread(conn, "write_then_fetch", [[write]], read)


def _plain_sqlite() -> SqliteClient | None:
    """The process's SQLite connection when no transaction encloses the call (statements may
    then run as transactions of their own on its thread); None on PostgreSQL or inside one."""
    conn = db()
    if isinstance(conn, SqliteClient) and not isinstance(conn, TransactionalDBClient):
        return conn
    return None


async def _on_sqlite_thread(
    conn: SqliteClient,
    name: str,
    transactions: Sequence[Steps],
    read: tuple[Statement, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """write_each's transactions, then `read`'s rows (none without it), in one call on the
    connection's thread; a lock conflict re-runs only what has not committed."""
    remaining = [
        [render(for_dialect(sql), SQLITE, **params) for sql, params in steps]
        for steps in transactions
    ]
    query = None if read is None else render(for_dialect(read[0]), SQLITE, **read[1])
    rows: list[dict[str, Any]] = []

    def call(raw: sqlite3.Connection) -> None:
        nonlocal remaining
        _sqlite_transactions(raw, remaining)
        remaining = []  # all committed: a retry (of the read) writes nothing again
        if query is not None:
            cursor = raw.execute(*query)
            names = [column[0] for column in cursor.description]
            rows.extend(dict(zip(names, row, strict=True)) for row in cursor.fetchall())

    async def once() -> None:
        nonlocal remaining
        async with conn.acquire_connection() as connection:
            try:
                await _on_thread(connection, call)
            except _Unfinished as unfinished:  # those before it are committed: not re-run
                remaining = remaining[unfinished.done :]
                raise unfinished.error from None

    await _retrying(f"{name}({_statement_name(remaining[0][0][0])} …)", once)
    return rows


async def _on_thread(connection: Any, call: Callable[..., None], *args: Any) -> None:
    """`call(the sqlite3 connection, *args)` on an aiosqlite connection's own thread, in one
    round trip (aiosqlite has no public way to run a function there)."""
    await connection._execute(call, connection._conn, *args)


class _Unfinished(Exception):
    """`done` of write_each's transactions committed; the next one failed with `error`."""

    def __init__(self, done: int, error: BaseException) -> None:
        super().__init__(str(error))
        self.done, self.error = done, error


@write_transaction
async def _statements_in_transaction(steps: Steps) -> None:
    for sql, params in steps:
        await execute(sql, **params)


def _statement_name(text: str) -> str:
    """A statement's first words, to name it in a log line without its values."""
    return " ".join(text.split()[:3])


def _sqlite_transactions(
    raw: sqlite3.Connection, transactions: list[list[tuple[str, list[Any]]]]
) -> None:
    """On the connection's thread: each transaction begins IMMEDIATE (polling for the lock for
    as long as the busy timeout allows), runs its statements and commits, or rolls back and
    stops there (_Unfinished says how many committed)."""
    for done, statements in enumerate(transactions):
        if done:
            time.sleep(WRITE_GAP_SECONDS)
        try:
            _sqlite_transaction(raw, statements)
        except sqlite3.Error as exc:
            raise _Unfinished(done, exc) from exc


def _sqlite_transaction(raw: sqlite3.Connection, steps: list[tuple[str, list[Any]]]) -> None:
    # Inside the transaction only its statements and COMMIT: each call gives the GIL up and
    # must get it back from a busy event loop, while the write lock is held.
    with _busy_timeout_off(raw) as wait_seconds:
        _begin_immediate(raw, wait_seconds)
        try:
            for text, values in steps:
                raw.execute(text, values)
            raw.execute("COMMIT")
        except BaseException:
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raise


@contextlib.contextmanager
def _busy_timeout_off(raw: sqlite3.Connection) -> Iterator[float]:
    """The connection's busy timeout off while beginning polls for the lock (it would sleep
    in SQLite's coarse handler instead), given back after; yields it in seconds, the wait's
    bound."""
    (busy_ms,) = raw.execute("PRAGMA busy_timeout").fetchone()
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        yield busy_ms / 1000
    finally:
        raw.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")


def _begin_immediate(raw: sqlite3.Connection, wait_seconds: float) -> None:
    """BEGIN IMMEDIATE on the connection's thread, tried every BEGIN_POLL_SECONDS until it
    gets the lock or `wait_seconds` have passed (then the lock conflict is raised)."""
    deadline = time.monotonic() + wait_seconds  # bounds the wait only
    pause, longest = BEGIN_POLL_SECONDS
    while True:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_lock_conflict(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(longest, pause * 2)


def _begin_alone(raw: sqlite3.Connection) -> None:
    """write_transaction's begin, on the connection's thread: end any implicit transaction
    (as tortoise does), then begin IMMEDIATE as write_each's transactions do."""
    raw.commit()
    with _busy_timeout_off(raw) as wait_seconds:
        _begin_immediate(raw, wait_seconds)


def is_lock_conflict(exc: BaseException) -> bool:
    """A deadlock/serialization failure or a busy SQLite database, however tortoise wrapped it
    (asyncpg's errors carry a `sqlstate`; tortoise wraps sqlite3's in its own exceptions)."""
    for error in _chain(exc):
        if getattr(error, "sqlstate", None) in RETRY_SQLSTATES:
            return True
        if isinstance(error, sqlite3.OperationalError) and (
            "locked" in str(error) or "busy" in str(error)
        ):
            return True
    return False


def _detail(exc: BaseException) -> str:
    """PostgreSQL's DETAIL of a lock conflict, for the log: which processes waited for which
    locks (process and transaction ids, tuple positions; never a value), so that a deadlock
    can be traced to the statements that took their locks in opposite orders."""
    for error in _chain(exc):
        if detail := getattr(error, "detail", None):
            return f" ({detail})"
    return ""


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, its causes and contexts, and exceptions among its args (tortoise wraps
    the driver's errors in its own)."""
    seen: set[int] = set()
    found: list[BaseException] = []
    pending: list[object] = [exc]
    while pending:
        error = pending.pop()
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        found.append(error)
        pending.extend([error.__cause__, error.__context__, *error.args])
    return found


def _begin_write(conn: BaseDBAsyncClient) -> TransactionContext:
    if isinstance(conn, SqliteClient):
        return _ImmediateContext(_ImmediateTransaction(conn), conn._lock)
    return in_transaction()


# tortoise 1.1.9 offers no way to choose how a SQLite transaction begins: its
# SqliteTransactionWrapper.begin() always runs a deferred "BEGIN". These two subclasses, used only
# by write_transaction above, begin "BEGIN IMMEDIATE" instead and, unlike tortoise's context,
# give the connection's lock back if beginning fails (a busy timeout that ran out), so the next
# attempt, or any other query of this process, is not left waiting on it forever.


# Waiting for the write lock. SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 … ms
# between tries, so a waiter wakes up to twice as late as the lock is given back (a lock held
# 20 ms costs 33 ms, one held 55 ms costs 78). Beginning polls instead, every 1 ms growing to
# 2 ms, with the connection's busy timeout off for those tries, for as long as the busy
# timeout would have waited (`_begin_immediate`). It runs on the connection's thread in one
# call, for write_transaction as for write_each: a busy event loop delays neither the tries
# nor the moment the lock is taken.
BEGIN_POLL_SECONDS = (0.001, 0.002)


class _ImmediateTransaction(SqliteTransactionWrapper):
    async def begin(self) -> None:
        await _on_thread(self._connection, _begin_alone)


class _ImmediateContext(SqliteTransactionContext):
    async def __aenter__(self) -> TransactionalDBClient:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            await self.connection.begin()
        except BaseException:
            self._trxlock.release()
            raise
        self.token = get_connections().set(self.connection_name, self.connection)
        transaction: TransactionalDBClient = self.connection
        return transaction

"""Raw SQL helpers for the few set-based statements the ORM cannot express in one query, and
the one way to write in a transaction (`write_transaction`)."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
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


class Params:
    """Collects bind values and renders numbered placeholders ($n on PostgreSQL, ?n on SQLite),
    so a placeholder may be used twice and the SQL text need not follow the call order."""

    def __init__(self, conn: BaseDBAsyncClient | None = None) -> None:
        self.values: list[Any] = []
        self._pg = is_postgres(conn)

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self._pg else f"?{len(self.values)}"

    def many(self, values: Sequence[Any]) -> str:
        return ", ".join(self(v) for v in values)


async def fetch(sql: str, params: Params) -> list[dict[str, Any]]:
    return list(await db().execute_query_dict(sql, params.values))


async def lock_messages(column: str, value: int) -> None:
    """Lock every message whose `column` (a fixed name) equals `value`, in id order, before
    touching any of them. Every writer of messages takes their row locks in id order (the
    worker's outcomes too, models/delivery.py), and only then, through the counter triggers,
    mailing_stat rows: with one order there is no deadlock. On SQLite a write transaction
    already holds the database's only write lock, so there is nothing to do."""
    if not is_postgres():
        return
    p = Params()
    await fetch(
        f"SELECT COUNT(*) AS n FROM (SELECT id FROM message WHERE {column} = {p(value)}"
        " ORDER BY id FOR UPDATE) AS locked",
        p,
    )


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
        attempt = 1
        while True:
            try:
                async with _begin_write(db()):
                    return await func(*args, **kwargs)
            except Exception as exc:
                if attempt == WRITE_ATTEMPTS or not is_lock_conflict(exc):
                    raise
                log.warning(
                    "lock conflict in %s, retrying (attempt %d of %d): %s",
                    func.__qualname__,
                    attempt + 1,
                    WRITE_ATTEMPTS,
                    exc,
                )
            delay = RETRY_BASE_SECONDS * 2 ** (attempt - 1)
            await asyncio.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311 - jitter
            attempt += 1

    return run


def is_lock_conflict(exc: BaseException) -> bool:
    """A deadlock/serialization failure or a busy SQLite database, however tortoise wrapped it
    (asyncpg's errors carry a `sqlstate`; tortoise wraps sqlite3's in its own exceptions)."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        error = pending.pop()
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        if getattr(error, "sqlstate", None) in RETRY_SQLSTATES:
            return True
        if isinstance(error, sqlite3.OperationalError) and (
            "locked" in str(error) or "busy" in str(error)
        ):
            return True
        pending.extend([error.__cause__, error.__context__, *error.args])
    return False


def _begin_write(conn: BaseDBAsyncClient) -> TransactionContext:
    if isinstance(conn, SqliteClient):
        return _ImmediateContext(_ImmediateTransaction(conn), conn._lock)
    return in_transaction()


# tortoise 1.1.9 offers no way to choose how a SQLite transaction begins: its
# SqliteTransactionWrapper.begin() always runs a deferred "BEGIN". These two subclasses, used only
# by write_transaction above, begin "BEGIN IMMEDIATE" instead and, unlike tortoise's context,
# give the connection's lock back if beginning fails (a busy timeout that ran out), so the next
# attempt, or any other query of this process, is not left waiting on it forever.


class _ImmediateTransaction(SqliteTransactionWrapper):
    async def begin(self) -> None:
        await self._connection.commit()  # as tortoise does: end any implicit transaction
        await self._connection.execute("BEGIN IMMEDIATE")


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

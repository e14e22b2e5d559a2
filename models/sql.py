"""Raw SQL helpers for the few set-based statements the ORM cannot express in one query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient


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

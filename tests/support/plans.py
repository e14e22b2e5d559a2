"""Query plans on both databases: SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN with
sequential scans and sorts priced out of reach (`SET LOCAL enable_seqscan/enable_sort = off`),
so that on a test-sized table the plan shows whether an index *can* serve the query: if one
can, PostgreSQL takes it; a Seq Scan or Sort left in the plan means none can."""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from models.sql import db, dialect, is_postgres, render


async def query_plan(sql: str, values: list[Any] | None = None) -> str:
    """The plan of `sql` (with `values` for its placeholders), one node per line."""
    async with in_transaction():
        if is_postgres():
            await db().execute_script("SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off")
            rows = await db().execute_query_dict("EXPLAIN " + sql, values or [])
            return "\n".join(str(row["QUERY PLAN"]) for row in rows)
        rows = await db().execute_query_dict("EXPLAIN QUERY PLAN " + sql, values or [])
        return "\n".join(str(row["detail"]) for row in rows)


async def plan_of(queryset: Any) -> str:
    return await query_plan(queryset.sql(params_inline=True))


async def plan_of_statement(sql: str, **params: Any) -> str:
    text, values = render(sql, dialect(), **params)
    return await query_plan(text, values)


def full_scans(plan: str) -> list[str]:
    """Lines that read a whole table without an index."""
    return [
        line
        for line in plan.splitlines()
        if "Seq Scan" in line or (line.startswith("SCAN") and "INDEX" not in line)
    ]


def sorts(plan: str) -> list[str]:
    """Lines that sort rows instead of reading them in the index's order."""
    return [line for line in plan.splitlines() if "Sort" in line or "TEMP B-TREE" in line]


def uses_index(plan: str) -> bool:
    """Some node reads an index (SQLite's rowid is the INTEGER PRIMARY KEY)."""
    lowered = plan.lower()
    return "index" in lowered or "primary key" in lowered

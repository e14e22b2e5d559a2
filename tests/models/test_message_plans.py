"""The worker's statements and a client's delete read `message` through an index on both
databases, with paused mailings' unsent messages in the table (bench/plans.py prints the
same plans on 10,000,000 messages)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.plans import build, plans
from models.sql import is_postgres
from tests.support.plans import full_scans, sorts, uses_index

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


async def test_no_statement_reads_the_whole_message_table(database: str) -> None:
    table = await build(clients=300, mailings=3, now=NOW)
    found = await plans(table, NOW)
    assert "deleteClient: cancel its unsent" in found
    for name, plan in found.items():
        scans = [line for line in full_scans(plan) if line != "SCAN picked"]  # the CTE's rows
        assert scans == [], (name, plan)
        assert uses_index(plan), (name, plan)


@pytest.mark.parametrize("name", ["claim", "claim, window open in some zones"])
async def test_the_claim_reads_only_the_running_mailing(database: str, name: str) -> None:
    table = await build(clients=300, mailings=3, now=NOW)
    plan = (await plans(table, NOW))[name]
    assert sorts(plan) == [], plan
    # The pick is a range of (mailing_id, status, next_attempt_at): the paused mailings'
    # rows are not read (on SQLite they were, through (status, next_attempt_at)).
    if is_postgres():
        assert "mailing_id = " in plan and "next_attempt_at <=" in plan, plan
    else:
        assert "(mailing_id=? AND status=? AND next_attempt_at<?)" in plan, plan


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # PostgreSQL: RETURNING
async def test_sqlite_reads_a_claims_rows_back_among_the_sending_ones(database: str) -> None:
    """The claimed rows are found among the running mailing's SENDING rows, not by walking
    every message of the mailing (an `ORDER BY id` made SQLite use (mailing_id, id): the
    worker's CPU per message grew with the mailing)."""
    table = await build(clients=300, mailings=3, now=NOW)
    plan = (await plans(table, NOW))["claim: its rows read back (SQLite)"]
    assert "(mailing_id=? AND status=?)" in plan, plan
    assert sorts(plan) == [], plan

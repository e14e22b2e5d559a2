"""Audience selection and fan-out: one set-based INSERT … SELECT, never a Python loop."""

from __future__ import annotations

from datetime import UTC, datetime

from models.mailing import Mailing
from models.sql import Params, db
from models.transitions import MessageEvent, target_of


def audience_where(mailing: Mailing, p: Params) -> str:
    """Empty list = no condition on that attribute; both given = both must match."""
    clauses = ["1 = 1"]
    if mailing.operator_codes:
        clauses.append(f"c.operator_code IN ({p.many(list(mailing.operator_codes))})")
    if mailing.tags:
        clauses.append(f"c.tag IN ({p.many(list(mailing.tags))})")
    return " AND ".join(clauses)


async def fan_out(mailing: Mailing, now: datetime) -> None:
    """Snapshot the audience into PENDING messages. Runs in the same transaction as the
    SCHEDULED → RUNNING compare-and-set (models/schedule.py), so a repeated start inserts
    nothing: the state already moved. The unique (mailing, client) index stays as a safety
    net (a violation aborts the transaction); `ON CONFLICT DO NOTHING` would cost ~25 % of
    the insert time on PostgreSQL for a case that cannot happen."""
    p = Params()
    now = now.astimezone(UTC)
    select = (
        f"SELECT {p(mailing.id)}, c.id, c.phone, c.timezone,"
        f" {p(target_of(MessageEvent.CREATE).value)}, 0, {p(now)}, {p(now)}, {p(now)}"
    )
    where = audience_where(mailing, p)  # placeholders must follow the SQL's textual order
    await db().execute_query(
        "INSERT INTO message (mailing_id, client_id, phone, timezone, status, attempts,"
        f" next_attempt_at, created_at, updated_at) {select} FROM client c WHERE {where}",
        p.values,
    )

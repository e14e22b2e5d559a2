"""Audience selection and fan-out: one set-based INSERT … SELECT, never a Python loop."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from models.mailing import Mailing
from models.sql import execute, fetch, is_postgres, write_transaction
from models.transitions import MessageEvent, target_of

# The audience filter: an empty list means no condition on that attribute; both given, both
# must match.
ANY_CLIENT = "1 = 1"
OPERATOR_IN = "c.operator_code IN (:operator_codes)"
TAG_IN = "c.tag IN (:tags)"
FAN_OUT = (
    "INSERT INTO message (mailing_id, client_id, phone, timezone, status, attempts,"
    " next_attempt_at, created_at, updated_at)"
    " SELECT :mailing_id, c.id, c.phone, c.timezone, :status, 0, :now, :now, :now"
    " FROM client c WHERE {audience}"
)


# SQLite's insert counter is a row trigger (migrations 0002, 0011), and a row trigger costs
# ~0.25-0.3 s per 1,000,000 inserted rows even when its WHEN skips the row (measured with
# `WHEN 0`). So the fan-out takes it off for its INSERT and puts the very same text back, read
# from the schema, all in the fan-out's write transaction: no other connection ever writes to
# the table without it (writers wait for the lock; readers see the committed schema, which
# has it), and a failure rolls the drop back with the rest. The rows are counted from
# changes(), the number the INSERT just wrote, in one statement.
INSERT_COUNTER = (
    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'message_counts_ins'"
)
DROP_INSERT_COUNTER = "DROP TRIGGER message_counts_ins"
BULK_COUNT = (
    "INSERT INTO mailing_stat (mailing_id, status, n) VALUES (:mailing_id, :status, changes())"
    " ON CONFLICT (mailing_id, status) DO UPDATE SET n = n + excluded.n"
)


class Filtered(Protocol):
    """A mailing, or an audience filter not yet a mailing (the preview's)."""

    @property
    def operator_codes(self) -> Sequence[str]: ...

    @property
    def tags(self) -> Sequence[str]: ...


def audience_where(audience: Filtered) -> tuple[str, dict[str, list[str]]]:
    """The condition on clients `c` (from the fragments above) and its parameters: the one
    rule that both the fan-out and the preview (models/preview.py) select by."""
    clauses, params = [ANY_CLIENT], {}
    if audience.operator_codes:
        clauses.append(OPERATOR_IN)
        params["operator_codes"] = list(audience.operator_codes)
    if audience.tags:
        clauses.append(TAG_IN)
        params["tags"] = list(audience.tags)
    return " AND ".join(clauses), params


@write_transaction
async def fan_out(mailing: Mailing, now: datetime) -> None:
    """Snapshot the audience into PENDING messages. Runs in the same transaction as the
    SCHEDULED → RUNNING compare-and-set (models/schedule.py), so a repeated start inserts
    nothing: the state already moved. The unique (mailing, client) index stays as a safety
    net (a violation aborts the transaction); `ON CONFLICT DO NOTHING` would cost ~25 % of
    the insert time on PostgreSQL for a case that cannot happen."""
    where, audience = audience_where(mailing)
    status = target_of(MessageEvent.CREATE).value
    counter = None
    if not is_postgres():  # SQLite: counted here, in one statement, with no row trigger
        (row,) = await fetch(INSERT_COUNTER)
        counter = str(row["sql"])
        await execute(DROP_INSERT_COUNTER)
    await execute(
        FAN_OUT.format(audience=where),
        mailing_id=mailing.id,
        status=status,
        now=now.astimezone(UTC),
        **audience,
    )
    if counter is not None:
        await execute(BULK_COUNT, mailing_id=mailing.id, status=status)
        await execute(counter)  # the trigger back, exactly as the migrations made it

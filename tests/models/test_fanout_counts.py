"""The fan-out counts its own rows on SQLite (one statement, not a trigger per row) and the
counters stay exact on both databases, with other inserts still counted by the trigger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tortoise.exceptions import IntegrityError

from models.audience import fan_out
from models.client import Client
from models.mailing import Mailing, MailingState
from models.message import Message
from models.sql import fetch, is_postgres
from models.stats import MailingStat
from tests.support.delivery import counters_match_messages

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


async def test_fan_out_counts_exactly_and_leaves_no_marker(database: str) -> None:
    for i in range(40):
        await Client.create(phone=f"7916{i:07d}", operator_code="916", timezone="UTC")
    mailings = [
        await Mailing.create(
            text="t", start_at=NOW, end_at=NOW + timedelta(days=1), state=MailingState.RUNNING
        )
        for _ in range(2)
    ]
    await fan_out(mailings[0], NOW)
    # A message inserted one by one (not by a fan-out) is counted by the trigger.
    await Message.create(
        mailing_id=mailings[1].id, phone="79990000000", timezone="UTC", next_attempt_at=NOW
    )
    await fan_out(mailings[1], NOW)
    rows = await MailingStat.all().values_list("mailing_id", "status", "n")
    assert sorted(rows) == [(mailings[0].id, "PENDING", 40), (mailings[1].id, "PENDING", 41)]
    assert await counters_match_messages()


async def _insert_counter() -> list[dict[str, object]]:
    return await fetch(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'message'"
        if not is_postgres()
        else "SELECT tgname AS name FROM pg_trigger WHERE tgrelid = 'message'::regclass"
        " AND NOT tgisinternal ORDER BY tgname"
    )


async def test_the_insert_counter_is_back_as_it_was_after_a_fan_out_and_after_a_failed_one(
    database: str,
) -> None:
    """On SQLite the fan-out takes the row trigger off for its INSERT: it must come back with
    the same text, also when the fan-out fails (the drop is rolled back with the rest)."""
    triggers = await _insert_counter()
    for i in range(5):
        await Client.create(phone=f"7916{i:07d}", operator_code="916", timezone="UTC")
    mailing = await Mailing.create(
        text="t", start_at=NOW, end_at=NOW + timedelta(days=1), state=MailingState.RUNNING
    )
    await fan_out(mailing, NOW)
    assert await _insert_counter() == triggers
    with pytest.raises(IntegrityError):  # the same audience again: the unique index refuses
        await fan_out(mailing, NOW)
    assert await _insert_counter() == triggers
    await Message.create(
        mailing_id=mailing.id, phone="79990000000", timezone="UTC", next_attempt_at=NOW
    )  # still counted by the trigger
    rows = await MailingStat.all().values_list("mailing_id", "status", "n")
    assert rows == [(mailing.id, "PENDING", 6)]
    assert await counters_match_messages()

"""The fan-out (models/audience.py): one INSERT … SELECT at a fixed `now`, on SQLite and
PostgreSQL; which clients it selects and what it copies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.audience import fan_out
from models.client import Client
from models.mailing import Mailing, MailingState
from models.message import Message, MessageStatus

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
# phone, operator code, tag, zone
CLIENTS = [
    ("79160000001", "916", "vip", "Europe/Moscow"),
    ("79160000002", "916", None, "Asia/Tokyo"),
    ("79030000003", "903", "vip", "UTC"),
    ("79030000004", "903", "new", "UTC"),
    ("79250000005", "925", "new", "Europe/Moscow"),
]


async def _mailing(codes: list[str], tags: list[str]) -> Mailing:
    return await Mailing.create(
        text="t",
        start_at=NOW,
        end_at=NOW + timedelta(days=1),
        operator_codes=codes,
        tags=tags,
        state=MailingState.RUNNING,
    )


@pytest.mark.parametrize(
    ("codes", "tags", "phones"),
    [
        ([], [], {"79160000001", "79160000002", "79030000003", "79030000004", "79250000005"}),
        (["916"], [], {"79160000001", "79160000002"}),
        (["916", "925"], [], {"79160000001", "79160000002", "79250000005"}),
        ([], ["vip"], {"79160000001", "79030000003"}),
        ([], ["vip", "new"], {"79160000001", "79030000003", "79030000004", "79250000005"}),
        (["903"], ["new"], {"79030000004"}),  # both given: both must match
        (["999"], [], set()),
    ],
)
async def test_fan_out_selects_by_operator_code_and_tag(
    database: str, codes: list[str], tags: list[str], phones: set[str]
) -> None:
    for phone, code, tag, zone in CLIENTS:
        await Client.create(phone=phone, operator_code=code, tag=tag, timezone=zone)
    mailing = await _mailing(codes, tags)
    await fan_out(mailing, NOW)
    rows = await Message.filter(mailing_id=mailing.id).values_list("phone", flat=True)
    assert sorted(map(str, rows)) == sorted(phones)


async def test_fan_out_snapshots_the_client(database: str) -> None:
    client = await Client.create(
        phone="79160000001", operator_code="916", tag="vip", timezone="Asia/Tokyo"
    )
    mailing = await _mailing([], [])
    await fan_out(mailing, NOW)
    # Later edits of the directory do not reach the snapshot.
    await Client.filter(id=client.id).update(phone="79160000009", timezone="UTC")
    await Client.create(phone="79160000002", operator_code="916", timezone="UTC")
    [message] = await Message.filter(mailing_id=mailing.id)
    assert (
        message.client_id,  # type: ignore[attr-defined]
        message.phone,
        message.timezone,
        message.status,
        message.attempts,
        message.next_attempt_at,
        message.created_at,
        message.updated_at,
    ) == (client.id, "79160000001", "Asia/Tokyo", MessageStatus.PENDING, 0, NOW, NOW, NOW)
    other = await _mailing([], [])  # another mailing gets its own copy
    await fan_out(other, NOW)
    assert await Message.filter(mailing_id=other.id).count() == 2

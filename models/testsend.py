"""Test sends: a mailing's text to one phone through the probe, now (testSend), to see it
arrive before the campaign runs. Each is recorded in `test_send` with the probe's answer, apart
from the mailing's messages: never in its statistics, its exports or its audience."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.client import validate_phone
from models.errors import NotFound
from models.mailing import Mailing
from models.sql import write_transaction

# The probe's msgId of test send N is TEST_SEND_IDS + N: the probe may recognise repeats by id
# (probe-api.md), and message ids (bigint, from 1) would need 4.6e18 rows to get there.
TEST_SEND_IDS = 2**62
MAX_ERROR = 300


class SendOutcome(StrEnum):
    SENDING = "SENDING"  # asked; no answer recorded (the process stopped during the call)
    SENT = "SENT"
    REJECTED = "REJECTED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class ProbeAnswer:
    """What the probe made of one send, as the domain records it."""

    outcome: SendOutcome
    http_status: int | None = None
    error: str | None = None
    latency: float | None = None  # seconds


# (msgId, phone, text) -> the answer: the composition root passes one in (jobs/probe_once.py),
# tests their own; the API edge never sees the probe client itself.
ProbeSend = Callable[[int, str, str], Awaitable[ProbeAnswer]]


class TestSend(Model):
    __test__ = False  # not a pytest test class, whatever its name

    id = fields.IntField(primary_key=True)
    mailing: fields.ForeignKeyRelation[Mailing] = fields.ForeignKeyField(
        "models.Mailing", related_name="test_sends", on_delete=fields.CASCADE
    )
    phone = fields.CharField(max_length=11)
    text = fields.TextField()  # the mailing's text when it was sent
    outcome = fields.CharEnumField(SendOutcome, max_length=10)
    http_status = fields.IntField(null=True)
    error = fields.CharField(max_length=MAX_ERROR, null=True)
    latency_ms = fields.FloatField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "test_send"
        indexes = (("mailing_id", "id"),)

    @property
    def probe_id(self) -> int:
        return TEST_SEND_IDS + self.id


async def send_test(mailing_id: int, phone: str, send: ProbeSend, now: datetime) -> TestSend:
    """Send the mailing's text to `phone` once (no retry: the caller sees the answer and may
    ask again) and record the outcome. The row is written before the call and completed
    after it, with no transaction open meanwhile: a process stopped mid-call leaves SENDING,
    which is the truth (nobody knows whether it arrived). Any mailing state is allowed."""
    row = await _record(mailing_id, validate_phone(phone), now)
    answer = await send(row.probe_id, row.phone, row.text)
    result = {
        "outcome": answer.outcome,
        "http_status": answer.http_status,
        "error": answer.error[:MAX_ERROR] if answer.error else None,
        "latency_ms": None if answer.latency is None else round(answer.latency * 1000, 1),
    }
    # Nobody else writes this row (a deleted mailing took it along: then this matches none).
    await TestSend.filter(id=row.id).update(**result)
    for name, value in result.items():
        setattr(row, name, value)
    return row


@write_transaction
async def _record(mailing_id: int, phone: str, now: datetime) -> TestSend:
    """Under the mailing's row lock (as deleteMailing takes it): a mailing deleted meanwhile
    is NOT_FOUND here, not a foreign-key error."""
    mailing = await Mailing.select_for_update().get_or_none(id=mailing_id)
    if mailing is None:
        raise NotFound(f"mailing {mailing_id} not found", field="mailingId")
    return await TestSend.create(
        mailing_id=mailing_id,
        phone=phone,
        text=mailing.text,
        outcome=SendOutcome.SENDING,
        created_at=now,
    )

"""One message per (mailing, client): the unit the delivery engine sends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from models.states import MessageStatus as MessageStatus  # re-exported

if TYPE_CHECKING:
    from models.client import Client
    from models.mailing import Mailing


class Message(Model):
    id = fields.BigIntField(primary_key=True)
    # No database FK constraints on this high-volume table: PostgreSQL checks each with a
    # per-row trigger taking a lock on the referenced row, which tripled the fan-out time
    # (1M rows: 13.3 s with, 8.2 s without). Deletes do the cascade / set-null themselves
    # (models/client.py, models/lifecycle.py), in the same transaction.
    mailing: fields.ForeignKeyRelation[Mailing] = fields.ForeignKeyField(
        "models.Mailing", related_name="messages", on_delete=fields.CASCADE, db_constraint=False
    )
    client: fields.ForeignKeyNullableRelation[Client] = fields.ForeignKeyField(
        "models.Client",
        related_name="messages",
        on_delete=fields.SET_NULL,
        null=True,
        db_constraint=False,
    )
    phone = fields.CharField(max_length=11)
    timezone = fields.CharField(max_length=64)
    status = fields.CharEnumField(MessageStatus, max_length=10, default=MessageStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=300, null=True)
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "message"
        unique_together = (("mailing", "client"),)
        # (mailing_id, id): the CSV export's keyset pages (models/export.py) are index range
        # scans in id order; with only (mailing_id, status) both databases sorted the whole
        # mailing for every page (1M messages: 29 s on SQLite, 38 s on PostgreSQL; now 7.5 s
        # and 10.6 s), for ~5 % more time writing the fan-out's rows.
        # sent_at after (mailing_id, status): the timeline counts SENT rows per bucket from
        # the index alone (models/timeline.py), and no write pays for it, since every write
        # of sent_at changes the status too (the index entry is rewritten anyway).
        # (mailing_id, status, next_attempt_at): the claim's pick per running mailing
        # (models/delivery.py) reads only that mailing's due rows; from (status,
        # next_attempt_at) it walked every unsent message of every mailing, PAUSED ones too.
        # (client_id): deleting a client, and the sweep's orphans (client_id IS NULL), find
        # their messages without reading the table (migration 0010_perf).
        indexes = (
            ("mailing_id", "status", "sent_at"),
            ("status", "next_attempt_at"),
            ("mailing_id", "id"),
            ("mailing_id", "status", "next_attempt_at"),
            ("client_id",),
        )

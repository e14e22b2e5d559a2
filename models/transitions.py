"""Message status changes asked for through the API (cancel, client and mailing deletes).

The engine's own changes live beside the statements that need them: claims and outcomes in
models/delivery.py, the sweep's in models/schedule.py. All of them are compare-and-set UPDATEs
over sets of rows that name the statuses they move from, so a row another worker or request
moved meanwhile is left alone."""

from __future__ import annotations

from datetime import datetime

from models.message import Message, MessageStatus

UNSENT = (MessageStatus.PENDING, MessageStatus.RETRYING)


async def cancel_client_messages(client_id: int, now: datetime) -> int:
    """A deleted client gets nothing more: its unsent messages become CANCELLED."""
    return await Message.filter(client_id=client_id, status__in=UNSENT).update(
        status=MessageStatus.CANCELLED, updated_at=now, lease_owner=None
    )


async def cancel_mailing_messages(mailing_id: int, now: datetime) -> int:
    return await Message.filter(mailing_id=mailing_id, status__in=UNSENT).update(
        status=MessageStatus.CANCELLED, updated_at=now, lease_owner=None
    )

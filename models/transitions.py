"""The one place message statuses change: compare-and-set UPDATEs over sets of rows.

Every change names the statuses it moves from; a row that another worker or request moved
meanwhile is left alone, so concurrent writers never overwrite each other's outcome."""

from __future__ import annotations

from collections.abc import Iterable
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


def statuses(values: Iterable[MessageStatus]) -> list[str]:
    return [v.value for v in values]

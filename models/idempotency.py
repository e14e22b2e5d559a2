"""Idempotency keys for creating mutations: a client that lost an answer retries with the same
key and gets the same object back, never a second row.

The key is written in the same transaction as the row it creates and is unique per mutation,
so of two concurrent retries only one can commit; the other rolls back and answers from the
stored key. A key is kept for a day (`TTL`): after that it is ignored and the sweep purges it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from models.errors import Conflict, DomainError, InvalidInput, NotFound
from models.sql import write_transaction

TTL = timedelta(hours=24)
MAX_KEY = 255
FIELD = "idempotencyKey"

Row = TypeVar("Row", bound=Model)


class IdempotencyKey(Model):
    id = fields.IntField(primary_key=True)
    operation = fields.CharField(max_length=32)
    key = fields.CharField(max_length=MAX_KEY)
    fingerprint = fields.CharField(max_length=64)  # SHA-256 of the canonical input
    result_id = fields.BigIntField()
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "idempotency_key"
        unique_together = (("operation", "key"),)


def validate_key(key: str) -> str:
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise InvalidInput(
            f"idempotencyKey must be 1 to {MAX_KEY} printable characters", field=FIELD
        )
    return key


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return value.astimezone(UTC).isoformat()  # +03:00 and Z spellings of one instant agree
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


def fingerprint(payload: Mapping[str, Any]) -> str:
    """What "the same input" means: the request's input as canonical JSON, hashed."""
    text = json.dumps(payload, default=_canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


async def create_once(
    model: type[Row],
    operation: str,
    key: str | None,
    payload: Mapping[str, Any],
    now: datetime,
    create: Callable[[], Awaitable[Row]],
) -> tuple[Row, bool]:
    """Run `create` at most once per (operation, key) within `TTL`; True if this call created.

    The same key with a different payload is a Conflict. Validation belongs inside `create`,
    after the key is looked up: a retry whose endAt has passed meanwhile still gets its
    mailing rather than "endAt is already in the past"."""
    if key is None:
        return await create(), True
    key, digest = validate_key(key), fingerprint(payload)
    if (stored := await _stored(model, operation, key, digest, now)) is not None:
        return stored, False

    @write_transaction
    async def create_with_key() -> Row:
        stale = IdempotencyKey.filter(operation=operation, key=key, created_at__lte=now - TTL)
        await stale.delete()
        row = await create()
        await IdempotencyKey.create(
            operation=operation, key=key, fingerprint=digest, result_id=row.pk, created_at=now
        )
        return row

    try:
        return await create_with_key(), True
    except (IntegrityError, DomainError):
        # A concurrent retry committed first (its key, or its row's unique phone): answer as
        # it did. Anything else is this request's own failure.
        if (stored := await _stored(model, operation, key, digest, now)) is not None:
            return stored, False
        raise


async def _stored(
    model: type[Row], operation: str, key: str, digest: str, now: datetime
) -> Row | None:
    found = await IdempotencyKey.get_or_none(operation=operation, key=key, created_at__gt=now - TTL)
    if found is None:
        return None
    if found.fingerprint != digest:
        raise Conflict(
            f"idempotencyKey was already used for a different {operation} input", field=FIELD
        )
    row = await model.get_or_none(pk=found.result_id)
    if row is None:
        raise NotFound("the object created with this idempotencyKey was deleted", field=FIELD)
    return row


async def purge_expired(now: datetime) -> int:
    """Delete keys older than `TTL` (they are ignored already); the sweep calls this."""
    return await IdempotencyKey.filter(created_at__lte=now - TTL).delete()

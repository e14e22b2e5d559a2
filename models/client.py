"""The client directory: ORM model and the validation rules shared by API and import."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import available_timezones

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.errors import Conflict, InvalidInput, NotFound

# Registered with tortoise through this module, which herald/db.py's MODEL_MODULES lists.
from models.idempotency import IdempotencyKey  # noqa: F401
from models.message import Message
from models.transitions import cancel_client_messages

PHONE_RE = re.compile(r"^7\d{10}$")
OPERATOR_RE = re.compile(r"^\d{3}$")
MAX_TAG = 64


class Client(Model):
    id = fields.IntField(primary_key=True)
    phone = fields.CharField(max_length=11, unique=True)
    operator_code = fields.CharField(max_length=3, db_index=True)
    tag = fields.CharField(max_length=MAX_TAG, null=True, db_index=True)
    timezone = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "client"


@dataclass(frozen=True)
class ClientData:
    """A validated client: what gets written to the `client` table."""

    phone: str
    operator_code: str
    tag: str | None
    timezone: str


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_phone(phone: str) -> str:
    phone = phone.strip()
    if not PHONE_RE.match(phone):
        raise InvalidInput("phone must be 7 followed by 10 digits (7XXXXXXXXXX)", field="phone")
    return phone


def validate_operator_code(code: str) -> str:
    if not OPERATOR_RE.match(code):
        raise InvalidInput("operatorCode must be three digits", field="operatorCode")
    return code


def validate_tag(tag: str | None) -> str | None:
    if tag is None:
        return None
    tag = tag.strip()
    if len(tag) > MAX_TAG:
        raise InvalidInput(f"tag must be at most {MAX_TAG} characters", field="tag")
    return tag or None


def validate_timezone(name: str) -> str:
    if name not in _zones():
        raise InvalidInput(f"unknown IANA time zone: {name[:64]!r}", field="timezone")
    return name


def validate_client(
    phone: str, operator_code: str | None, tag: str | None, timezone: str
) -> ClientData:
    """Validate a new client; the operator code defaults to phone digits 2-4 (the DEF code)."""
    phone = validate_phone(phone)
    code = validate_operator_code(operator_code) if operator_code else phone[1:4]
    return ClientData(phone, code, validate_tag(tag), validate_timezone(timezone))


@dataclass(frozen=True)
class ClientPatchData:
    phone: str | None = None
    operator_code: str | None = None
    tag: str | None = None
    timezone: str | None = None
    tag_set: bool = False  # distinguishes "tag: null" (clear) from an absent tag


async def get_client(client_id: int) -> Client:
    client = await Client.get_or_none(id=client_id)
    if client is None:
        raise NotFound(f"client {client_id} not found", field="id")
    return client


async def create_client(data: ClientData) -> Client:
    try:
        return await Client.create(
            phone=data.phone,
            operator_code=data.operator_code,
            tag=data.tag,
            timezone=data.timezone,
        )
    except IntegrityError:
        raise Conflict(f"a client with phone {data.phone} already exists", field="phone") from None


async def update_client(client_id: int, patch: ClientPatchData) -> Client:
    client = await get_client(client_id)
    if patch.phone is not None:
        client.phone = validate_phone(patch.phone)
    if patch.operator_code is not None:
        client.operator_code = validate_operator_code(patch.operator_code)
    if patch.tag_set:
        client.tag = validate_tag(patch.tag)
    if patch.timezone is not None:
        client.timezone = validate_timezone(patch.timezone)
    try:
        await client.save()
    except IntegrityError:
        raise Conflict(
            f"a client with phone {client.phone} already exists", field="phone"
        ) from None
    return client


async def delete_client(client_id: int, now: datetime) -> None:
    """Delete a client; its unsent messages are cancelled and its sent ones keep the phone
    (client set to NULL here: the table has no FK constraint), so statistics and history
    survive."""
    async with in_transaction():
        await get_client(client_id)
        await cancel_client_messages(client_id, now)
        await Message.filter(client_id=client_id).update(client_id=None)
        await Client.filter(id=client_id).delete()


@dataclass(frozen=True)
class ImportRowError:
    row: int
    field: str | None
    message: str


@dataclass(frozen=True)
class ImportOutcome:
    created: int
    updated: int
    errors: list[ImportRowError]


MAX_IMPORT = 50_000
_UPSERT_CHUNK = 2_000


async def import_clients(rows: Sequence[RawClient]) -> ImportOutcome:
    """Upsert by phone: bad rows are reported with their index, good rows are written
    (a later row with the same phone wins)."""
    if len(rows) > MAX_IMPORT:
        raise InvalidInput(f"at most {MAX_IMPORT} clients per import", field="clients")
    valid: dict[str, ClientData] = {}
    errors: list[ImportRowError] = []
    for index, raw in enumerate(rows):
        try:
            data = validate_client(raw.phone, raw.operator_code, raw.tag, raw.timezone)
        except InvalidInput as exc:
            errors.append(ImportRowError(index, exc.field, exc.message))
            continue
        valid[data.phone] = data
    phones = list(valid)
    existing: set[str] = set()
    for start in range(0, len(phones), _UPSERT_CHUNK):
        chunk = phones[start : start + _UPSERT_CHUNK]
        found = await Client.filter(phone__in=chunk).values_list("phone", flat=True)
        existing.update(str(phone) for phone in found)
    async with in_transaction():
        await Client.bulk_create(
            [
                Client(phone=d.phone, operator_code=d.operator_code, tag=d.tag, timezone=d.timezone)
                for d in valid.values()
            ],
            batch_size=_UPSERT_CHUNK,
            on_conflict=["phone"],
            update_fields=["operator_code", "tag", "timezone", "updated_at"],
        )
    return ImportOutcome(len(phones) - len(existing), len(existing), errors)


@dataclass(frozen=True)
class RawClient:
    phone: str
    operator_code: str | None
    tag: str | None
    timezone: str

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

from models.errors import Conflict, InvalidInput, NotFound
from models.message import Message
from models.sql import lock_messages, write_transaction
from models.text import reject_controls
from models.transitions import cancel_client_messages

# ASCII digits only: `\d` (and int()) accept every Unicode digit, so 7916… in Arabic-Indic
# digits would be a second client beside "7916…" that no operator-code filter finds.
PHONE_RE = re.compile(r"7[0-9]{10}")
OPERATOR_RE = re.compile(r"[0-9]{3}")
MAX_TAG = 64
# Names a ZoneInfo key can take that are not places: `localtime` is whatever the server's zone
# is, `posixrules` a tzcode artefact, `Factory` means "local time unknown".
_NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*")
_ASCII_SPACE = " \t\r\n"


class Client(Model):
    id = fields.IntField(primary_key=True)
    phone = fields.CharField(max_length=11, unique=True)
    operator_code = fields.CharField(max_length=3)
    tag = fields.CharField(max_length=MAX_TAG, null=True)
    timezone = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "client"
        # (value, id): a filtered page in id order straight from the index (PostgreSQL's
        # btree on the value alone is not in id order; SQLite's is, by rowid). The zone-first
        # one covers the audience preview's GROUP BY timezone without reading the table.
        indexes = (
            ("operator_code", "id"),
            ("tag", "id"),
            ("timezone", "operator_code", "tag"),
        )


@dataclass(frozen=True)
class ClientData:
    """A validated client: what gets written to the `client` table."""

    phone: str
    operator_code: str
    tag: str | None
    timezone: str


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    """The IANA zone names a client may have: `available_timezones()` (tzdata and the system's
    zoneinfo) without the entries that are not places, and only plain `Area/Location` names
    (no paths, no `..`)."""
    return frozenset(
        name
        for name in available_timezones()
        if name not in _NOT_PLACES and _ZONE_NAME.fullmatch(name)
    )


def validate_phone(phone: str) -> str:
    """The one canonical form, `7` and 10 ASCII digits; surrounding ASCII spaces are trimmed,
    nothing is rewritten (`+7 …`, `8916…` are rejected, so one number has one spelling)."""
    phone = phone.strip(_ASCII_SPACE)
    if not PHONE_RE.fullmatch(phone):
        raise InvalidInput(
            "phone must be 7 followed by 10 ASCII digits (7XXXXXXXXXX)", field="phone"
        )
    return phone


def validate_operator_code(code: str) -> str:
    if not OPERATOR_RE.fullmatch(code):
        raise InvalidInput("operatorCode must be three ASCII digits", field="operatorCode")
    return code


def validate_tag(tag: str | None) -> str | None:
    """Trimmed, at most MAX_TAG characters, no control characters (tab and newline included:
    a tag is one line); empty means no tag."""
    if tag is None:
        return None
    tag = reject_controls(tag, "tag").strip()
    if len(tag) > MAX_TAG:
        raise InvalidInput(f"tag must be at most {MAX_TAG} characters", field="tag")
    return tag or None


def validate_timezone(name: str) -> str:
    if name not in known_zones():
        raise InvalidInput(f"unknown IANA time zone: {name[:64]!r}", field="timezone")
    return name


def check_lookup(value: str | None, field: str) -> str | None:
    """A value a query filters on (not stored): any string but one with control characters,
    which no stored value holds and which PostgreSQL cannot take as a parameter (NUL)."""
    return None if value is None else reject_controls(value, field)


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


@write_transaction
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


@write_transaction
async def delete_client(client_id: int, now: datetime) -> None:
    """Delete a client; its unsent messages are cancelled and its sent ones keep the phone
    (client set to NULL here: the table has no FK constraint), so statistics and history
    survive. Its messages are locked in id order first, as every writer of messages does
    (the worker may be writing outcomes for them meanwhile)."""
    await get_client(client_id)
    await lock_messages("client_id", client_id)
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
    await _upsert(list(valid.values()))
    return ImportOutcome(len(phones) - len(existing), len(existing), errors)


@write_transaction
async def _upsert(clients: Sequence[ClientData]) -> None:
    await Client.bulk_create(
        [
            Client(phone=d.phone, operator_code=d.operator_code, tag=d.tag, timezone=d.timezone)
            for d in clients
        ],
        batch_size=_UPSERT_CHUNK,
        on_conflict=["phone"],
        update_fields=["operator_code", "tag", "timezone", "updated_at"],
    )


@dataclass(frozen=True)
class RawClient:
    phone: str
    operator_code: str | None
    tag: str | None
    timezone: str

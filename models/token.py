"""API tokens: stored as SHA-256 hashes, never in clear; named, revocable, with a last use.

`API_ADMIN_TOKEN` (settings) is an admin token without a row: it cannot be listed or revoked
and is named `env:API_ADMIN_TOKEN` wherever a caller is named (the audit log)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.errors import Conflict, InvalidInput, NotFound
from models.sql import PerDialect, execute, execute_nowait, fetch, write_transaction
from models.text import reject_controls

ENV_TOKEN = "env:API_ADMIN_TOKEN"  # noqa: S105 - a label, not a secret
MAX_NAME = 100
# A token's last use is written at most this often: a row write per request would put every
# read behind SQLite's one write lock.
LAST_USED_EVERY = timedelta(minutes=1)


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=MAX_NAME, default="")
    role = fields.CharEnumField(Role, max_length=10)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"


@dataclass(frozen=True)
class Caller:
    """Who sent a request: a stored token (its id and name) or the settings' admin token."""

    role: Role
    token_id: int | None = None  # None: API_ADMIN_TOKEN
    name: str = ""
    last_used_at: datetime | None = None

    @property
    def label(self) -> str:
        """How logs name the caller: `3:ci deploy`, or `env:API_ADMIN_TOKEN`; never the secret."""
        return ENV_TOKEN if self.token_id is None else f"{self.token_id}:{self.name}"


ENV_CALLER = Caller(Role.ADMIN)

# Compare-and-set on the last use: several processes may see the same stale value; the row is
# written once per LAST_USED_EVERY whichever gets there first.
TOUCH = (
    "UPDATE api_token SET last_used_at = :now WHERE id IN (:ids) AND revoked_at IS NULL"
    " AND (last_used_at IS NULL OR last_used_at < :stale)"
)
# The active admin tokens, locked (PostgreSQL) so that two revokes of the last two cannot both
# see the other one still active; on SQLite the write transaction is the lock.
ACTIVE_ADMINS = PerDialect(
    postgres="SELECT id FROM api_token WHERE role = :role AND revoked_at IS NULL"
    " ORDER BY id FOR UPDATE",
    sqlite="SELECT id FROM api_token WHERE role = :role AND revoked_at IS NULL",
)
REVOKE = "UPDATE api_token SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "hrld_" + secrets.token_urlsafe(32)


def validate_name(name: str) -> str:
    """A token's label, shown in lists and the audit log: one line (no control characters),
    at most MAX_NAME characters, surrounding spaces trimmed; empty is allowed."""
    name = reject_controls(name, "name").strip()
    if len(name) > MAX_NAME:
        raise InvalidInput(f"name must be at most {MAX_NAME} characters", field="name")
    return name


async def issue_token(role: Role, name: str = "") -> tuple[ApiToken, str]:
    """Create a token: its row and the secret in clear, the only time it is ever visible."""
    token = new_token()
    row = await ApiToken.create(name=validate_name(name), role=role, token_hash=hash_token(token))
    return row, token


async def create_token(role: Role, name: str = "") -> str:
    """Create a token and return it in clear: the only time it is ever visible."""
    _, token = await issue_token(role, name)
    return token


async def authenticate(token: str, admin_token: str) -> Caller | None:
    """Who a bearer token is, or None (no, unknown or revoked token). The admin token from
    settings is compared in constant time, stored tokens by hash lookup (a hash of a random
    token leaks nothing). Read on every request, so a revoke applies to the next one."""
    if not token:
        return None
    if admin_token and secrets.compare_digest(token.encode(), admin_token.encode()):
        return ENV_CALLER
    row = await ApiToken.get_or_none(token_hash=hash_token(token), revoked_at=None)
    if row is None:
        return None
    return Caller(row.role, row.id, row.name, row.last_used_at)


async def role_for(token: str, admin_token: str) -> Role | None:
    """The role a bearer token grants, or None."""
    caller = await authenticate(token, admin_token)
    return caller.role if caller else None


async def is_active(token_id: int) -> bool:
    """The token exists and is not revoked (an open websocket re-checks before each operation)."""
    return await ApiToken.exists(id=token_id, revoked_at=None)


def needs_touch(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or now - last_used_at >= LAST_USED_EVERY


async def touch(token_ids: Collection[int], now: datetime) -> None:
    """Record that these tokens were used at `now`: one statement for the set, skipped for a
    token written less than LAST_USED_EVERY ago, and never waiting for SQLite's write lock
    (models/sql.py execute_nowait): a last use is a hint, not worth a request's latency."""
    if token_ids:
        await execute_nowait(TOUCH, now=now, ids=sorted(token_ids), stale=now - LAST_USED_EVERY)


@write_transaction
async def revoke_token(token_id: int, now: datetime, *, env_admin: bool) -> ApiToken:
    """Revoke a token from `now` on (revoking a revoked token changes nothing). The last
    active admin token is kept unless `env_admin` (API_ADMIN_TOKEN is set): without it nobody
    could create or revoke tokens through the API any more."""
    row = await ApiToken.get_or_none(id=token_id)
    if row is None:
        raise NotFound(f"token {token_id} not found", field="id")
    if row.revoked_at is not None:
        return row
    if row.role == Role.ADMIN and not env_admin:
        admins = {int(r["id"]) for r in await fetch(ACTIVE_ADMINS, role=Role.ADMIN.value)}
        if admins <= {token_id}:
            raise Conflict(
                f"token {token_id} is the last admin token and API_ADMIN_TOKEN is not set:"
                " create another admin token first",
                field="id",
            )
    await execute(REVOKE, now=now, id=token_id)
    await row.refresh_from_db()
    return row

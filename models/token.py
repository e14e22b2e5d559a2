"""API tokens: stored as SHA-256 hashes, never in clear."""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, default="")
    role = fields.CharEnumField(Role, max_length=10)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "api_token"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "hrld_" + secrets.token_urlsafe(32)


async def create_token(role: Role, name: str = "") -> str:
    """Create a token and return it in clear: the only time it is ever visible."""
    token = new_token()
    await ApiToken.create(name=name, role=role, token_hash=hash_token(token))
    return token


async def role_for(token: str, admin_token: str) -> Role | None:
    """The role a bearer token grants, or None; the admin token from settings is compared in
    constant time, stored tokens by hash lookup (a hash of a random token leaks nothing)."""
    if not token:
        return None
    if admin_token and secrets.compare_digest(token.encode(), admin_token.encode()):
        return Role.ADMIN
    row = await ApiToken.get_or_none(token_hash=hash_token(token))
    return row.role if row else None

"""`@described(...)`: strawberry's field decorator with a description, typed for mypy --strict
(strawberry.field's overloads with arguments are untyped decorators to it); and descriptions
that several arguments share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import strawberry

from gql.ids import MAX_ID
from models.idempotency import MAX_KEY, TTL

F = TypeVar("F", bound=Callable[..., Any])


def described(description: str) -> Callable[[F], F]:
    return cast(Callable[[F], F], strawberry.field(description=description))


def id_argument(what: str) -> str:
    """The description of an `id` argument naming `what` it identifies."""
    return f"The {what}'s decimal id: ASCII digits, 1 to {MAX_ID:,} (else BAD_USER_INPUT on id)."


IDEMPOTENCY_KEY = (
    f"Optional key for retrying safely (1 to {MAX_KEY} printable characters, else"
    " BAD_USER_INPUT on idempotencyKey): the same key with the same input answers what the"
    " first call created, with a different input it is CONFLICT on idempotencyKey. Kept"
    f" {TTL.total_seconds() / 3600:.0f} hours; without a key every call creates."
)

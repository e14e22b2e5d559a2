"""`@described(...)`: strawberry's field decorator with a description, typed for mypy --strict
(strawberry.field's overloads with arguments are untyped decorators to it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import strawberry

F = TypeVar("F", bound=Callable[..., Any])


def described(description: str) -> Callable[[F], F]:
    return cast(Callable[[F], F], strawberry.field(description=description))

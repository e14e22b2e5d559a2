"""Keyset pagination (no OFFSET): pages ordered by id, resumed after the last id seen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from models.errors import InvalidInput

MAX_PAGE = 500
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    has_next: bool
    total: int


def page_size(first: int | None) -> int:
    """Requests above the cap are served the cap, not rejected, so scripts keep working."""
    if first is None:
        return 50
    if first < 0:
        raise InvalidInput("first must not be negative", field="first")
    return min(first, MAX_PAGE)


async def keyset_page(queryset: Any, first: int | None, after_id: int | None) -> Page[Any]:
    size = page_size(first)
    total = await queryset.count()
    window = queryset.order_by("id")
    if after_id is not None:
        window = window.filter(id__gt=after_id)
    rows = list(await window.limit(size + 1)) if size else []
    return Page(rows[:size], len(rows) > size, total)

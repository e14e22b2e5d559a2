"""Keyset pagination (no OFFSET): pages in a fixed order of columns ending with the unique id,
resumed after the last row's key. Every order is backed by an index on exactly its columns
(models/client.py, models/mailing.py), so a page is an index range scan however deep it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q

from models.errors import InvalidInput

MAX_PAGE = 500
T = TypeVar("T")


@dataclass(frozen=True)
class Order:
    """Rows sorted by `columns`, the last one unique (the id, or a client's phone), all
    ascending or all descending: one direction keeps "after this key" one index range."""

    name: str
    columns: tuple[str, ...]
    descending: bool = False

    def key(self, row: Any) -> tuple[Any, ...]:
        return tuple(getattr(row, column) for column in self.columns)

    def order_by(self) -> list[str]:
        return [f"-{c}" if self.descending else c for c in self.columns]

    def after(self, key: tuple[Any, ...]) -> Q:
        """Rows strictly after `key` in this order. Written `a >= x AND (a > x OR (b >= y
        AND …))` rather than as a row value, so that both databases start the index range at
        the leading column (the rest only filters rows sharing that value)."""
        if len(key) != len(self.columns):
            raise ValueError(f"a key of {self.name} has {len(self.columns)} values")
        beyond, reached = ("lt", "lte") if self.descending else ("gt", "gte")
        column, value = self.columns[-1], key[-1]
        condition = Q(**{f"{column}__{beyond}": value})
        for column, value in reversed(list(zip(self.columns[:-1], key[:-1], strict=True))):
            condition = Q(**{f"{column}__{reached}": value}) & (
                Q(**{f"{column}__{beyond}": value}) | condition
            )
        return condition


BY_ID = Order("id", ("id",))


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    has_next: bool
    total: int
    order: Order = field(default=BY_ID)


def page_size(first: int | None) -> int:
    """Requests above the cap are served the cap, not rejected, so scripts keep working."""
    if first is None:
        return 50
    if first < 0:
        raise InvalidInput("first must not be negative", field="first")
    return min(first, MAX_PAGE)


async def keyset_page(
    queryset: Any,
    first: int | None,
    after: int | tuple[Any, ...] | None,
    order: Order = BY_ID,
) -> Page[Any]:
    """One page of `queryset` in `order`, after the key `after` (an id for BY_ID), with the
    total of the whole filtered set."""
    size = page_size(first)
    total = await queryset.count()
    key = after if isinstance(after, tuple) or after is None else (after,)
    rows = list(await page_query(queryset, order, key, size)) if size else []
    return Page(rows[:size], len(rows) > size, total, order)


def page_query(queryset: Any, order: Order, after: tuple[Any, ...] | None, size: int) -> Any:
    """The page's query: `size` + 1 rows (one more says whether a next page exists)."""
    window = queryset.order_by(*order.order_by())
    if after is not None:
        window = window.filter(order.after(after))
    return window.limit(size + 1)

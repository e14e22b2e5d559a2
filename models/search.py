"""Finding mailings and clients: the orders and filters behind `mailings` and `clients`.

Each order here has an index on exactly its columns (models/mailing.py, models/client.py
Meta.indexes) and each filter is an equality or a range on an indexed column, so a page is an
index range scan at any depth; tests/models/test_search.py checks the plans on both databases.
The text search is the exception: a substring cannot use a btree, so it filters the rows of
the order's index scan (mailings are thousands, not millions)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from models.client import Client, check_lookup
from models.errors import InvalidInput
from models.mailing import MAX_TEXT, Mailing, MailingState, validate_filter
from models.pages import BY_ID, Order
from models.text import fold

# Mailing orders by the API's field name; within equal values the newer row (higher id) is
# after the older one whatever the direction, since the id is the last column.
MAILING_SORTS = {
    "created_at": ("created_at", "id"),
    "start_at": ("start_at", "id"),
    "state": ("state", "created_at", "id"),  # state names alphabetically, then by creation
}
NEWEST_FIRST = Order("created_at.desc", MAILING_SORTS["created_at"], descending=True)
BY_PHONE = Order("phone", ("phone",))  # unique: the phone alone is the whole key
_PHONE_PREFIX = re.compile(r"[0-9]{1,11}")


def mailing_order(sort: str, descending: bool) -> Order:
    """The keyset order `mailings(orderBy:)` names; its name goes into the cursor, so a cursor
    of one order is refused by another."""
    suffix = "desc" if descending else "asc"
    return Order(f"{sort}.{suffix}", MAILING_SORTS[sort], descending)


def mailings_matching(state: MailingState | None, search: str | None) -> Any:
    """Mailings in `state` (any when None) whose text contains `search`, ignoring case.

    The search is a case-folded substring (models/text.py:fold) matched with LIKE against
    the stored folded text; `%`, `_` and `\\` in it are literal characters (tortoise escapes
    them and writes `ESCAPE '\\'`). An empty search matches every mailing."""
    queryset = Mailing.all() if state is None else Mailing.filter(state=state)
    search = check_lookup(search, "search")
    if search:
        if len(search) > MAX_TEXT:
            raise InvalidInput(f"search must be at most {MAX_TEXT} characters", field="search")
        queryset = queryset.filter(text_folded__contains=fold(search))
    return queryset


@dataclass(frozen=True)
class ClientSearch:
    """Conditions on clients, all of which must hold; a list matches any of its values and an
    empty one sets no condition (as an audience filter)."""

    tag: str | None = None
    operator_code: str | None = None
    phone_prefix: str | None = None
    operator_codes: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


def validate_client_search(
    tag: str | None,
    operator_code: str | None,
    phone_prefix: str | None,
    operator_codes: Sequence[str] | None,
    tags: Sequence[str] | None,
) -> ClientSearch:
    """`tag` and `operatorCode` are looked up as given (no control characters); the lists
    follow the audience filter's rules (three ASCII digits; tags as stored, at most 100 of
    each), and a phone prefix is 1 to 11 ASCII digits."""
    if phone_prefix is not None and not _PHONE_PREFIX.fullmatch(phone_prefix):
        raise InvalidInput("phonePrefix must be 1 to 11 ASCII digits", field="phonePrefix")
    lists = validate_filter(
        list(operator_codes or []), list(tags or []), fields=("operatorCodes", "tags")
    )
    return ClientSearch(
        tag=check_lookup(tag, "tag"),
        operator_code=check_lookup(operator_code, "operatorCode"),
        phone_prefix=phone_prefix,
        operator_codes=lists.operator_codes,
        tags=lists.tags,
    )


def phone_range(prefix: str) -> tuple[str, str | None]:
    """Phones starting with `prefix` as a range [low, high) of the unique phone index: high is
    the prefix with its last non-9 digit raised and the rest dropped ("7916" → "7917", "799" →
    "8"; all nines: no bound). A range, not `LIKE '7916%'`, which neither database serves from
    a plain index (SQLite's LIKE ignores case, PostgreSQL's needs the C collation)."""
    digits = prefix.rstrip("9")
    if not digits:
        return prefix, None
    return prefix, digits[:-1] + str(int(digits[-1]) + 1)


def clients_matching(search: ClientSearch) -> tuple[Any, Order]:
    """The clients `search` selects and the order they are paged in: by id, or by phone when a
    phone prefix is given (the prefix is then a range of the phone index, read in order)."""
    queryset = Client.all()
    if search.tag is not None:
        queryset = queryset.filter(tag=search.tag)
    if search.operator_code is not None:
        queryset = queryset.filter(operator_code=search.operator_code)
    if search.operator_codes:
        queryset = queryset.filter(operator_code__in=list(search.operator_codes))
    if search.tags:
        queryset = queryset.filter(tag__in=list(search.tags))
    if search.phone_prefix is None:
        return queryset, BY_ID
    low, high = phone_range(search.phone_prefix)
    queryset = queryset.filter(phone__gte=low)
    if high is not None:
        queryset = queryset.filter(phone__lt=high)
    return queryset, BY_PHONE

"""Finding mailings and clients (models/search.py, models/pages.py): keyset walks in every
order with ties, the phone range, the text search's folding and escaping, and the query plans
of each page and of the audience preview on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.audience import audience_where
from models.client import Client
from models.mailing import AudienceFilter, Mailing, MailingState
from models.pages import BY_ID, Order, keyset_page, page_query
from models.preview import ZONE_COUNTS
from models.search import (
    MAILING_SORTS,
    NEWEST_FIRST,
    ClientSearch,
    clients_matching,
    mailing_order,
    mailings_matching,
    phone_range,
)
from models.text import fold
from tests.support.plans import full_scans, plan_of, plan_of_statement, sorts, uses_index

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "prefix,expected",
    [
        ("7916", ("7916", "7917")),
        ("7", ("7", "8")),
        ("799", ("799", "8")),
        ("7919", ("7919", "792")),
        ("79161234567", ("79161234567", "79161234568")),
        ("9", ("9", None)),
        ("999", ("999", None)),
        ("70", ("70", "71")),
    ],
)
def test_phone_range(prefix: str, expected: tuple[str, str | None]) -> None:
    assert phone_range(prefix) == expected


async def _mailings() -> list[Mailing]:
    """Nine mailings with ties in every sort key: three creation instants, three starts."""
    states = [MailingState.SCHEDULED, MailingState.RUNNING, MailingState.CANCELLED]
    rows = []
    for i in range(9):
        row = await Mailing.create(
            text=f"m{i}",
            start_at=T0 + timedelta(hours=i % 3),
            end_at=T0 + timedelta(days=1),
            state=states[i % 3],
        )
        await Mailing.filter(id=row.id).update(created_at=T0 + timedelta(minutes=i // 3))
        rows.append(row)
    return list(await Mailing.all())


async def _walk(queryset: Any, order: Order, size: int) -> list[int]:
    seen: list[int] = []
    after: tuple[Any, ...] | None = None
    while True:
        page = await keyset_page(queryset, size, after, order)
        seen += [row.id for row in page.rows]
        if not page.has_next:
            return seen
        after = order.key(page.rows[-1])


@pytest.mark.parametrize("sort", sorted(MAILING_SORTS))
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("size", [1, 2, 4])
async def test_keyset_walk_sees_every_mailing_once_in_order(
    database: str, sort: str, descending: bool, size: int
) -> None:
    rows = await _mailings()
    order = mailing_order(sort, descending)
    expected = sorted(rows, key=order.key, reverse=descending)
    assert await _walk(Mailing.all(), order, size) == [row.id for row in expected]


async def test_text_search_folds_case_and_escapes_wildcards(database: str) -> None:
    texts = ["Скидка 50% ПРИВЕТ", "скидка 500 привет", "a_b", "axb", "STRASSE", "back\\slash"]
    for text in texts:
        await Mailing.create(
            text=text, text_folded=fold(text), start_at=T0, end_at=T0 + timedelta(days=1)
        )

    async def found(search: str) -> list[str]:
        rows = await mailings_matching(None, search).order_by("id")
        return [row.text for row in rows]

    assert await found("привет") == texts[:2]
    assert await found("50%") == texts[:1]
    assert await found("a_b") == ["a_b"]
    assert await found("straße") == ["STRASSE"]
    assert await found("\\") == ["back\\slash"]
    assert await found("%") == texts[:1]
    assert await found("") == texts


# Every page query the API can make, after a key: (name, queryset, order).
def _page(queryset: Any, order: Order) -> Any:
    key = {"created_at": T0, "start_at": T0, "state": "RUNNING", "phone": "79160000000"}
    return page_query(queryset, order, tuple(key.get(c, 5) for c in order.columns), 50)


ORDERED_PAGES = {
    "mailings, newest first": lambda: _page(mailings_matching(None, None), NEWEST_FIRST),
    "mailings by startAt": lambda: _page(
        mailings_matching(None, None), mailing_order("start_at", False)
    ),
    "mailings by state": lambda: _page(mailings_matching(None, None), mailing_order("state", True)),
    "mailings in a state, newest first": lambda: _page(
        mailings_matching(MailingState.RUNNING, None), NEWEST_FIRST
    ),
    "mailings in a state by startAt": lambda: _page(
        mailings_matching(MailingState.PAUSED, None), mailing_order("start_at", True)
    ),
    "mailings by text, newest first": lambda: _page(mailings_matching(None, "50%"), NEWEST_FIRST),
    "clients": lambda: _page(*clients_matching(ClientSearch())),
    "clients by tag": lambda: _page(*clients_matching(ClientSearch(tag="vip"))),
    "clients by operator code": lambda: _page(*clients_matching(ClientSearch(operator_code="916"))),
    "clients by phone prefix": lambda: _page(*clients_matching(ClientSearch(phone_prefix="7916"))),
    "stats per mailing": lambda: _page(Mailing.all(), BY_ID),
}
# A list of values is one index range per value; the matching rows are then sorted by id
# (SQLite) or the id index is read filtering them (PostgreSQL, with sorting priced out).
LIST_PAGES = {
    "clients by operator codes": lambda: _page(
        *clients_matching(ClientSearch(operator_codes=("916", "903")))
    ),
    "clients by tags": lambda: _page(*clients_matching(ClientSearch(tags=("vip", "new")))),
}


@pytest.mark.parametrize("name", ORDERED_PAGES)
async def test_pages_are_read_in_index_order(database: str, name: str) -> None:
    plan = await plan_of(ORDERED_PAGES[name]())
    assert uses_index(plan), plan
    assert full_scans(plan) == [], plan
    assert sorts(plan) == [], plan


@pytest.mark.parametrize("name", LIST_PAGES)
async def test_list_filters_use_an_index(database: str, name: str) -> None:
    plan = await plan_of(LIST_PAGES[name]())
    assert full_scans(plan) == [], plan
    assert uses_index(plan), plan


@pytest.mark.parametrize(
    "audience",
    [AudienceFilter(), AudienceFilter(("916", "903")), AudienceFilter((), ("vip",))],
    ids=["everyone", "operator codes", "tags"],
)
async def test_audience_preview_is_one_indexed_query(
    database: str, audience: AudienceFilter
) -> None:
    where, params = audience_where(audience)
    plan = await plan_of_statement(ZONE_COUNTS.format(audience=where), **params)
    assert full_scans(plan) == [], plan
    assert uses_index(plan), plan
    if audience == AudienceFilter():  # the zone-first index: grouped as it is read
        assert sorts(plan) == [], plan
        assert "Index Only Scan" in plan or "COVERING INDEX" in plan, plan


async def test_phone_prefix_pages_in_phone_order(database: str) -> None:
    for phone in ["79170000000", "79160000002", "79160000001", "79159999999", "79169999999"]:
        await Client.create(phone=phone, operator_code="916", timezone="UTC")
    queryset, order = clients_matching(ClientSearch(phone_prefix="7916"))
    phones = [await Client.get(id=i) for i in await _walk(queryset, order, 2)]
    assert [c.phone for c in phones] == ["79160000001", "79160000002", "79169999999"]

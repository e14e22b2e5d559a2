"""The audience preview through the API, at a fixed clock (the app's AppState.clock): counts
per zone in one grouped query, a sample, and for a window where it opens before the end."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from herald.app import AppState, create_app
from herald.settings import Settings
from models.token import Role, create_token
from tests.support.api import GQL, error_of

NOW = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)  # Moscow 15:00, Tokyo 21:00, New York 07:00
AUDIENCE = """query($filter: AudienceFilterInput!, $window: TimeWindowInput, $start: DateTime,
                   $end: DateTime, $n: Int) {
  audience(filter: $filter, window: $window, startAt: $start, endAt: $end) {
    count reachable byTimezone { zone count opensBeforeEnd opensAt }
    sample(first: $n) { phone tag } } }"""
COUNT_ONLY = "query($f: AudienceFilterInput!) { audience(filter: $f) { count } }"
IMPORT = "mutation($c: [ClientInput!]!) { importClients(clients: $c) { created } }"
CLIENTS = [
    ("79160000001", "vip", "Europe/Moscow"),
    ("79160000002", "vip", "Europe/Moscow"),
    ("79160000003", None, "Europe/Moscow"),
    ("79030000004", "vip", "Asia/Tokyo"),
    ("79030000005", "vip", "America/New_York"),
    ("79250000006", "new", "America/New_York"),
]


@pytest.fixture
async def fixed(database: str, settings: Settings, admin_token: str) -> AsyncIterator[GQL]:
    app = create_app(AppState(settings=settings, manage_db=False, clock=lambda: NOW))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://herald.test") as http:
        gql = GQL(http, admin_token)
        rows = [{"phone": p, "tag": t, "timezone": z} for p, t, z in CLIENTS]
        await gql.ok(IMPORT, c=rows)
        yield gql


def _zones(audience: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {
        z["zone"]: (z["count"], z["opensBeforeEnd"], z["opensAt"]) for z in audience["byTimezone"]
    }


async def test_counts_per_zone_and_a_sample(fixed: GQL) -> None:
    everyone = (await fixed.ok(AUDIENCE, filter={}))["audience"]
    assert everyone["count"] == 6 and everyone["reachable"] is None
    assert [z["zone"] for z in everyone["byTimezone"]] == [
        "Europe/Moscow",  # most clients first, then by name
        "America/New_York",
        "Asia/Tokyo",
    ]
    assert _zones(everyone)["Europe/Moscow"] == (3, None, None)
    assert [c["phone"] for c in everyone["sample"]] == [p for p, _, _ in CLIENTS]
    vip = await fixed.ok(AUDIENCE, filter={"tags": ["vip"], "operatorCodes": ["916", "903"]})
    assert vip["audience"]["count"] == 4
    assert _zones(vip["audience"]) == {
        "Europe/Moscow": (2, None, None),
        "America/New_York": (1, None, None),
        "Asia/Tokyo": (1, None, None),
    }
    none = (await fixed.ok(AUDIENCE, filter={"operatorCodes": ["999"]}))["audience"]
    assert none == {"count": 0, "reachable": None, "byTimezone": [], "sample": []}
    small = (await fixed.ok(AUDIENCE, filter={}, n=2))["audience"]["sample"]
    assert [c["phone"] for c in small] == [p for p, _, _ in CLIENTS[:2]]
    assert (await fixed.ok(AUDIENCE, filter={}, n=0))["audience"]["sample"] == []


async def test_window_reach_per_zone(fixed: GQL) -> None:
    """09:00-10:00 local within the next three hours (12:00-15:00Z) opens only in New York
    (09:00 EST = 14:00Z); Moscow and Tokyo are past it for the day."""
    window = {"start": "09:00", "end": "10:00"}
    data = await fixed.ok(AUDIENCE, filter={}, window=window, end="2030-01-15T15:00:00Z")
    audience = data["audience"]
    assert audience["count"] == 6 and audience["reachable"] == 2
    assert _zones(audience) == {
        "Europe/Moscow": (3, False, None),
        "America/New_York": (2, True, "2030-01-15T14:00:00+00:00"),
        "Asia/Tokyo": (1, False, None),
    }
    # A later start: Tokyo's next 09:00 (00:00Z on the 16th) comes before a later end.
    later = await fixed.ok(
        AUDIENCE,
        filter={},
        window=window,
        start="2030-01-15T20:00:00Z",
        end="2030-01-16T01:00:00Z",
    )
    assert _zones(later["audience"])["Asia/Tokyo"] == (1, True, "2030-01-16T00:00:00+00:00")
    assert later["audience"]["reachable"] == 1


@pytest.mark.parametrize(
    "variables,field",
    [
        ({"window": {"start": "09:00", "end": "10:00"}}, "endAt"),  # a window needs an end
        ({"end": "2030-01-15T11:00:00Z"}, "endAt"),  # in the past at the fixed clock
        ({"start": "2030-01-15T14:00:00Z", "end": "2030-01-15T13:00:00Z"}, "endAt"),
        ({"end": "2030-01-15T15:00:00"}, "endAt"),  # naive
        ({"start": "1999-01-01T00:00:00Z", "end": "2030-01-15T15:00:00Z"}, "startAt"),
        ({"window": {"start": "09:00", "end": "09:00"}, "end": "2030-01-16T00:00Z"}, "window"),
        ({"filter": {"operatorCodes": ["91"]}}, "filter.operatorCodes"),
        ({"filter": {"tags": ["a\x00"]}}, "filter.tags"),
        ({"n": -1}, "first"),
    ],
)
async def test_bad_preview_input(fixed: GQL, variables: dict[str, Any], field: str) -> None:
    variables = {"filter": {}, **variables}
    body = await fixed(AUDIENCE, **variables)
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": field}


async def test_count_and_zones_are_one_query_and_viewers_may_ask(
    fixed: GQL, caplog: pytest.LogCaptureFixture
) -> None:
    viewer = GQL(fixed.http, await create_token(Role.VIEWER))
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    caplog.clear()
    data = await viewer.ok(
        "query($f: AudienceFilterInput!) { audience(filter: $f) { count byTimezone { zone } } }",
        f={"tags": ["vip"]},
    )
    assert data["audience"]["count"] == 4
    reads = [r.getMessage() for r in caplog.records if "FROM client" in r.getMessage()]
    assert len(reads) == 1 and "GROUP BY c.timezone" in reads[0], reads
    assert (await viewer.ok(COUNT_ONLY, f={}))["audience"]["count"] == 6


async def test_sample_is_capped(fixed: GQL) -> None:
    rows = [{"phone": f"7900000{i:04d}", "timezone": "UTC"} for i in range(60)]
    await fixed.ok(IMPORT, c=rows)
    data = await fixed.ok(AUDIENCE, filter={}, n=500)
    assert len(data["audience"]["sample"]) == 50
    assert data["audience"]["count"] == 66

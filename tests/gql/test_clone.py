"""cloneMailing through the real app: a SCHEDULED copy with the same text, filter and window, its
period from the arguments or from the original's lead time and duration, on a fixed clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from herald.app import AppState, create_app
from herald.settings import Settings
from models.mailing import Mailing, MailingState
from models.token import Role, create_token
from tests.support.api import GQL, MAILING_FIELDS, create_mailing, error_of

NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)  # the app's fixed clock
CLONE = f"""mutation($id: ID!, $startAt: DateTime, $endAt: DateTime) {{
  cloneMailing(id: $id, startAt: $startAt, endAt: $endAt) {{ {MAILING_FIELDS} }} }}"""


@pytest.fixture
async def gql_at(database: str, settings: Settings, tmp_path: Path) -> AsyncIterator[GQL]:
    """The app whose clock reads NOW, three days ahead of the database's own."""
    app = create_app(AppState(settings=settings, manage_db=False, clock=lambda: NOW))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://herald.test") as http:
        yield GQL(http, settings.api_admin_token.get())


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def original(gql: GQL, **override: Any) -> dict[str, Any]:
    """Starts 5 h after NOW (3 days and 5 h after its createdAt), for 90 minutes, windowed."""
    return await create_mailing(
        gql,
        text="Sale!\nToday only",
        startAt=(NOW + timedelta(hours=5)).isoformat(),
        endAt=(NOW + timedelta(hours=6, minutes=30)).isoformat(),
        window={"start": "22:00", "end": "06:00"},
        filter={"operatorCodes": ["916", "926"], "tags": ["vip"]},
        **override,
    )


async def test_clone_copies_text_filter_window_and_keeps_lead_and_duration(
    gql_at: GQL,
) -> None:
    source = await original(gql_at)
    await gql_at.ok("mutation($id: ID!) { cancelMailing(id: $id) { state } }", id=source["id"])
    clone = (await gql_at.ok(CLONE, id=source["id"]))["cloneMailing"]
    assert clone["id"] != source["id"] and clone["state"] == "SCHEDULED"
    for name in ("text", "filter", "window"):
        assert clone[name] == source[name], name
    lead = at(source["startAt"]) - at(source["createdAt"])
    assert at(clone["startAt"]) == NOW + lead
    assert at(clone["endAt"]) - at(clone["startAt"]) == timedelta(minutes=90)
    stored = await Mailing.get(id=int(source["id"]))
    assert stored.state == MailingState.CANCELLED  # the original is left as it was


async def test_clone_with_a_start_keeps_the_duration_and_with_both_takes_them(
    gql_at: GQL,
) -> None:
    source_id = (await original(gql_at))["id"]
    start = NOW + timedelta(days=2)
    clone = (await gql_at.ok(CLONE, id=source_id, startAt=start.isoformat()))["cloneMailing"]
    assert (at(clone["startAt"]), at(clone["endAt"])) == (start, start + timedelta(minutes=90))
    end = NOW + timedelta(days=9)
    both = await gql_at.ok(CLONE, id=source_id, startAt=start.isoformat(), endAt=end.isoformat())
    assert (at(both["cloneMailing"]["startAt"]), at(both["cloneMailing"]["endAt"])) == (start, end)
    only_end = await gql_at.ok(CLONE, id=source_id, endAt=end.isoformat())
    assert at(only_end["cloneMailing"]["endAt"]) == end
    assert at(only_end["cloneMailing"]["startAt"]) < end  # the default start


async def test_a_mailing_that_started_at_once_is_copied_to_start_at_once(gql_at: GQL) -> None:
    past, end = (NOW - timedelta(days=5)).isoformat(), (NOW + timedelta(hours=1)).isoformat()
    source_id = (await create_mailing(gql_at, startAt=past, endAt=end))["id"]  # before created
    clone = (await gql_at.ok(CLONE, id=source_id))["cloneMailing"]
    assert at(clone["startAt"]) == NOW  # a lead time is never negative


@pytest.mark.parametrize(
    "arguments,field",
    [
        ({"startAt": "2031-01-01T10:00:00"}, "startAt"),  # no offset
        ({"startAt": "1999-12-31T23:59:59Z"}, "startAt"),
        ({"endAt": "2100-01-01T00:00:01Z"}, "endAt"),
        ({"endAt": "2000-01-01T00:00:00Z"}, "endAt"),  # before the default start
        ({"startAt": "2040-01-02T00:00:00Z", "endAt": "2040-01-01T00:00:00Z"}, "endAt"),
        ({"startAt": "2001-01-01T00:00:00Z"}, "endAt"),  # the kept duration ends in the past
    ],
)
async def test_a_period_a_new_mailing_could_not_have_is_refused(
    gql_at: GQL, arguments: dict[str, str], field: str
) -> None:
    source_id = (await original(gql_at))["id"]
    body = await gql_at(CLONE, id=source_id, **arguments)
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": field}
    assert await Mailing.all().count() == 1


async def test_a_default_period_past_2100_is_refused_on_start_at(gql_at: GQL) -> None:
    far = await create_mailing(gql_at, startAt="2099-12-30T00:00:00Z", endAt="2099-12-31T00:00Z")
    body = await gql_at(CLONE, id=far["id"])  # the lead from NOW (3 days later): past 2100
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "startAt"}


async def test_unknown_or_bad_ids_and_viewers(gql: GQL) -> None:
    assert error_of(await gql(CLONE, id="999")) == {"code": "NOT_FOUND", "field": "id"}
    for bad in ("0", "x", "\u0661", "2147483648"):
        assert error_of(await gql(CLONE, id=bad)) == {"code": "BAD_USER_INPUT", "field": "id"}
    source_id = (await create_mailing(gql))["id"]
    viewer = await create_token(Role.VIEWER)
    assert error_of(await gql(CLONE, token=viewer, id=source_id))["code"] == "FORBIDDEN"
    assert await Mailing.all().count() == 1

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.mailing import Mailing, MailingState
from models.message import Message, MessageStatus
from tests.support.api import (
    CREATE_MAILING,
    GQL,
    MAILING_FIELDS,
    create_mailing,
    error_of,
    iso,
    mailing_input,
)

UPDATE = f"""mutation($id: ID!, $input: MailingPatch!) {{
  updateMailing(id: $id, input: $input) {{ {MAILING_FIELDS} }} }}"""
GET = f"query($id: ID!) {{ mailing(id: $id) {{ {MAILING_FIELDS} }} }}"
LIST = """query($first: Int, $after: String, $state: MailingState) {
  mailings(first: $first, after: $after, state: $state) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id state } } } }"""
DELETE = "mutation($id: ID!) { deleteMailing(id: $id) }"
PAUSE = "mutation($id: ID!) { pauseMailing(id: $id) { state } }"
RESUME = "mutation($id: ID!) { resumeMailing(id: $id) { state } }"
CANCEL = "mutation($id: ID!) { cancelMailing(id: $id) { state } }"


async def test_create_and_read(gql: GQL) -> None:
    created = await create_mailing(gql, window={"start": "09:00", "end": "21:30:15"})
    assert created["state"] == "SCHEDULED"
    assert created["filter"] == {"operatorCodes": ["916"], "tags": ["vip"]}
    assert created["window"] == {"start": "09:00", "end": "21:30:15"}
    fetched = (await gql.ok(GET, id=created["id"]))["mailing"]
    assert fetched == created


async def test_empty_filter_means_everyone(gql: GQL) -> None:
    created = await create_mailing(gql, filter={})
    assert created["filter"] == {"operatorCodes": [], "tags": []}
    assert created["window"] is None


@pytest.mark.parametrize(
    "override,field",
    [
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 1001}, "text"),
        ({"startAt": "2030-01-01T10:00:00"}, "startAt"),
        ({"endAt": "2030-01-01T10:00:00"}, "endAt"),
        ({"startAt": "yesterday"}, "startAt"),
        ({"endAt": iso(timedelta(minutes=30))}, "endAt"),
        ({"startAt": iso(timedelta(days=-2)), "endAt": iso(timedelta(days=-1))}, "endAt"),
        ({"filter": {"operatorCodes": ["12"]}}, "filter.operatorCodes"),
        ({"filter": {"tags": [""]}}, "filter.tags"),
        ({"filter": {"tags": [str(i) for i in range(101)]}}, "filter.tags"),
        ({"window": {"start": "10:00", "end": "10:00"}}, "window"),
        ({"window": {"start": "25:00", "end": "10:00"}}, "start"),
    ],
)
async def test_invalid_mailing_input(gql: GQL, override: dict[str, Any], field: str) -> None:
    body = await gql(CREATE_MAILING, input=mailing_input(**override))
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": field}


async def test_list_filter_by_state_and_paginate(gql: GQL) -> None:
    """Newest first by default (the contract fixes no order)."""
    ids = [(await create_mailing(gql))["id"] for _ in range(3)][::-1]
    await gql.ok(CANCEL, id=ids[1])
    page = (await gql.ok(LIST, first=2))["mailings"]
    assert page["totalCount"] == 3
    assert [e["node"]["id"] for e in page["edges"]] == ids[:2]
    rest = (await gql.ok(LIST, first=2, after=page["pageInfo"]["endCursor"]))["mailings"]
    assert [e["node"]["id"] for e in rest["edges"]] == ids[2:]
    assert rest["pageInfo"]["hasNextPage"] is False
    cancelled = (await gql.ok(LIST, state="CANCELLED"))["mailings"]
    assert [e["node"]["id"] for e in cancelled["edges"]] == [ids[1]]


async def test_update_while_scheduled_changes_anything(gql: GQL) -> None:
    mid = (await create_mailing(gql))["id"]
    data = await gql.ok(
        UPDATE,
        id=mid,
        input={
            "text": "New",
            "filter": {"tags": ["a", "b"]},
            "window": {"start": "22:00", "end": "06:00"},
        },
    )
    updated = data["updateMailing"]
    assert updated["text"] == "New"
    start, end = iso(timedelta(hours=3)), iso(timedelta(hours=7))
    moved = (await gql.ok(UPDATE, id=mid, input={"startAt": start, "endAt": end}))["updateMailing"]
    assert (moved["startAt"], moved["endAt"]) == (start, end)
    assert updated["filter"] == {"operatorCodes": [], "tags": ["a", "b"]}
    assert updated["window"] == {"start": "22:00", "end": "06:00"}
    cleared = (await gql.ok(UPDATE, id=mid, input={"window": None}))["updateMailing"]
    assert cleared["window"] is None
    body = await gql(UPDATE, id=mid, input={"endAt": iso(timedelta(minutes=10))})
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "endAt"}
    body = await gql(UPDATE, id=mid, input={"text": None})
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "text"}


async def test_running_mailing_only_end_and_window_editable(gql: GQL, database: str) -> None:
    mid = (await create_mailing(gql))["id"]
    await Mailing.filter(id=int(mid)).update(
        state=MailingState.RUNNING, started_at=datetime.now(UTC)
    )
    new_end = iso(timedelta(hours=5))
    updated = (await gql.ok(UPDATE, id=mid, input={"endAt": new_end}))["updateMailing"]
    assert datetime.fromisoformat(updated["endAt"]) == datetime.fromisoformat(new_end)
    window = {"start": "08:00", "end": "20:00"}
    updated = (await gql.ok(UPDATE, id=mid, input={"window": window}))["updateMailing"]
    assert updated["window"] == window
    body = await gql(UPDATE, id=mid, input={"text": "changed"})
    assert error_of(body) == {"code": "CONFLICT", "field": "text"}
    body = await gql(UPDATE, id=mid, input={"filter": {"tags": ["x"]}})
    assert error_of(body) == {"code": "CONFLICT", "field": "filter"}
    body = await gql(UPDATE, id=mid, input={"startAt": iso(timedelta(hours=3))})
    assert error_of(body) == {"code": "CONFLICT", "field": "startAt"}


async def test_ended_mailing_cannot_be_edited(gql: GQL) -> None:
    mid = (await create_mailing(gql))["id"]
    await gql.ok(CANCEL, id=mid)
    body = await gql(UPDATE, id=mid, input={"endAt": iso(timedelta(hours=9))})
    assert error_of(body)["code"] == "CONFLICT"


async def test_pause_resume_cancel_transitions(gql: GQL, database: str) -> None:
    mid = (await create_mailing(gql))["id"]
    assert (await gql.ok(PAUSE, id=mid))["pauseMailing"]["state"] == "PAUSED"
    assert error_of(await gql(PAUSE, id=mid))["code"] == "CONFLICT"
    assert (await gql.ok(RESUME, id=mid))["resumeMailing"]["state"] == "SCHEDULED"
    assert error_of(await gql(RESUME, id=mid))["code"] == "CONFLICT"
    await Mailing.filter(id=int(mid)).update(
        state=MailingState.PAUSED, started_at=datetime.now(UTC)
    )
    assert (await gql.ok(RESUME, id=mid))["resumeMailing"]["state"] == "RUNNING"
    assert (await gql.ok(CANCEL, id=mid))["cancelMailing"]["state"] == "CANCELLED"
    assert error_of(await gql(CANCEL, id=mid))["code"] == "CONFLICT"
    assert error_of(await gql(RESUME, id=mid))["code"] == "CONFLICT"
    for op in (PAUSE, RESUME, CANCEL, DELETE):
        assert error_of(await gql(op, id="424242"))["code"] == "NOT_FOUND"


async def _message(mailing_id: int, client_id: int | None, status: MessageStatus) -> Message:
    return await Message.create(
        mailing_id=mailing_id,
        client_id=client_id,
        phone="79160000001",
        timezone="UTC",
        status=status,
    )


async def test_cancel_cancels_unsent_messages(gql: GQL, database: str) -> None:
    mid = int((await create_mailing(gql))["id"])
    pending = await _message(mid, None, MessageStatus.PENDING)
    sent = await _message(mid, None, MessageStatus.SENT)
    await gql.ok(CANCEL, id=str(mid))
    assert (await Message.get(id=pending.id)).status == MessageStatus.CANCELLED
    assert (await Message.get(id=sent.id)).status == MessageStatus.SENT


async def test_delete_mailing_removes_its_messages(gql: GQL, database: str) -> None:
    mid = int((await create_mailing(gql))["id"])
    other = int((await create_mailing(gql))["id"])
    await _message(mid, None, MessageStatus.SENT)
    kept = await _message(other, None, MessageStatus.SENT)
    assert (await gql.ok(DELETE, id=str(mid)))["deleteMailing"] == str(mid)
    assert (await gql.ok(GET, id=str(mid)))["mailing"] is None
    assert await Message.filter(mailing_id=mid).count() == 0
    assert await Message.filter(id=kept.id).exists()


async def test_delete_client_keeps_messages_with_phone(gql: GQL, database: str) -> None:
    client = (
        await gql.ok(
            'mutation { createClient(input: {phone: "79160000001", timezone: "UTC"}) { id } }'
        )
    )["createClient"]
    mid = int((await create_mailing(gql))["id"])
    sent = await _message(mid, int(client["id"]), MessageStatus.SENT)
    await gql.ok("mutation($id: ID!) { deleteClient(id: $id) }", id=client["id"])
    query = """query($id: ID!) { mailing(id: $id) { messages { totalCount
      edges { node { id status phone client { id } mailing { id } } } } } }"""
    messages = (await gql.ok(query, id=str(mid)))["mailing"]["messages"]
    assert messages["totalCount"] == 1
    node = messages["edges"][0]["node"]
    assert node == {
        "id": str(sent.id),
        "status": "SENT",
        "phone": "79160000001",
        "client": None,
        "mailing": {"id": str(mid)},
    }


async def test_end_with_a_negative_offset_is_stored_and_compared_in_utc(
    gql: GQL, database: str
) -> None:
    from zoneinfo import ZoneInfo

    from models.schedule import expire_ended

    mid = int((await create_mailing(gql))["id"])
    await Mailing.filter(id=mid).update(state=MailingState.RUNNING, started_at=datetime.now(UTC))
    await _message(mid, None, MessageStatus.PENDING)
    end = datetime.now(UTC) + timedelta(hours=2)
    local = end.astimezone(ZoneInfo("America/New_York")).isoformat()  # e.g. …-05:00
    await gql.ok(UPDATE, id=str(mid), input={"endAt": local})
    await expire_ended(datetime.now(UTC) + timedelta(minutes=30))  # well before the end
    assert (await Message.get(mailing_id=mid)).status == MessageStatus.PENDING
    await expire_ended(end + timedelta(seconds=1))
    assert (await Message.get(mailing_id=mid)).status == MessageStatus.EXPIRED

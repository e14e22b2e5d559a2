"""The one transition table: every event against every state, on SQLite and PostgreSQL; no
status or state written anywhere else; the README's copy of the table is current."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.mailing import Mailing, MailingState
from models.message import Message, MessageStatus
from models.sql import execute
from models.transitions import (
    MAILING_EVENTS,
    MESSAGE_EVENTS,
    MailingEvent,
    MessageEvent,
    mailing_cas,
    message_cas,
    move_mailings,
    move_messages,
    table_markdown,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
MESSAGE_CASES = [
    (event, status)
    for event in MESSAGE_EVENTS
    if event != MessageEvent.CREATE
    for status in MessageStatus
]
MAILING_CASES = [(event, state) for event in MAILING_EVENTS for state in MailingState]


async def _mailing(state: MailingState = MailingState.RUNNING) -> Mailing:
    return await Mailing.create(
        text="t",
        start_at=NOW - timedelta(hours=1),
        end_at=NOW + timedelta(hours=1),
        state=state,
    )


async def _message(status: MessageStatus) -> Message:
    mailing = await _mailing()
    return await Message.create(
        mailing_id=mailing.id, phone="79160000001", timezone="UTC", status=status
    )


@pytest.mark.parametrize(("event", "status"), MESSAGE_CASES)
async def test_message_event_moves_exactly_its_sources(
    database: str, event: MessageEvent, status: MessageStatus
) -> None:
    move = MESSAGE_EVENTS[event]
    sql_row, orm_row = await _message(status), await _message(status)
    await execute(message_cas(event, assign="attempts = attempts", where="id = :id"), id=sql_row.id)
    moved = await move_messages(event, NOW, id=orm_row.id)
    expected = MessageStatus(move.target) if status in move.sources else status
    assert (await Message.get(id=sql_row.id)).status == expected
    assert (await Message.get(id=orm_row.id)).status == expected
    # SQLite's count includes the counter triggers' rows: only zero or not is meaningful.
    assert bool(moved) == (status in move.sources)


@pytest.mark.parametrize(("event", "state"), MAILING_CASES)
async def test_mailing_event_moves_exactly_its_sources(
    database: str, event: MailingEvent, state: MailingState
) -> None:
    move = MAILING_EVENTS[event]
    sql_row, orm_row = await _mailing(state), await _mailing(state)
    await execute(mailing_cas(event, where="id = :id"), id=sql_row.id)
    moved = await move_mailings(event, NOW, id=orm_row.id)
    expected = MailingState(move.target) if state in move.sources else state
    assert (await Mailing.get(id=sql_row.id)).state == expected
    assert (await Mailing.get(id=orm_row.id)).state == expected
    assert moved == (1 if state in move.sources else 0)


# A status or state written outside models/transitions.py: an SQL SET, or an ORM update().
WRITES = [
    re.compile(r"\bSET\s+(status|state)\s*=", re.IGNORECASE),
    re.compile(r",\s*(status|state)\s*=\s*['{v(]", re.IGNORECASE),
    re.compile(r"\.update\([^)]*\b(status|state)\s*=", re.DOTALL),
]


def status_writes(text: str) -> list[str]:
    return [m.group(0) for pattern in WRITES for m in pattern.finditer(text)]


def test_no_status_is_written_outside_the_table() -> None:
    found = {}
    for package in ("models", "jobs", "gql", "herald"):
        for path in (ROOT / package).rglob("*.py"):
            if path.relative_to(ROOT).as_posix() == "models/transitions.py":
                continue
            if hits := status_writes(path.read_text()):
                found[path.relative_to(ROOT).as_posix()] = hits
    assert found == {}


@pytest.mark.parametrize(
    "source",
    [
        "await db().execute_query(\"UPDATE message SET status = 'SENT' WHERE id = 1\")",
        "sql = f\"UPDATE mailing SET finished_at = {t}, state = 'FINISHED'\"",
        "await Message.filter(id=1).update(\n    status=MessageStatus.SENT)",
        "await Mailing.filter(id=1).update(updated_at=now, state=MailingState.PAUSED)",
    ],
)
def test_the_scan_finds_writes(source: str) -> None:
    assert status_writes(source)  # the guard above can fail


def test_readme_shows_the_current_table() -> None:
    assert table_markdown() in (ROOT / "README.md").read_text()

"""The two state machines of Herald, as data: every event of a message and of a mailing, the
states it moves from and the one it moves to, and the status groups beside them.

Every status write goes through this module: the SQL statements of the engine (named
constants with `:name` parameters, rendered by models/sql.py) are built around
`message_cas`, `message_cas_many` and `mailing_cas`, and the ORM ones call
`move_messages` / `move_mailings`. Each is a compare-and-set over a set of rows (`… WHERE
status IN (<sources>)`), so a row that another worker or request moved meanwhile is left
alone. `tests/models/test_transitions.py` runs every event against every state on SQLite and
PostgreSQL, and fails if a status or state is written anywhere else."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from models.states import MailingState, MessageStatus

MS = MessageStatus
MailingS = MailingState


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]  # empty: the event creates the row (an INSERT, no compare-and-set)
    target: str
    why: str


class MessageEvent(StrEnum):
    CREATE = "create"
    CLAIM = "claim"
    ACCEPT = "accept"
    RETRY = "retry"
    REJECT = "reject"
    RELEASE = "release"
    EXPIRE = "expire"
    CANCEL = "cancel"
    RECLAIM = "reclaim"
    REVIVE = "revive"


class MailingEvent(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    RESUME_UNSTARTED = "resume_unstarted"
    CANCEL = "cancel"
    FINISH = "finish"
    LAPSE = "lapse"


def _t(sources: Iterable[str], target: str, why: str) -> Transition:
    return Transition(frozenset(sources), target, why)


# Status groups, defined once.
UNSENT = frozenset({MS.PENDING, MS.RETRYING})
NOT_FINAL = UNSENT | {MS.SENDING}
FINAL = frozenset(MS) - NOT_FINAL
MAILING_ACTIVE = frozenset({MailingS.SCHEDULED, MailingS.RUNNING, MailingS.PAUSED})
MAILING_ENDED = frozenset(MailingS) - MAILING_ACTIVE

MESSAGE_EVENTS: dict[MessageEvent, Transition] = {
    MessageEvent.CREATE: _t((), MS.PENDING, "the mailing starts: its audience is snapshotted"),
    MessageEvent.CLAIM: _t(UNSENT, MS.SENDING, "a worker leases it to send now"),
    MessageEvent.ACCEPT: _t(
        NOT_FINAL, MS.SENT, "the probe accepted it (whatever happened meanwhile: SENT wins)"
    ),
    MessageEvent.RETRY: _t({MS.SENDING}, MS.RETRYING, "a transient failure: again after backoff"),
    MessageEvent.REJECT: _t(
        {MS.SENDING}, MS.FAILED, "a permanent rejection, or the last attempt failed"
    ),
    MessageEvent.RELEASE: _t(
        {MS.SENDING},
        MS.PENDING,
        "not attempted (window closed, too late, circuit open, stop): attempt given back",
    ),
    MessageEvent.EXPIRE: _t(UNSENT, MS.EXPIRED, "endAt passed, or its window cannot open before"),
    MessageEvent.CANCEL: _t(
        UNSENT, MS.CANCELLED, "its mailing was cancelled or its client deleted"
    ),
    MessageEvent.RECLAIM: _t(
        {MS.SENDING}, MS.RETRYING, "its lease ran out (the worker died): sent again"
    ),
    MessageEvent.REVIVE: _t(
        {MS.EXPIRED}, MS.PENDING, "an edit of endAt/window made its window reachable"
    ),
}

MAILING_EVENTS: dict[MailingEvent, Transition] = {
    MailingEvent.START: _t({MailingS.SCHEDULED}, MailingS.RUNNING, "startAt came"),
    MailingEvent.PAUSE: _t({MailingS.SCHEDULED, MailingS.RUNNING}, MailingS.PAUSED, "pauseMailing"),
    MailingEvent.RESUME: _t({MailingS.PAUSED}, MailingS.RUNNING, "resumeMailing, once started"),
    MailingEvent.RESUME_UNSTARTED: _t(
        {MailingS.PAUSED}, MailingS.SCHEDULED, "resumeMailing, before its start"
    ),
    MailingEvent.CANCEL: _t(MAILING_ACTIVE, MailingS.CANCELLED, "cancelMailing"),
    MailingEvent.FINISH: _t(
        {MailingS.RUNNING, MailingS.PAUSED},
        MailingS.FINISHED,
        "nothing left to send (a PAUSED one only once its end passed)",
    ),
    MailingEvent.LAPSE: _t(
        {MailingS.SCHEDULED}, MailingS.FINISHED, "its whole period passed before it could start"
    ),
}


def sql_list(statuses: Iterable[str]) -> str:
    """`('A', 'B')` for SQL: these are this module's own constants, never user input."""
    return "(" + ", ".join(f"'{s}'" for s in sorted(statuses)) + ")"


STATUS = "message.status"
# The guard of a statement that names its rows by id, on SQLite: the unary `+` keeps the
# planner from answering `status IN (…)` from the (status, next_attempt_at) index, which it
# did (scanning every unsent message of every mailing) instead of looking up the ids by key.
STATUS_NOT_INDEXED = "+message.status"


def message_cas(event: MessageEvent, *, assign: str = "", where: str, guard: str = STATUS) -> str:
    """`UPDATE message SET status = <target>, <assign> WHERE status IN (<sources>) AND
    (<where>)` for one event of the table. `assign` and `where` are SQL with `:name`
    parameters; the statuses come from the table, as literals (never from input). `guard`:
    how the status column is written in the guard (STATUS_NOT_INDEXED on SQLite for a
    statement whose `where` names the rows by id)."""
    move = MESSAGE_EVENTS[event]
    return (
        f"UPDATE message SET status = '{move.target}'{', ' + assign if assign else ''}"
        f" WHERE {guard} IN {sql_list(move.sources)} AND ({where})"
    )


def message_cas_many(
    events: Iterable[MessageEvent],
    target: str,
    *,
    assign: str,
    source: str,
    where: str,
    guard: str = STATUS,
) -> str:
    """One statement for several events that share their sources, the target of each row
    coming from `target` (an SQL expression, e.g. a column of a VALUES list). Which rows get
    which target is checked by the caller (`target_of`)."""
    moves = [MESSAGE_EVENTS[e] for e in events]
    sources = {m.sources for m in moves}
    assert len(sources) == 1, "events written together must share their sources"
    return (
        f"UPDATE message SET status = {target}, {assign}{source}"
        f" WHERE {guard} IN {sql_list(moves[0].sources)} AND ({where})"
    )


def target_of(event: MessageEvent) -> MessageStatus:
    return MessageStatus(MESSAGE_EVENTS[event].target)


def mailing_cas(event: MailingEvent, *, assign: str = "", where: str) -> str:
    move = MAILING_EVENTS[event]
    return (
        f"UPDATE mailing SET state = '{move.target}'{', ' + assign if assign else ''}"
        f" WHERE mailing.state IN {sql_list(move.sources)} AND ({where})"
    )


async def move_messages(
    event: MessageEvent, now: datetime, *, assign: dict[str, Any] | None = None, **where: Any
) -> int:
    """ORM form of `message_cas`: filters as keyword arguments, returns the rows moved."""
    from models.message import Message  # the models import this module: bound late

    move = MESSAGE_EVENTS[event]
    return int(
        await Message.filter(status__in=list(move.sources), **where).update(
            status=MessageStatus(move.target), updated_at=now, **(assign or {})
        )
    )


async def move_mailings(
    event: MailingEvent, now: datetime, *, assign: dict[str, Any] | None = None, **where: Any
) -> int:
    from models.mailing import Mailing  # the models import this module: bound late

    move = MAILING_EVENTS[event]
    return int(
        await Mailing.filter(state__in=list(move.sources), **where).update(
            state=MailingState(move.target), updated_at=now, **(assign or {})
        )
    )


async def cancel_client_messages(client_id: int, now: datetime) -> int:
    """A deleted client gets nothing more: its unsent messages become CANCELLED."""
    return await move_messages(
        MessageEvent.CANCEL, now, assign={"lease_owner": None}, client_id=client_id
    )


async def cancel_mailing_messages(mailing_id: int, now: datetime) -> int:
    return await move_messages(
        MessageEvent.CANCEL, now, assign={"lease_owner": None}, mailing_id=mailing_id
    )


def table_markdown() -> str:
    """The two machines as Markdown tables (the README's copy is checked against this)."""
    lines = ["| message event | from | to | when |", "|---|---|---|---|"]
    for event, move in MESSAGE_EVENTS.items():
        sources = ", ".join(sorted(move.sources)) or "(new row)"
        lines.append(f"| `{event}` | {sources} | {move.target} | {move.why} |")
    lines += ["", "| mailing event | from | to | when |", "|---|---|---|---|"]
    for mevent, move in MAILING_EVENTS.items():
        lines.append(
            f"| `{mevent}` | {', '.join(sorted(move.sources))} | {move.target} | {move.why} |"
        )
    return "\n".join(lines) + "\n"

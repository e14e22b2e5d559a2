"""Mailing queries and mutations: parse input, call the domain, map the result."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import strawberry

import metrics
from gql.audit import audit
from gql.context import Context
from gql.ids import parse_id
from gql.scalars import DateTime
from gql.types.enums import MailingStateEnum, OrderDirection
from gql.types.fields import IDEMPOTENCY_KEY, id_argument
from gql.types.mailing import (
    AudienceFilterInput,
    MailingConnection,
    MailingInput,
    MailingOrder,
    MailingPatch,
    MailingType,
    TimeWindowInput,
)
from gql.types.pagination import AFTER, FIRST, connection, decode_key
from models import lifecycle
from models.errors import InvalidInput
from models.idempotency import create_once
from models.mailing import (
    UNSET,
    AudienceFilter,
    Mailing,
    MailingState,
    Window,
    validate_aware,
    validate_filter,
    validate_mailing,
)
from models.mailing import MailingPatch as DomainPatch
from models.pages import keyset_page
from models.search import mailing_order, mailings_matching
from models.transitions import MailingEvent

Info = strawberry.Info[Context, None]
MailingId = Annotated[strawberry.ID, strawberry.argument(description=id_argument("mailing"))]


def parse_filter(value: AudienceFilterInput) -> AudienceFilter:
    return validate_filter(value.operator_codes, value.tags)


def parse_window(value: TimeWindowInput | None) -> Window | None:
    return Window.from_times(value.start, value.end) if value else None


async def mailing(id: MailingId) -> MailingType | None:
    row = await Mailing.get_or_none(id=parse_id(id))
    return MailingType.from_model(row) if row else None


async def mailings(
    first: Annotated[int | None, strawberry.argument(description=FIRST)] = 50,
    after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    state: Annotated[
        MailingStateEnum | None,
        strawberry.argument(description="Only mailings in this state; null: every state."),
    ] = None,
    order_by: Annotated[
        MailingOrder | None,
        strawberry.argument(
            description="Sort key and direction; default (and null): newest first"
            " (CREATED_AT DESC). A cursor resumes only the order it came from."
        ),
    ] = None,
    search: Annotated[
        str | None,
        strawberry.argument(
            description="Only mailings whose text contains this, ignoring case (Unicode"
            " case folding); `%` and `_` are literal. At most 1,000 characters, no control"
            " characters (BAD_USER_INPUT on `search`); empty matches every mailing."
        ),
    ] = None,
) -> MailingConnection:
    order_by = order_by or MailingOrder()
    order = mailing_order(order_by.field.name.lower(), order_by.direction == OrderDirection.DESC)
    queryset = mailings_matching(state, search)
    page = await keyset_page(queryset, first, decode_key("mailing", order, after), order)
    return connection("mailing", page, MailingType.from_model)


async def create_mailing(
    info: Info,
    input: Annotated[MailingInput, strawberry.argument(description="The new mailing.")],
    idempotency_key: Annotated[str | None, strawberry.argument(description=IDEMPOTENCY_KEY)] = None,
) -> MailingType:
    now = info.context.now()
    # Bounded before the idempotency fingerprint, which converts them to UTC: a year-1 or
    # year-9999 instant would overflow there. (Only the time-dependent checks need to wait
    # until after the key is looked up.)
    validate_aware(input.start_at, "startAt")
    validate_aware(input.end_at, "endAt")

    async def create() -> Mailing:
        data = validate_mailing(
            input.text,
            input.start_at,
            input.end_at,
            parse_filter(input.filter),
            parse_window(input.window),
            now,
        )
        return await lifecycle.create_mailing(data)

    payload = dataclasses.asdict(input)
    row, created = await create_once(
        Mailing, "createMailing", idempotency_key, payload, now, create
    )
    audit(
        info.context.caller,
        "createMailing" if created else "createMailing replayed",
        mailing_id=row.id,
    )
    await info.context.after_mailing_change(row.id, row)
    return MailingType.from_model(row)


def _patch(input: MailingPatch) -> DomainPatch:
    for name, api in (
        ("text", "text"),
        ("start_at", "startAt"),
        ("end_at", "endAt"),
        ("filter", "filter"),
    ):
        if getattr(input, name) is None:
            raise InvalidInput(f"{api} cannot be null", field=api)
    start, end, filter_ = input.start_at, input.end_at, input.filter
    return DomainPatch(
        text=UNSET if input.text is strawberry.UNSET else input.text,
        start_at=UNSET if not start else validate_aware(start, "startAt"),
        end_at=UNSET if not end else validate_aware(end, "endAt"),
        filter=UNSET if not filter_ else parse_filter(filter_),
        window=UNSET if input.window is strawberry.UNSET else parse_window(input.window),
    )


async def update_mailing(
    info: Info,
    id: MailingId,
    input: Annotated[
        MailingPatch,
        strawberry.argument(description="The fields to change; others are kept."),
    ],
) -> MailingType:
    row = await lifecycle.update_mailing(parse_id(id), _patch(input), info.context.now())
    audit(info.context.caller, "updateMailing", mailing_id=row.id)
    await info.context.after_mailing_change(row.id, row)
    return MailingType.from_model(row)


async def delete_mailing(info: Info, id: MailingId) -> strawberry.ID:
    await lifecycle.delete_mailing(parse_id(id), info.context.now())
    audit(info.context.caller, "deleteMailing", mailing_id=int(id))
    await info.context.after_mailing_change(int(id), None)
    return id


async def pause_mailing(info: Info, id: MailingId) -> MailingType:
    row = await lifecycle.pause_mailing(parse_id(id), info.context.now())
    metrics.MAILING_TRANSITIONS.labels(event=MailingEvent.PAUSE).inc()
    audit(info.context.caller, "pauseMailing", mailing_id=row.id)
    await info.context.after_mailing_change(row.id, row)
    return MailingType.from_model(row)


async def resume_mailing(info: Info, id: MailingId) -> MailingType:
    row = await lifecycle.resume_mailing(parse_id(id), info.context.now())
    started = row.state != MailingState.SCHEDULED  # resumed before its start: SCHEDULED again
    event = MailingEvent.RESUME if started else MailingEvent.RESUME_UNSTARTED
    metrics.MAILING_TRANSITIONS.labels(event=event).inc()
    audit(info.context.caller, "resumeMailing", mailing_id=row.id)
    await info.context.after_mailing_change(row.id, row)
    return MailingType.from_model(row)


async def cancel_mailing(info: Info, id: MailingId) -> MailingType:
    row = await lifecycle.cancel_mailing(parse_id(id), info.context.now())
    metrics.MAILING_TRANSITIONS.labels(event=MailingEvent.CANCEL).inc()
    audit(info.context.caller, "cancelMailing", mailing_id=row.id)
    await info.context.after_mailing_change(row.id, row)
    return MailingType.from_model(row)


CLONE_START = (
    "The copy's start (with a UTC offset, 2000-2100). Omitted: now plus the original's lead"
    " time (its createdAt to its startAt, at least zero)."
)
CLONE_END = (
    "The copy's end, with a UTC offset, after its start and in the future. Omitted: its"
    " start plus the original's duration (endAt - startAt)."
)


async def clone_mailing(
    info: Info,
    id: Annotated[
        strawberry.ID,
        strawberry.argument(description=f"The mailing to copy. {id_argument('mailing')}"),
    ],
    start_at: Annotated[DateTime | None, strawberry.argument(description=CLONE_START)] = None,
    end_at: Annotated[DateTime | None, strawberry.argument(description=CLONE_END)] = None,
) -> MailingType:
    source_id = parse_id(id)
    start = None if start_at is None else validate_aware(start_at, "startAt")
    end = None if end_at is None else validate_aware(end_at, "endAt")
    row = await lifecycle.clone_mailing(source_id, start, end, info.context.now())
    audit(info.context.caller, "cloneMailing", mailing_id=row.id, source_mailing_id=source_id)
    await info.context.after_mailing_change(row.id, row)
    return MailingType.from_model(row)

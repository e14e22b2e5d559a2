"""The audience preview query: parse the filter and the optional period, call the domain."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gql.context import Context
from gql.resolvers.mailings import parse_filter, parse_window
from gql.scalars import DateTime
from gql.types.audience import Audience
from gql.types.mailing import AudienceFilterInput, TimeWindowInput
from models.preview import preview, validate_preview_period

Info = strawberry.Info[Context, None]


async def audience(
    info: Info,
    filter: Annotated[
        AudienceFilterInput,
        strawberry.argument(description="As createMailing's filter (same rules and errors)."),
    ],
    window: Annotated[
        TimeWindowInput | None,
        strawberry.argument(
            description="A daily window in the client's local time, checked per time zone;"
            " needs endAt (else BAD_USER_INPUT on endAt)."
        ),
    ] = None,
    start_at: Annotated[
        DateTime | None,
        strawberry.argument(
            description="When the mailing would start, with a UTC offset (as createMailing's"
            " startAt; BAD_USER_INPUT on startAt); default now."
        ),
    ] = None,
    end_at: Annotated[
        DateTime | None,
        strawberry.argument(
            description="When it would end, with a UTC offset: after startAt and in the future"
            " (BAD_USER_INPUT on endAt), as for createMailing."
        ),
    ] = None,
) -> Audience:
    now = info.context.now()
    audience = parse_filter(filter)
    period = validate_preview_period(parse_window(window), start_at, end_at, now)
    return Audience.build(audience, await preview(audience, period, now))

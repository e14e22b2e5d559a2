"""The audience preview's types: counts per zone and a sample of clients."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gql.scalars import DateTime
from gql.types.client import ClientType
from models.audience import Filtered
from models.preview import MAX_SAMPLE, Preview, sample


@strawberry.type(description="Clients of one IANA time zone that the filter selects.")
class ZoneCount:
    zone: str = strawberry.field(description='The IANA zone name, e.g. "Europe/Moscow".')
    count: int = strawberry.field(description="Matching clients in this zone.")
    opens_before_end: bool | None = strawberry.field(
        description="Whether the window opens in this zone between the start (or now, if"
        " later) and endAt; null unless `window` and `endAt` were given."
    )
    opens_at: DateTime | None = strawberry.field(
        description="The first instant (UTC) from the start at which the window is open in"
        " this zone, DST-exact; null if it does not open before endAt or no window was given."
    )


async def _sample(
    root: Audience,
    first: Annotated[
        int | None,
        strawberry.argument(
            description=f"How many: default 10, at most {MAX_SAMPLE} (more is served"
            f" {MAX_SAMPLE}); negative is BAD_USER_INPUT on first."
        ),
    ] = 10,
) -> list[ClientType]:
    return [ClientType.from_model(row) for row in await sample(root.audience, first)]


@strawberry.type(
    description="Who a mailing with this filter would reach, counted now: the directory may"
    " change before the mailing starts (its audience is taken at its start)."
)
class Audience:
    audience: strawberry.Private[Filtered]
    count: int = strawberry.field(description="Clients the filter selects.")
    reachable: int | None = strawberry.field(
        description="Clients in zones where the window opens before endAt: those the mailing"
        " could reach. Null unless `window` and `endAt` were given."
    )
    by_timezone: list[ZoneCount] = strawberry.field(
        description="Matching clients per time zone, most clients first."
    )
    sample: list[ClientType] = strawberry.field(
        resolver=_sample,
        description=f"The first matching clients by id (default 10, at most {MAX_SAMPLE}:"
        " more is served the cap; negative is BAD_USER_INPUT on `first`).",
    )

    @classmethod
    def build(cls, audience: Filtered, preview: Preview) -> Audience:
        previewed = preview.reachable is not None
        zones = [
            ZoneCount(
                zone=z.zone,
                count=z.count,
                opens_before_end=(z.opens_at is not None) if previewed else None,
                opens_at=DateTime(z.opens_at) if z.opens_at else None,
            )
            for z in preview.zones
        ]
        return cls(
            audience=audience, count=preview.count, reachable=preview.reachable, by_timezone=zones
        )

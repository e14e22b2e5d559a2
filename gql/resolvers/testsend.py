"""testSend: parse input, call the domain with the probe call the composition root gave."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gql.audit import audit
from gql.context import Context
from gql.ids import parse_id
from gql.types.testsend import TestSendType
from models import testsend
from models.errors import Conflict

Info = strawberry.Info[Context, None]


async def send_test(
    info: Info,
    mailing_id: Annotated[
        strawberry.ID, strawberry.argument(description="The mailing whose text to send.")
    ],
    phone: Annotated[
        str,
        strawberry.argument(
            description="7 and 10 ASCII digits, like a client's phone (surrounding spaces trimmed)."
        ),
    ],
) -> TestSendType:
    mid = parse_id(mailing_id, field="mailingId")
    if info.context.probe_send is None:
        raise Conflict("test sends need the probe client: this server runs without delivery")
    row = await testsend.send_test(mid, phone, info.context.probe_send, info.context.now())
    audit(info.context.caller, "testSend", mailing_id=mid, test_send_id=row.id)
    return TestSendType.from_model(row)

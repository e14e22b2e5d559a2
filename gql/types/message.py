from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from gql.context import Context
from gql.scalars import DateTime
from gql.types.attempt import AttemptType
from gql.types.client import ClientType
from gql.types.enums import MessageStatusEnum, WaitReasonEnum
from gql.types.fields import described
from gql.types.pagination import Connection
from models.attempts import DEFAULT_HISTORY, MAX_HISTORY, history_size
from models.message import Message
from models.transitions import UNSENT
from models.waits import WaitReason, needs_circuit, waiting_for

if TYPE_CHECKING:
    from gql.types.mailing import MailingType


@strawberry.type(
    name="Message",
    description="One mailing's text for one client of its audience, made when the mailing"
    " starts and sent through the probe.",
)
class MessageType:
    row: strawberry.Private[Message]

    @classmethod
    def from_model(cls, row: Message) -> MessageType:
        return cls(row=row)

    @described("Decimal id (64-bit: up to 9,223,372,036,854,775,807); the probe's msgId.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @described("Where it is in its delivery (see MessageStatus).")
    def status(self) -> MessageStatusEnum:
        return self.row.status

    @described("The client's phone when the mailing started; kept if the client is deleted.")
    def phone(self) -> str:
        return self.row.phone

    @described("When it was made, i.e. when its mailing started (UTC).")
    def created_at(self) -> DateTime:
        return DateTime(self.row.created_at)

    @described("When the probe accepted it (UTC); null unless SENT.")
    def sent_at(self) -> DateTime | None:
        return DateTime(self.row.sent_at) if self.row.sent_at else None

    @described(
        "Probe requests made for it so far (FAILED after MAX_ATTEMPTS); a claim given back"
        " unsent (window closed, circuit open, too close to endAt) does not count."
    )
    def attempts(self) -> int:
        return self.row.attempts

    @described(
        "Why it is not sent (at most 300 characters): the last failed attempt's error, as in"
        ' history, or why it expired ("endAt passed", "window cannot open before endAt");'
        " null once SENT."
    )
    def last_error(self) -> str | None:
        return self.row.last_error

    @described(
        "When the message may next be claimed, UTC: its zone's next window"
        " opening, the end of its retry backoff, or a time already past (due now). Null once"
        " it is final or while it is SENDING."
    )
    def next_attempt_at(self) -> DateTime | None:
        at = self.row.next_attempt_at
        return DateTime(at) if at is not None and self.row.status in UNSENT else None

    @described(
        "Why it is not being sent right now, at the server's current time (see"
        " WaitReason); NONE for a final or SENDING message."
    )
    async def waiting_for(self, info: strawberry.Info[Context, None]) -> WaitReasonEnum:
        if self.row.status not in UNSENT:
            return WaitReason.NONE
        mailing = await info.context.loaders.mailings.load(self.row.mailing_id)  # type: ignore[attr-defined]
        if mailing is None:
            return WaitReason.NONE
        circuit = needs_circuit(self.row.status, mailing.state) and (
            await info.context.circuit_open()
        )
        return waiting_for(
            status=self.row.status,
            next_attempt_at=self.row.next_attempt_at,
            timezone=self.row.timezone,
            mailing_state=mailing.state,
            window=mailing.window,
            end_at=mailing.end_at,
            now=info.context.now(),
            circuit_open=circuit,
        )

    @described(
        f"Its attempts that did not succeed, newest first: at most `first`"
        f" (default {DEFAULT_HISTORY}, at most {MAX_HISTORY}; each counts as a node in the"
        " query cost). A first-time success leaves it empty."
    )
    async def history(
        self,
        info: strawberry.Info[Context, None],
        first: Annotated[
            int | None,
            strawberry.argument(
                description=f"How many, newest first; capped at {MAX_HISTORY}, negative is"
                " BAD_USER_INPUT on first."
            ),
        ] = DEFAULT_HISTORY,
    ) -> list[AttemptType]:
        size = history_size(first)
        if size == 0:
            return []
        rows = await info.context.loaders.history(size).load(self.row.id)
        return [AttemptType.from_record(r) for r in rows]

    @described("The mailing it belongs to.")
    async def mailing(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated[MailingType, strawberry.lazy("gql.types.mailing")]:
        from gql.types.mailing import MailingType

        row = await info.context.loaders.mailings.load(self.row.mailing_id)  # type: ignore[attr-defined]
        assert row is not None  # messages are deleted with their mailing
        return MailingType(row=row)

    @described("The client it is for; null once that client was deleted (phone stays).")
    async def client(self, info: strawberry.Info[Context, None]) -> ClientType | None:
        client_id = self.row.client_id  # type: ignore[attr-defined]
        if client_id is None:
            return None
        row = await info.context.loaders.clients.load(client_id)
        return ClientType(row=row) if row else None


MessageConnection = Connection[MessageType]

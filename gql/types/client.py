from __future__ import annotations

import strawberry

from gql.scalars import DateTime
from gql.types.fields import described
from gql.types.pagination import Connection
from models.client import MAX_IMPORT, MAX_TAG, Client

PHONE = (
    "7 followed by 10 ASCII digits (7XXXXXXXXXX), unique; surrounding spaces are trimmed,"
    " nothing else is rewritten (+7…, 8…, spaces inside are BAD_USER_INPUT on phone)."
)
OPERATOR_CODE = (
    "The mobile operator code: three ASCII digits (else BAD_USER_INPUT on operatorCode)."
)
TAG = (
    f"A free label, at most {MAX_TAG} characters, no control characters (BAD_USER_INPUT on"
    " tag); trimmed, and empty means no tag."
)
TIMEZONE = (
    'The client\'s IANA time zone, e.g. "Europe/Moscow" (else BAD_USER_INPUT on timezone):'
    " mailing windows are applied in its local time."
)


@strawberry.type(
    name="Client",
    description="A person in the directory that mailings are sent to, selected by operator"
    " code and tag.",
)
class ClientType:
    row: strawberry.Private[Client]

    @classmethod
    def from_model(cls, row: Client) -> ClientType:
        return cls(row=row)

    @described("Decimal id (1 to 2,147,483,647).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @described("The phone number, 7XXXXXXXXXX (unique).")
    def phone(self) -> str:
        return self.row.phone

    @described("The mobile operator code, three digits (by default phone digits 2-4).")
    def operator_code(self) -> str:
        return self.row.operator_code

    @described("The client's tag; null if it has none.")
    def tag(self) -> str | None:
        return self.row.tag

    @described("The client's IANA time zone, in which mailing windows are applied.")
    def timezone(self) -> str:
        return self.row.timezone

    @described("When the client was created (UTC).")
    def created_at(self) -> DateTime:
        return DateTime(self.row.created_at)

    @described("When the client was last changed, by updateClient or importClients (UTC).")
    def updated_at(self) -> DateTime:
        return DateTime(self.row.updated_at)


@strawberry.input(description="A new client (createClient) or one row of importClients.")
class ClientInput:
    phone: str = strawberry.field(
        description=f"{PHONE} createClient: a phone already in the directory is CONFLICT on"
        " phone; importClients updates that client instead."
    )
    operator_code: str | None = strawberry.field(
        default=None,
        description=f"{OPERATOR_CODE} Omitted, null or empty: phone digits 2-4.",
    )
    tag: str | None = strawberry.field(default=None, description=f"{TAG} Omitted: none.")
    timezone: str = strawberry.field(description=TIMEZONE)


@strawberry.input(
    description="Changes to a client (updateClient): an omitted field is kept as it is."
)
class ClientPatch:
    phone: str | None = strawberry.field(
        default=strawberry.UNSET,
        description=f"{PHONE} Null is BAD_USER_INPUT; a phone another client has is CONFLICT"
        " on phone.",
    )
    operator_code: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"{OPERATOR_CODE} Null is BAD_USER_INPUT."
    )
    tag: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"{TAG} Null (or empty) removes the tag."
    )
    timezone: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"{TIMEZONE} Null is BAD_USER_INPUT."
    )


ClientConnection = Connection[ClientType]


@strawberry.type(
    name="ImportError",
    description="One rejected row of importClients; the other rows were still written.",
)
class ImportRowError:
    """One rejected row of an import (named ImportError in the schema; not the builtin)."""

    row: int = strawberry.field(
        description="The row's index in the `clients` list, counting from 0."
    )
    field: str | None = strawberry.field(
        description="The input field at fault (phone, operatorCode, tag or timezone)."
    )
    message: str = strawberry.field(description="What is wrong with it.")


@strawberry.type(
    description=f"What importClients did: rows upserted by phone (at most {MAX_IMPORT:,} per"
    " call) and the rows it refused."
)
class ImportResult:
    created: int = strawberry.field(description="New clients (phones not in the directory).")
    updated: int = strawberry.field(
        description="Existing clients (matched by phone) whose operator code, tag and time"
        " zone were replaced by the row's; a phone given twice counts once, the later row wins."
    )
    errors: list[ImportRowError] = strawberry.field(
        description="The rows refused, in input order; empty if every row was written."
    )

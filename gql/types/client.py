from __future__ import annotations

import strawberry

from gql.scalars import DateTime
from gql.types.pagination import PageInfo, encode_cursor
from models.client import Client
from models.pages import Page


@strawberry.type(name="Client")
class ClientType:
    row: strawberry.Private[Client]

    @classmethod
    def from_model(cls, row: Client) -> ClientType:
        return cls(row=row)

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def phone(self) -> str:
        return self.row.phone

    @strawberry.field
    def operator_code(self) -> str:
        return self.row.operator_code

    @strawberry.field
    def tag(self) -> str | None:
        return self.row.tag

    @strawberry.field
    def timezone(self) -> str:
        return self.row.timezone

    @strawberry.field
    def created_at(self) -> DateTime:
        return DateTime(self.row.created_at)

    @strawberry.field
    def updated_at(self) -> DateTime:
        return DateTime(self.row.updated_at)


@strawberry.input
class ClientInput:
    phone: str
    operator_code: str | None = None
    tag: str | None = None
    timezone: str


@strawberry.input
class ClientPatch:
    phone: str | None = strawberry.UNSET
    operator_code: str | None = strawberry.UNSET
    tag: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET


@strawberry.type
class ClientEdge:
    node: ClientType
    cursor: str


@strawberry.type
class ClientConnection:
    edges: list[ClientEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def from_page(cls, page: Page[Client]) -> ClientConnection:
        edges = [
            ClientEdge(node=ClientType(row=r), cursor=encode_cursor("client", r.id))
            for r in page.rows
        ]
        end = edges[-1].cursor if edges else None
        return cls(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=end),
            total_count=page.total,
        )


@strawberry.type
class ImportError:
    row: int
    field: str | None
    message: str


@strawberry.type
class ImportResult:
    created: int
    updated: int
    errors: list[ImportError]

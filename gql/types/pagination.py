"""Opaque keyset cursors and the one Relay connection: `Connection[ClientType]` is
`ClientConnection` in the schema (strawberry names a generic type after its node type), with
`ClientEdge` edges, and so for every node type that is paged."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import strawberry

from gql.ids import MAX_BIG_ID, MAX_ID, decimal_id
from models.errors import InvalidInput
from models.pages import Page

# The id column each connection pages over: a cursor past its range is not one of ours.
_MAX_IDS = {
    "client": MAX_ID,
    "mailing": MAX_ID,
    "message": MAX_BIG_ID,
    "token": MAX_ID,
    "test_send": MAX_ID,
}


class Row(Protocol):
    @property
    def id(self) -> int: ...


NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT", bound=Row)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="One node of a page, with the cursor to resume after it.")
class Edge(Generic[NodeT]):
    node: NodeT
    cursor: str


@strawberry.type(
    description="A page of nodes in id order (keyset: follow pageInfo.endCursor); totalCount "
    "counts every match. Counts `first` nodes (at least 50) toward the query cost."
)
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    total_count: int


def connection(kind: str, page: Page[RowT], node: Callable[[RowT], NodeT]) -> Connection[NodeT]:
    """One page of `kind` rows as a connection: each row wrapped by `node`, with the cursor
    `decode_cursor(kind, …)` reads back."""
    edges = [Edge(node=node(row), cursor=encode_cursor(kind, row.id)) for row in page.rows]
    end = edges[-1].cursor if edges else None
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.has_next, end_cursor=end),
        total_count=page.total,
    )


def encode_cursor(kind: str, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{row_id}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    """The id after which the page starts; anything `encode_cursor(kind, …)` could not have
    made (another connection's cursor, a non-ASCII or out-of-range id) is BAD_USER_INPUT."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raw = ""
    prefix, _, value = raw.partition(":")
    row_id = decimal_id(value, _MAX_IDS[kind]) if prefix == kind else None
    if row_id is None:
        raise InvalidInput("after is not a cursor from this connection", field="after")
    return row_id

"""The CSV export edge: `GET /export/mailings/{id}/messages.csv` and `…/stats.csv`. The same
bearer tokens as GraphQL (viewers may read), the same id rule, and every refusal a coded JSON
body. No framework here: herald/export.py turns a `Refusal` or an `Export` into a response."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from gql.ids import MAX_ID, decimal_id
from gql.websocket import bearer
from models.export import messages_csv, stats_csv
from models.mailing import Mailing
from models.token import role_for

log = logging.getLogger("herald.api")

CSV = "text/csv; charset=utf-8"


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str
    field: str | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.field:
            body["field"] = self.field
        return body


@dataclass(frozen=True)
class Export:
    filename: str
    chunks: AsyncIterator[bytes]

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Content-Disposition": f'attachment; filename="{self.filename}"',
            "Cache-Control": "no-store",
        }


@dataclass(frozen=True)
class ExportRequest:
    """What the route passes in: the path's parts, the Authorization header, the settings."""

    name: str
    mailing_id: str
    authorization: str | None
    admin_token: str
    page_size: int


def _builders(page_size: int) -> dict[str, Callable[[int], AsyncIterator[str]]]:
    return {
        "messages.csv": lambda mailing_id: messages_csv(mailing_id, page_size),
        "stats.csv": stats_csv,
    }


async def open_export(request: ExportRequest) -> Refusal | Export:
    """401 without a valid token (before anything about the mailing is revealed), 404 for an
    unknown export or mailing, 400 for an id that is not ASCII digits within 1..2**31-1; else
    the export, whose rows are read only as the response is sent."""
    role = await role_for(bearer(request.authorization), request.admin_token)
    if role is None:
        return Refusal(
            401,
            "UNAUTHENTICATED",
            "missing or invalid bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    build = _builders(request.page_size).get(request.name)
    if build is None:
        return Refusal(404, "NOT_FOUND", "exports are messages.csv and stats.csv")
    mailing_id = decimal_id(request.mailing_id)
    if mailing_id is None:
        message = f"id must be a decimal id (ASCII digits) between 1 and {MAX_ID}"
        return Refusal(400, "BAD_USER_INPUT", message, field="id")
    if not await Mailing.exists(id=mailing_id):
        return Refusal(404, "NOT_FOUND", f"mailing {mailing_id} not found", field="id")
    stem = request.name.removesuffix(".csv")
    return Export(f"mailing-{mailing_id}-{stem}.csv", _encoded(build(mailing_id), mailing_id))


async def _encoded(chunks: AsyncIterator[str], mailing_id: int) -> AsyncIterator[bytes]:
    """UTF-8 chunks. A failure once the response has begun cannot change its status: the
    download ends short (the client sees a truncated chunked body) and the log says why."""
    try:
        async for chunk in chunks:
            yield chunk.encode()
    except Exception:
        log.exception("CSV export of mailing %d failed while streaming", mailing_id)
        raise

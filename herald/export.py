"""The CSV export routes: Starlette requests in, gql/export.py's answers out as responses."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from gql.export import CSV, Export, ExportRequest, Refusal, open_export
from herald.settings import Settings

log = logging.getLogger("herald.api")

INTERNAL = Refusal(500, "INTERNAL_SERVER_ERROR", "Internal server error")
NOT_GET = Refusal(405, "BAD_USER_INPUT", "exports are read with GET", headers={"Allow": "GET"})


def _refused(refusal: Refusal) -> JSONResponse:
    return JSONResponse(refusal.body(), refusal.status, headers=refusal.headers)


class ExportRoute:
    """An ASGI app rather than a function endpoint, so that every method reaches it and a
    refused one is answered in JSON like the rest (Starlette's own 405 is plain text)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.respond(Request(scope, receive))
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        if request.method != "GET":
            return _refused(NOT_GET)
        asked = ExportRequest(
            name=request.path_params["name"],
            mailing_id=request.path_params["id"],
            authorization=request.headers.get("authorization"),
            admin_token=self.settings.api_admin_token.get(),
            page_size=self.settings.export_page_size,
        )
        try:
            answer = await open_export(asked)
        except Exception:  # the database is away, say: JSON, the details in the log only
            log.exception("CSV export %s of mailing %r failed", asked.name, asked.mailing_id)
            return _refused(INTERNAL)
        if isinstance(answer, Export):
            return StreamingResponse(answer.chunks, media_type=CSV, headers=answer.headers)
        return _refused(answer)

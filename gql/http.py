"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/): the media type of a
response, its status, and the body of a request refused before GraphQL ran. No framework
here: herald/app.py turns these values into responses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"

# A request error (no `data`) answered as application/graphql-response+json: the first code
# found here decides the status, anything else is 400.
_REQUEST_ERROR_STATUS = {"INTERNAL_SERVER_ERROR": 500, "UNAUTHENTICATED": 401, "FORBIDDEN": 403}


@dataclass(frozen=True)
class Reply:
    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def response_media_type(accept: str | None) -> str:
    """application/graphql-response+json when the client lists it at least as high as
    application/json; otherwise application/json. No Accept, `*/*`, or only types Herald cannot
    produce (`text/event-stream` from an SSE client) also get application/json with its
    200-for-every-GraphQL-response rule: the spec allows answering in the server's choice
    rather than 406, and old clients keep working."""
    ranks: dict[str, float] = {}
    for part in (accept or "").split(","):
        media, _, params = part.partition(";")
        media = media.strip().lower()
        ranks[media] = max(ranks.get(media, 0.0), _quality(params))
    json_rank = next((ranks[m] for m in (JSON, "application/*", "*/*") if m in ranks), 0.0)
    preferred = ranks.get(GRAPHQL_RESPONSE, 0.0)
    return GRAPHQL_RESPONSE if preferred > 0 and preferred >= json_rank else JSON


def media_type_header(media: str) -> str:
    return f"{media}; charset=utf-8" if media == GRAPHQL_RESPONSE else media


def _is_request_error(body: Mapping[str, Any]) -> bool:
    """Raised before execution (parse, validation, variables, limits, auth): no data, and no
    error has a path (field errors always do)."""
    errors = body.get("errors") or ()
    return bool(errors) and body.get("data") is None and all("path" not in e for e in errors)


def graphql_reply(body: dict[str, Any], media: str) -> Reply:
    """application/json: 200 for every GraphQL response. application/graphql-response+json:
    a request error has no `data` and a 4xx (401/403 for auth), anything executed is 200."""
    if media != GRAPHQL_RESPONSE or not _is_request_error(body):
        return Reply(body)
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or ()]
    status = next((s for code, s in _REQUEST_ERROR_STATUS.items() if code in codes), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return Reply({k: v for k, v in body.items() if k != "data"}, status, headers)


def refused(message: str, status: int, allow: str | None = None) -> Reply:
    """A request that is not a well-formed GraphQL-over-HTTP request (bad JSON, a body that is
    not an object, a mutation over GET …): the same status whatever the media type."""
    headers = {"Allow": allow} if allow else {}
    body = {"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]}
    return Reply(body, status, headers)

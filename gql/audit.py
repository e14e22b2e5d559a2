"""One log line per change made through the API, carrying the ids as fields, so
`grep '"mailing_id": 12'` finds the requests that touched mailing 12, and naming the token that
made it (`token=3:ci deploy`, `token_id=3`, or `token=env:API_ADMIN_TOKEN`): never its secret."""

from __future__ import annotations

import logging

from models.token import Caller

log = logging.getLogger("herald.api")


def audit(caller: Caller | None, operation: str, **ids: int | None) -> None:
    named: dict[str, object] = {"token": caller.label if caller else "none"}
    if caller is not None and caller.token_id is not None:
        named["token_id"] = caller.token_id
    log.info("%s", operation, extra={"operation": operation, **named, **ids})

"""One log line per change made through the API, carrying the ids as fields, so
`grep '"mailing_id": 12'` finds the requests that touched mailing 12."""

from __future__ import annotations

import logging

log = logging.getLogger("herald.api")


def audit(operation: str, **ids: int | None) -> None:
    log.info("%s", operation, extra={"operation": operation, **ids})

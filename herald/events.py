"""Change notifications between processes: workers (and the API) publish the ids of mailings
whose counts or state changed on one Redis pub/sub channel; every API process listens once."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("herald.events")
CHANNEL_SUFFIX = ":changes"


def channel(prefix: str) -> str:
    return prefix + CHANNEL_SUFFIX


def encode(mailing_ids: Iterable[int]) -> str:
    return ",".join(str(i) for i in sorted(set(mailing_ids)))


def decode(payload: bytes | str) -> set[int]:
    text = payload.decode() if isinstance(payload, bytes) else payload
    return {int(part) for part in text.split(",") if part.strip().isdigit()}


async def publish(redis: Any, prefix: str, mailing_ids: Iterable[int]) -> None:
    """Best effort: a lost notification only delays an update (listeners also refresh on
    their own every few seconds), so a Redis hiccup must not fail a send or a request."""
    payload = encode(mailing_ids)
    if not payload:
        return
    try:
        await redis.publish(channel(prefix), payload)
    except Exception as exc:
        log.warning("could not publish changes: %s", type(exc).__name__)

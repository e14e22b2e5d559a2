"""What a change notification says: the ids of mailings whose counts or state changed, on one
channel per queue. Publishers (the API, workers) and the listener (the API's live statistics)
must agree on this format, so it lives here, below both edges; how and when a change is sent
is the composition root's (herald/events.py), passed to the edges."""

from __future__ import annotations

from collections.abc import Iterable

CHANNEL_SUFFIX = ":changes"


def channel(prefix: str) -> str:
    return prefix + CHANNEL_SUFFIX


def encode(mailing_ids: Iterable[int]) -> str:
    return ",".join(str(i) for i in sorted(set(mailing_ids)))


def decode(payload: bytes | str) -> set[int]:
    text = payload.decode() if isinstance(payload, bytes) else payload
    return {int(part) for part in text.split(",") if part.strip().isdigit()}

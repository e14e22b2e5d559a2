"""The probe's audit trail: one log record per attempt, thousands a second, made cheaply.

`logger.log(level, msg, *args, extra=fields)` spent ~10 µs of a send's CPU before any
formatting: it looks up the caller's file and line (`findCaller` walks the stack; no Herald
formatter prints them), `LogRecord.__init__` fills some twenty attributes, and `makeRecord`
copies the extras in one by one. Here what is the same for every record of a logger and level
is taken once from a real LogRecord (so a handler or formatter finds every attribute it would
on any record, whatever a Python version adds), and each record is that template plus its
time, message, thread and fields. It is then handled like any other record: the logger's
level, filters, handlers and propagation apply."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

# (logger name, level) → (the attributes every such record shares, logging's start time)
_templates: dict[tuple[str, int], tuple[dict[str, Any], float]] = {}


def _template(name: str, level: int) -> tuple[dict[str, Any], float]:
    found = _templates.get((name, level))
    if found is None:
        made = logging.LogRecord(name, level, "", 0, "", (), None)
        started = made.created - made.relativeCreated / 1000  # logging's own start time
        found = _templates[(name, level)] = (dict(vars(made)), started)
    return found


def audit(
    logger: logging.Logger,
    level: int,
    msg: str,
    args: tuple[object, ...],
    fields: Mapping[str, object],
) -> None:
    """What `logger.log(level, msg, *args, extra=fields)` does, for a record whose source
    line nobody reads (its pathname is empty and its line 0, as with logging's own
    `_srcfile = None`)."""
    if not logger.isEnabledFor(level):
        return
    shared, started = _template(logger.name, level)
    created = time.time()
    record = logging.LogRecord.__new__(logging.LogRecord)
    state = record.__dict__
    state.update(shared)
    state["msg"], state["args"], state["created"] = msg, args, created
    state["msecs"] = int((created - int(created)) * 1000) + 0.0  # as LogRecord computes it
    state["relativeCreated"] = (created - started) * 1000
    if logging.logThreads:
        state["thread"] = threading.get_ident()
        state["threadName"] = threading.current_thread().name
    state.update(fields)
    logger.handle(record)

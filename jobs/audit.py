"""The probe's audit trail: one log record per attempt, thousands a second, made cheaply.

`logger.log(level, msg, *args, extra=fields)` spent ~10 µs of a send's CPU before any
formatting: it looks up the caller's file and line (`findCaller` walks the stack; no Herald
formatter prints them), `LogRecord.__init__` fills some twenty attributes, and `makeRecord`
copies the extras in one by one. Here what is the same for every record of a logger and level
is taken once from a real LogRecord (so a handler or formatter finds every attribute it would
on any record, whatever a Python version adds), and each record is that template plus its
time, message, thread and fields. It is then handled like any other record: the logger's
level, filters, handlers and propagation apply.

Cheaper still, and the usual case in a worker: when the record would reach exactly one
handler, Herald's own (herald/logging.py `BulkStreamHandler`), and nothing on the way could
filter or see it, that handler writes the line from the values, with no record: the same
line, in the same order with every other line."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

# (logger name, level) → (the attributes every such record shares, logging's start time)
_templates: dict[tuple[str, int], tuple[dict[str, Any], float]] = {}


def _template(name: str, level: int) -> tuple[dict[str, Any], float]:
    found = _templates.get((name, level))
    if found is None:
        made = logging.LogRecord(name, level, "", 0, "", (), None)
        started = made.created - made.relativeCreated / 1000  # logging's own start time
        found = _templates[(name, level)] = (dict(vars(made)), started)
    return found


class Lines(Protocol):
    """A handler that can write a record's line from its values (herald/logging.py's
    BulkStreamHandler); False: it cannot, make a record."""

    def audit_line(
        self, name: str, level: int, created: float, message: str, fields: Mapping[str, object]
    ) -> bool: ...


def _only_handler(logger: logging.Logger, level: int) -> Lines | None:
    """The one handler a record of `logger` at `level` would reach, if that handler can
    write its line without the record and nothing else would see the record: the logger has
    no filter (a parent's filters do not apply to a propagated record), no logger on the way
    has a handler of its own, and the root has this one handler; else None. Looked at on
    every call (~0.5 µs): a handler added later (pytest's caplog, an operator's) gets real
    records at once."""
    if logger.filters or logger.disabled:
        return None
    node: logging.Logger | None = logger
    while node is not None and node.parent is not None:  # the loggers below the root
        if node.handlers or not node.propagate:
            return None
        node = node.parent
    if node is None or len(node.handlers) != 1:
        return None
    handler = node.handlers[0]
    if handler.filters or level < handler.level or not hasattr(handler, "audit_line"):
        return None
    return handler  # it has audit_line: a Lines


def audit(
    logger: logging.Logger,
    level: int,
    msg: str,
    args: tuple[object, ...],
    fields: Mapping[str, object],
) -> None:
    """What `logger.log(level, msg, *args, extra=fields)` does, for a record whose source
    line nobody reads (its pathname is empty and its line 0, as with logging's own
    `_srcfile = None`). Where Herald's own handler is the only one the record would reach,
    the line is written from the values without a record at all (in the bench, 273 → 265-267
    µs of worker CPU per message: a record, however cheaply made, is dispatched through the
    logger hierarchy and formatted from some thirty attributes)."""
    if not logger.isEnabledFor(level):
        return
    created = time.time()
    handler = _only_handler(logger, level)
    if handler is not None and handler.audit_line(logger.name, level, created, msg % args, fields):
        return
    shared, started = _template(logger.name, level)
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

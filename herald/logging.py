"""Logging setup: readable lines by default, JSON lines with LOG_FORMAT=json.

Domain ids passed as `extra=` (mailing_id, message_id, client_id, …) become fields, so
`grep '"mailing_id": 12'` finds everything about mailing 12.

The probe client's audit trail is one INFO record per attempt (thousands a second while a
mailing is sent); writing each with its own flush (a syscall per record) cost the worker as
much CPU as the JSON encoding. Those records are buffered and written together at most
BULK_DELAY seconds later; every other record, and any WARNING or worse, is written at once
(after the buffered ones, so the order is kept). `logging.shutdown` at exit flushes the rest."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Mapping
from typing import TextIO

FIELDS = (
    "mailing_id",
    "message_id",
    "client_id",
    "attempt",
    "http_status",
    "latency_ms",
    "outcome",
    "operation",
    "token",
    "token_id",
    "api_token_id",
    "source_mailing_id",
    "test_send_id",
    "count",
    "worker",
    "error",
)


BULK = frozenset({"herald.probe"})  # loggers whose INFO records may wait for BULK_DELAY
BULK_DELAY = 0.1  # seconds
BULK_LINES = 1000  # written at once when this many are waiting

_ENCODER = json.JSONEncoder(default=str)  # json.dumps(…, default=str), built once


def _fields(record: logging.LogRecord) -> dict[str, object]:
    found = record.__dict__
    return {name: found[name] for name in FIELDS if name in found}


def _known(fields: Mapping[str, object]) -> dict[str, object]:
    """The FIELDS among an audit line's fields, in FIELDS order (as `_fields` finds them on
    a record made with `extra=fields`)."""
    return {name: fields[name] for name in FIELDS if name in fields}


def _msecs(created: float) -> int:
    return int((created - int(created)) * 1000)  # as LogRecord computes `msecs`


class JsonFormatter(logging.Formatter):
    """One JSON object per line. The timestamp is ISO 8601 in UTC to the millisecond (the
    record's own `msecs`); its date and time of day are rendered once per second, not per
    record (2.9 → 1.1 µs of a probe record's ~10 µs)."""

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")

    def timestamp(self, created: float, msecs: float) -> str:
        second = int(created)
        cached, text = self._second
        if cached != second:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, text)
        return f"{text}.{int(msecs):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        line = self._line(
            record.name,
            record.levelname,
            record.created,
            record.msecs,
            record.getMessage(),
            _fields(record),
        )
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return _ENCODER.encode(line)

    def render(
        self, name: str, level: int, created: float, message: str, fields: Mapping[str, object]
    ) -> str:
        """The line `format` makes of a record with these values and no exception."""
        return _ENCODER.encode(
            self._line(
                name,
                logging.getLevelName(level),
                created,
                _msecs(created),
                message,
                _known(fields),
            )
        )

    def _line(
        self,
        name: str,
        levelname: str,
        created: float,
        msecs: float,
        message: str,
        fields: dict[str, object],
    ) -> dict[str, object]:
        return {
            "ts": self.timestamp(created, msecs),
            "level": levelname,
            "logger": name,
            "msg": message,
            **fields,
        }


def _with_fields(text: str, fields: dict[str, object]) -> str:
    extra = " ".join(f"{k}={v}" for k, v in fields.items())
    return f"{text} [{extra}]" if extra else text


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return _with_fields(super().format(record), _fields(record))

    def render(
        self, name: str, level: int, created: float, message: str, fields: Mapping[str, object]
    ) -> str:
        """The line `format` makes of a record with these values and no exception."""
        asctime = self.default_msec_format % (  # type: ignore[operator]  # set by Formatter
            time.strftime(self.default_time_format, self.converter(created)),
            _msecs(created),
        )
        text = f"{asctime} {logging.getLevelName(level):<7} {name}: {message}"
        return _with_fields(text, _known(fields))


class BulkStreamHandler(logging.StreamHandler[TextIO]):
    """A StreamHandler that lets the records of BULK loggers (INFO and below) wait up to
    BULK_DELAY seconds, to be written with one write and one flush.

    It also writes the probe's audit lines without a LogRecord (`audit_line`, called by
    jobs/audit.py when this handler is the only place such a record would go): the same
    line, made from the values themselves."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._waiting: list[str] = []
        self._timer: threading.Timer | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._queue(line, record.name in BULK and record.levelno <= logging.INFO)

    def audit_line(
        self, name: str, level: int, created: float, message: str, fields: Mapping[str, object]
    ) -> bool:
        """Write the line a record of these values would make; False (nothing written) when
        this handler's formatter cannot make it without a record."""
        render = getattr(self.formatter, "render", None)
        if render is None:
            return False
        line = render(name, level, created, message, fields) + self.terminator
        self._queue(line, name in BULK and level <= logging.INFO)
        return True

    def _queue(self, line: str, bulk: bool) -> None:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self._waiting.append(line)
            if not bulk or len(self._waiting) >= BULK_LINES:
                self._write()
            elif self._timer is None:
                self._timer = threading.Timer(BULK_DELAY, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write()

    def _write(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        lines, self._waiting = self._waiting, []
        try:
            if lines:
                self.stream.write("".join(lines))
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed or gone: nothing left to tell
            pass


def setup_logging(fmt: str = "text", level: str = "INFO") -> None:
    handler = BulkStreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("tortoise").setLevel("WARNING")
    logging.getLogger("aiosqlite").setLevel("WARNING")
    logging.getLogger("arq").setLevel("WARNING")

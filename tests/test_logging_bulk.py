"""The audit trail's buffering: probe records wait briefly, everything else is written at once
and in order."""

from __future__ import annotations

import io
import logging
import threading

from herald.logging import BULK_LINES, BulkStreamHandler, JsonFormatter


def record(name: str, level: int, msg: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, None, None)


class Stream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.written = threading.Event()

    def write(self, text: str) -> int:
        self.written.set()
        return super().write(text)


def handler() -> tuple[BulkStreamHandler, Stream]:
    stream = Stream()
    h = BulkStreamHandler(stream)
    h.setFormatter(logging.Formatter("%(message)s"))
    return h, stream


def test_probe_records_wait_and_a_warning_writes_them_first() -> None:
    h, stream = handler()
    h.handle(record("herald.probe", logging.INFO, "a"))
    h.handle(record("herald.probe", logging.INFO, "b"))
    assert stream.getvalue() == ""
    h.handle(record("herald.probe", logging.WARNING, "c"))
    assert stream.getvalue() == "a\nb\nc\n"
    h.close()


def test_other_loggers_are_written_at_once_after_what_waits() -> None:
    h, stream = handler()
    h.handle(record("herald.probe", logging.INFO, "a"))
    h.handle(record("herald.worker", logging.INFO, "started"))
    assert stream.getvalue() == "a\nstarted\n"
    h.close()


def test_a_full_buffer_is_written() -> None:
    h, stream = handler()
    for i in range(BULK_LINES):
        h.handle(record("herald.probe", logging.INFO, str(i)))
    assert stream.getvalue().count("\n") == BULK_LINES
    h.close()


def test_waiting_records_are_written_soon_without_another_record() -> None:
    h, stream = handler()
    h.handle(record("herald.probe", logging.INFO, "alone"))
    assert stream.written.wait(10), "the delayed write never came"
    assert stream.getvalue() == "alone\n"
    h.close()


def test_close_writes_what_waits() -> None:
    h, stream = handler()
    h.setFormatter(JsonFormatter())
    h.handle(record("herald.probe", logging.INFO, "last"))
    h.flush()
    assert '"msg": "last"' in stream.getvalue()
    h.close()

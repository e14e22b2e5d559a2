"""An audit record is the record `logger.log(…, extra=…)` makes, except for its source line:
every formatter prints the same, and the logger's level, filters and handlers apply."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from herald.logging import JsonFormatter, TextFormatter
from jobs.audit import audit

FIELDS = {"mailing_id": 7, "message_id": 70, "attempt": 2, "latency_ms": 1.5, "outcome": "sent"}
SOURCE = {"pathname", "filename", "module", "lineno", "funcName"}


class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def kept() -> Iterator[tuple[logging.Logger, Keep]]:
    logger, keep = logging.getLogger("herald.test_audit"), Keep()
    logger.addHandler(keep)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, keep
    logger.removeHandler(keep)


def both(logger: logging.Logger, keep: Keep, level: int) -> tuple[logging.LogRecord, ...]:
    logger.log(level, "probe send %s attempt %s: %s", 70, 2, "ok", extra=FIELDS)
    audit(logger, level, "probe send %s attempt %s: %s", (70, 2, "ok"), FIELDS)
    return tuple(keep.records[-2:])


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
def test_the_record_has_every_attribute_of_a_logged_one(
    kept: tuple[logging.Logger, Keep], level: int
) -> None:
    logged, audited = both(*kept, level)
    mine, theirs = vars(audited), vars(logged)
    assert set(mine) == set(theirs)
    for name in set(theirs) - SOURCE - {"created", "msecs", "relativeCreated"}:
        assert mine[name] == theirs[name], name
    assert audited.lineno == 0 and audited.pathname == ""
    assert 0 <= audited.created - logged.created < 1
    assert abs(audited.relativeCreated - logged.relativeCreated) < 1000
    assert audited.msecs == int((audited.created - int(audited.created)) * 1000)


def test_formatters_print_the_same_line(kept: tuple[logging.Logger, Keep]) -> None:
    logged, audited = both(*kept, logging.INFO)
    audited.created, audited.msecs = logged.created, logged.msecs
    for formatter in (JsonFormatter(), TextFormatter()):
        assert formatter.format(audited) == formatter.format(logged)


def test_the_loggers_level_and_filters_apply(kept: tuple[logging.Logger, Keep]) -> None:
    logger, keep = kept
    logger.setLevel(logging.WARNING)
    audit(logger, logging.INFO, "quiet %s", (1,), FIELDS)
    assert keep.records == []
    logger.addFilter(lambda record: record.levelno > logging.WARNING)
    try:
        audit(logger, logging.WARNING, "filtered %s", (1,), FIELDS)
        audit(logger, logging.ERROR, "kept %s", (1,), FIELDS)
    finally:
        logger.filters.clear()
    assert [r.getMessage() for r in keep.records] == ["kept 1"]


def test_the_thread_is_the_callers(kept: tuple[logging.Logger, Keep]) -> None:
    logger, keep = kept
    audit(logger, logging.INFO, "main", (), {})  # the template is made on this thread
    other = threading.Thread(
        target=audit, args=(logger, logging.INFO, "other", (), {}), name="other-thread"
    )
    other.start()
    other.join()
    assert [r.threadName for r in keep.records] == [threading.current_thread().name, "other-thread"]
    assert keep.records[1].thread == other.ident

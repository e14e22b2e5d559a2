"""An audit record is the record `logger.log(…, extra=…)` makes, except for its source line:
every formatter prints the same, and the logger's level, filters and handlers apply."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import time
from collections.abc import Iterator

import pytest

from herald.logging import BulkStreamHandler, JsonFormatter, TextFormatter
from jobs.audit import audit
from tests.support.logs import ListHandler

FIELDS = {"mailing_id": 7, "message_id": 70, "attempt": 2, "latency_ms": 1.5, "outcome": "sent"}
SOURCE = {"pathname", "filename", "module", "lineno", "funcName"}


@pytest.fixture
def kept() -> Iterator[tuple[logging.Logger, ListHandler]]:
    logger, keep = logging.getLogger("herald.test_audit"), ListHandler()
    logger.addHandler(keep)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, keep
    logger.removeHandler(keep)


def both(logger: logging.Logger, keep: ListHandler, level: int) -> tuple[logging.LogRecord, ...]:
    logger.log(level, "probe send %s attempt %s: %s", 70, 2, "ok", extra=FIELDS)
    audit(logger, level, "probe send %s attempt %s: %s", (70, 2, "ok"), FIELDS)
    return tuple(keep.records[-2:])


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
def test_the_record_has_every_attribute_of_a_logged_one(
    kept: tuple[logging.Logger, ListHandler], level: int
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


def test_formatters_print_the_same_line(kept: tuple[logging.Logger, ListHandler]) -> None:
    logged, audited = both(*kept, logging.INFO)
    audited.created, audited.msecs = logged.created, logged.msecs
    for formatter in (JsonFormatter(), TextFormatter()):
        assert formatter.format(audited) == formatter.format(logged)


def test_the_loggers_level_and_filters_apply(kept: tuple[logging.Logger, ListHandler]) -> None:
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


def test_the_thread_is_the_callers(kept: tuple[logging.Logger, ListHandler]) -> None:
    logger, keep = kept
    audit(logger, logging.INFO, "main", (), {})  # the template is made on this thread
    other = threading.Thread(
        target=audit, args=(logger, logging.INFO, "other", (), {}), name="other-thread"
    )
    other.start()
    other.join()
    assert [r.threadName for r in keep.records] == [threading.current_thread().name, "other-thread"]
    assert keep.records[1].thread == other.ident


class Drop(logging.Filter):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self.message


@pytest.fixture
def herald_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[io.StringIO, logging.Logger]]:
    """The root logger as `setup_logging` leaves it (one BulkStreamHandler, writing into a
    string) for the test's body, at a wall clock that stands still. pytest adds its capturing
    handlers to the root for the body (after fixtures ran), so they are put aside here in a
    hook of the body's own: `alone()`."""
    root, out = logging.getLogger(), io.StringIO()
    handler = BulkStreamHandler(out)
    handler.setFormatter(JsonFormatter())
    level = root.level
    root.setLevel(logging.INFO)
    monkeypatch.setattr(time, "time", lambda: 1765100000.25)
    ALONE[:] = [handler]
    try:
        yield out, logging.getLogger("herald.probe")
    finally:
        handler.flush()
        root.setLevel(level)


ALONE: list[logging.Handler] = []


@contextlib.contextmanager
def alone() -> Iterator[logging.Handler]:
    """Within: the root's only handler is the fixture's BulkStreamHandler."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = ALONE
    try:
        yield ALONE[0]
    finally:
        root.handlers[:] = saved


def lines(out: io.StringIO) -> list[str]:
    ALONE[0].flush()
    return out.getvalue().splitlines()


@pytest.mark.parametrize("formatter", [JsonFormatter, TextFormatter])
@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
def test_the_line_written_without_a_record_is_the_records_line(
    herald_root: tuple[io.StringIO, logging.Logger],
    formatter: type[logging.Formatter],
    level: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, logger = herald_root
    extra = {**FIELDS, "client_id": 3, "not_a_field": "x"}  # unknown keys are not printed
    with alone() as handler:
        handler.setFormatter(formatter())
        with monkeypatch.context() as no_record:
            no_record.setattr(logger, "handle", lambda record: pytest.fail("a record was made"))
            audit(logger, level, "probe send %s attempt %s: %s", (70, 2, "ok"), extra)
        logger.log(level, "probe send %s attempt %s: %s", 70, 2, "ok", extra=extra)
    direct, logged = lines(out)
    assert direct == logged
    assert "not_a_field" not in direct and "70" in direct


def test_another_handler_gets_a_real_record(
    herald_root: tuple[io.StringIO, logging.Logger],
) -> None:
    out, logger = herald_root
    keep = ListHandler()
    with alone():
        for place in (logger, logging.getLogger()):  # on the logger itself, or beside ours
            place.addHandler(keep)
            try:
                audit(logger, logging.INFO, "seen %s", (1,), FIELDS)
            finally:
                place.removeHandler(keep)
    assert [r.getMessage() for r in keep.records] == ["seen 1", "seen 1"]
    assert [r.message_id for r in keep.records] == [70, 70]  # type: ignore[attr-defined]
    assert len(lines(out)) == 2  # our handler wrote both as well


def test_filters_and_levels_on_the_way_still_apply(
    herald_root: tuple[io.StringIO, logging.Logger],
) -> None:
    out, logger = herald_root
    parent = logging.getLogger("herald")
    with alone() as handler:
        for place in (logger, parent, handler):
            place.addFilter(Drop(f"dropped by {place}"))
        try:
            for place in (logger, parent, handler):
                audit(logger, logging.INFO, f"dropped by {place}", (), FIELDS)
        finally:
            for place in (logger, parent, handler):
                place.filters.clear()
        handler.setLevel(logging.WARNING)
        audit(logger, logging.INFO, "below the handler's level", (), FIELDS)
    # As logging does it: a parent logger's filter does not see a propagated record.
    assert [json.loads(line)["msg"] for line in lines(out)] == [f"dropped by {parent}"]


def test_a_formatter_that_cannot_render_formats_a_record(
    herald_root: tuple[io.StringIO, logging.Logger],
) -> None:
    out, logger = herald_root
    with alone() as handler:
        handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
        audit(logger, logging.INFO, "plain %s", (5,), FIELDS)
    assert lines(out) == ["herald.probe plain 5"]


def test_lines_keep_their_order_with_other_records(
    herald_root: tuple[io.StringIO, logging.Logger],
) -> None:
    out, logger = herald_root
    with alone():
        audit(logger, logging.INFO, "first", (), FIELDS)  # waits in the bulk buffer
        logging.getLogger("herald.worker").warning("second")  # written at once, after it
        audit(logger, logging.INFO, "third", (), FIELDS)
    assert [json.loads(line)["msg"] for line in lines(out)] == ["first", "second", "third"]

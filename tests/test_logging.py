"""Operations can follow one mailing through the logs, and the probe token never appears."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from herald.logging import JsonFormatter, TextFormatter
from models.message import Message
from tests.support.delivery import all_final, clients, mailing
from tests.support.engine import Engine, wait_for


async def test_every_line_about_a_mailing_carries_its_ids(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await clients(engine, 5)
    await engine.start_worker()
    mid = await mailing(engine)
    await wait_for(lambda: all_final(mid), what="mailing sent")
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    mine = [json.loads(line) for line in lines if f'"mailing_id": {mid},' in line]
    assert any(line.get("operation") == "createMailing" for line in mine)
    probe = [line for line in mine if line["logger"] == "herald.probe"]
    ids = {m.id for m in await Message.filter(mailing_id=mid)}
    assert {line["message_id"] for line in probe} == ids
    for line in probe:
        assert line["outcome"] == "sent" and line["http_status"] == 200
        assert line["attempt"] == 1 and line["latency_ms"] >= 0 and line["client_id"]
    token = engine.settings.probe_token.get()
    assert token and not any(token in line for line in lines)


def test_text_format_shows_fields() -> None:
    record = logging.LogRecord("herald.worker", logging.INFO, __file__, 1, "sent", None, None)
    record.mailing_id = 12
    assert TextFormatter().format(record).endswith("sent [mailing_id=12]")
    assert json.loads(JsonFormatter().format(record))["mailing_id"] == 12


@pytest.mark.parametrize(
    "created",
    # within a second, the next second, a second seen before, a date change, the epoch
    [1765100000.123456, 1765100000.9994, 1765100001.0, 1765100000.5, 1767225599.999, 0.0],
)
def test_json_timestamp_is_utc_iso_to_the_millisecond(created: float) -> None:
    formatter = JsonFormatter()
    formatter.format(logging.LogRecord("herald", logging.INFO, "", 0, "earlier", None, None))
    for _ in range(2):  # rendered, then from the second's cache
        record = logging.LogRecord("herald", logging.INFO, "", 0, "at", None, None)
        record.created, record.msecs = created, int((created - int(created)) * 1000)
        expected = datetime.fromtimestamp(int(created), UTC).replace(
            microsecond=int(record.msecs) * 1000
        )
        assert json.loads(formatter.format(record))["ts"] == expected.isoformat(
            timespec="milliseconds"
        )

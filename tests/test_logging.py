"""Operations can follow one mailing through the logs, and the probe token never appears."""

from __future__ import annotations

import json
import logging

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

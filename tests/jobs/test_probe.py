"""Probe client tests: a handler-based fake transport, plus the real simulator over HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

import jobs.probe as probe_module
from jobs.probe import (
    AiohttpTransport,
    ProbeClient,
    ProbeError,
    ProbeResult,
    RawResponse,
    Rejected,
    Transient,
    TransportError,
    Unauthorized,
    classify,
    parse_retry_after,
)
from tests.support.logs import ListHandler
from tools.probesim import SimConfig, start_simulator

TOKEN = "s3cr3t-jwt-token-value"
BASE = "https://probe.example/v1"
OK_BODY = b'{"code": 0, "message": "OK"}'
NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)

Handler = Callable[[str, Mapping[str, str], bytes], RawResponse]


def at_now() -> datetime:
    """The probe client's wall clock in these tests: always NOW."""
    return NOW


class FakeTransport:
    """Calls ``handler(url, headers, body)``; the handler returns a response or raises."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.calls: list[tuple[str, dict[str, str], bytes, float]] = []

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> RawResponse:
        self.calls.append((url, dict(headers), body, timeout))
        return self.handler(url, headers, body)


def respond(
    status: int, body: bytes = OK_BODY, headers: Mapping[str, str] | None = None
) -> Handler:
    return lambda url, headers_, body_: RawResponse(status, dict(headers or {}), body)


def fail_with(exc: BaseException) -> Handler:
    def handler(url: str, headers: Mapping[str, str], body: bytes) -> RawResponse:
        raise exc

    return handler


def client_for(handler: Handler) -> tuple[ProbeClient, FakeTransport]:
    transport = FakeTransport(handler)
    return ProbeClient(BASE, TOKEN, timeout=3.5, transport=transport, clock=at_now), transport


@contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    handler, logger = ListHandler(), logging.getLogger("herald.probe")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


async def test_success_returns_result_and_sends_contract_request() -> None:
    client, transport = client_for(respond(200))
    result = await client.send(42, "79001234567", 'Привет, "мир"')
    assert isinstance(result, ProbeResult)
    assert result.status == 200
    assert result.latency >= 0
    [(url, headers, body, timeout)] = transport.calls
    assert url == f"{BASE}/send/42"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == "application/json"
    assert timeout == 3.5
    assert json.loads(body) == {"id": 42, "phone": 79001234567, "text": 'Привет, "мир"'}
    assert isinstance(json.loads(body)["phone"], int)


async def test_base_url_trailing_slash_is_normalised() -> None:
    transport = FakeTransport(respond(200))
    client = ProbeClient(BASE + "/", TOKEN, transport=transport, clock=at_now)
    await client.send(7, "79001234567", "hi")
    assert transport.calls[0][0] == f"{BASE}/send/7"


CLASSIFICATION = [
    (200, b"<html>oops</html>", Transient, "bad body: not JSON"),
    (200, b"", Transient, "bad body: not JSON"),
    (200, b"[0]", Transient, "bad body: not a JSON object"),
    (200, b'{"code": 1, "message": "busy"}', Transient, "bad body: code=1"),
    (200, b'{"code": false}', Transient, "bad body: code=False"),
    (200, b'{"code": "0"}', Transient, "bad body: code='0'"),
    (200, b'{"message": "OK"}', Transient, "bad body: code=None"),
    (500, OK_BODY, Transient, "HTTP 500"),
    (502, b"", Transient, "HTTP 502"),
    (503, b"", Transient, "HTTP 503"),
    (504, b"", Transient, "HTTP 504"),
    (429, b"", Transient, "HTTP 429"),
    (400, b"", Rejected, "HTTP 400"),
    (404, b"", Rejected, "HTTP 404"),
    (422, b"", Rejected, "HTTP 422"),
    (409, b"", Rejected, "HTTP 409"),
    (418, b"", Rejected, "HTTP 418"),
    (401, b"", Unauthorized, "HTTP 401"),
    (403, b"", Unauthorized, "HTTP 403"),
    (201, OK_BODY, Transient, "HTTP 201"),
    (204, b"", Transient, "HTTP 204"),
    (302, b"", Transient, "HTTP 302"),
    (600, b"", Transient, "HTTP 600"),
]


@pytest.mark.parametrize(("status", "body", "error", "message"), CLASSIFICATION)
async def test_classification(
    status: int, body: bytes, error: type[ProbeError], message: str
) -> None:
    client, _ = client_for(respond(status, body))
    with pytest.raises(error) as info:
        await client.send(1, "79001234567", "hi")
    assert type(info.value) is error
    assert str(info.value) == message
    assert info.value.status == status
    assert info.value.latency is not None


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (TimeoutError(), "timeout"),
        (TransportError("ClientConnectorError: refused"), "connection error: "),
        (ConnectionResetError("reset by peer"), "connection error: reset by peer"),
    ],
)
async def test_network_failures_are_transient(exc: Exception, message: str) -> None:
    client, _ = client_for(fail_with(exc))
    with pytest.raises(Transient) as info:
        await client.send(1, "79001234567", "hi")
    assert str(info.value).startswith(message)
    assert info.value.status is None
    assert info.value.retry_after is None
    assert info.value.__cause__ is exc


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (429, {"Retry-After": "7"}, 7.0),
        (503, {"retry-after": "2.5"}, 2.5),
        (429, {"RETRY-AFTER": " 0 "}, 0.0),
        (429, {}, None),
        (503, {"Retry-After": "soon"}, None),
        (500, {"Retry-After": "7"}, None),
    ],
)
async def test_retry_after_on_transient_responses(
    status: int, headers: dict[str, str], expected: float | None
) -> None:
    client, _ = client_for(respond(status, b"", headers))
    with pytest.raises(Transient) as info:
        await client.send(1, "79001234567", "hi")
    assert info.value.retry_after == expected


async def test_retry_after_http_date_is_relative_to_the_injected_clock() -> None:
    when = format_datetime(NOW + timedelta(seconds=120), usegmt=True)
    client, _ = client_for(respond(503, b"", {"Retry-After": when}))
    with pytest.raises(Transient) as info:
        await client.send(1, "79001234567", "hi")
    assert info.value.retry_after == 120.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("-5", 0.0),
        ("nan", None),
        ("", None),
        (None, None),
        ("Sun, 29 Mar 2026 01:31:00 GMT", 60.0),
        ("Sun, 29 Mar 2026 01:00:00 GMT", 0.0),
        ("Sunday, 29-Mar-26 01:30:30 GMT", 30.0),
        ("Sun Mar 29 01:30:10 2026", 10.0),
        ("not a date", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_classify_is_usable_without_a_client() -> None:
    raw = RawResponse(200, {}, OK_BODY)
    assert classify(raw, latency=0.25, now=NOW) == ProbeResult(status=200, latency=0.25)


async def test_invalid_phone_is_rejected_without_a_request() -> None:
    client, transport = client_for(respond(200))
    with pytest.raises(Rejected, match="invalid phone"):
        await client.send(1, "not-a-phone", "hi")
    assert transport.calls == []


async def test_token_never_in_repr_or_messages() -> None:
    leak = TransportError(f"proxy said: Authorization: Bearer {TOKEN}")
    client, _ = client_for(fail_with(leak))
    assert TOKEN not in repr(client)
    assert BASE in repr(client)
    with captured_logs() as records, pytest.raises(Transient) as info:
        await client.send(1, "79001234567", "hi")
    assert TOKEN not in str(info.value)
    assert TOKEN not in records[0].getMessage()
    for status in (401, 403, 500, 200):
        client, _ = client_for(respond(status, b"nope"))
        with pytest.raises(ProbeError) as failure:
            await client.send(1, "79001234567", "hi")
        assert TOKEN not in str(failure.value)
        assert TOKEN not in repr(failure.value)


async def test_success_is_logged_at_info_with_extras() -> None:
    client, _ = client_for(respond(200))
    with captured_logs() as records:
        await client.send(5, "79001234567", "hi", attempt=3, log_extra={"mailing_id": 9})
    [record] = records
    assert record.name == "herald.probe"
    assert record.levelno == logging.INFO
    assert record.__dict__["message_id"] == 5
    assert record.__dict__["attempt"] == 3
    assert record.__dict__["http_status"] == 200
    assert record.__dict__["outcome"] == "sent"
    assert record.__dict__["mailing_id"] == 9
    assert isinstance(record.__dict__["latency_ms"], float)


@pytest.mark.parametrize(
    ("handler", "outcome", "status"),
    [
        (respond(503), "transient", 503),
        (fail_with(TimeoutError()), "transient", None),
        (respond(422), "rejected", 422),
        (respond(401), "unauthorized", 401),
    ],
)
async def test_failure_is_logged_at_warning(
    handler: Handler, outcome: str, status: int | None
) -> None:
    client, _ = client_for(handler)
    with captured_logs() as records, pytest.raises(ProbeError):
        await client.send(5, "79001234567", "hi", log_extra={"client_id": 11})
    [record] = records
    assert record.levelno == logging.WARNING
    assert record.__dict__["outcome"] == outcome
    assert record.__dict__["http_status"] == status
    assert record.__dict__["attempt"] == 1
    assert record.__dict__["client_id"] == 11


async def test_close_leaves_an_injected_transport_alone() -> None:
    client, transport = client_for(respond(200))
    await client.close()
    await client.send(1, "79001234567", "hi")
    assert len(transport.calls) == 1


async def test_against_real_simulator_over_http() -> None:
    sim = await start_simulator(SimConfig(token=TOKEN))
    transport = AiohttpTransport()
    client = ProbeClient(sim.url, TOKEN, timeout=5, transport=transport, clock=at_now)
    wrong_token = ProbeClient(sim.url, "wrong", transport=transport, clock=at_now)
    try:
        results = await asyncio.gather(*(client.send(i, "79001234567", f"m{i}") for i in range(20)))
        assert all(r.status == 200 for r in results)
        await client.send(3, "79001234567", "m3")
        with pytest.raises(Rejected):
            await client.send(21, "89001234567", "bad phone for the probe")
        with pytest.raises(Unauthorized):
            await wrong_token.send(1, "79001234567", "x")
    finally:
        await transport.close()
        await sim.stop()
    assert len(sim.state.deliveries) == 20
    assert sim.state.deliveries[3].count == 2
    assert sim.state.deliveries[7].text == "m7"
    assert sim.state.deliveries[7].phone == 79001234567


async def test_real_transport_timeout_and_retry_after() -> None:
    sim = await start_simulator(SimConfig(timeout_rate=1.0, hang_seconds=30))
    transport = AiohttpTransport(max_connections=4)
    client = ProbeClient(sim.url, TOKEN, timeout=0.2, transport=transport, clock=at_now)
    try:
        with pytest.raises(Transient, match=r"^timeout$"):
            await client.send(1, "79001234567", "hi")
        sim.state.config.timeout_rate = 0
        sim.state.config.throttle_rate = 1.0
        with pytest.raises(Transient) as info:
            await client.send(1, "79001234567", "hi")
        assert (info.value.status, info.value.retry_after) == (429, 1.0)
    finally:
        await transport.close()
        await sim.stop()


async def test_real_transport_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ProbeClient(f"http://127.0.0.1:{port}/v1", TOKEN, timeout=2, clock=at_now)
    try:
        with pytest.raises(Transient, match=r"^connection error: ") as info:
            await client.send(1, "79001234567", "hi")
        assert isinstance(info.value.__cause__, TransportError)
        assert TOKEN not in str(info.value)
    finally:
        await client.close()


@pytest.mark.parametrize(
    "body",
    [
        b'{"code": 0, "message": "OK"}',
        b'  \r\n{"code":0}\n',
        b'\xef\xbb\xbf{"code": 0}',  # a UTF-8 byte order mark
        '{"code": 0, "message": "ÿ"}'.encode("utf-16"),
        '{"code": 0, "message": "é"}'.encode("utf-32-le"),
        b'{"code": 0} {"code": 1}',  # extra data
        b'{"code": 0} x',
        b'{"code": NaN}',
        b'{"code": 0, "code": 1}',
        b'"\\ud800"',
        b"\xff\xfe\x00",
        b"\x00{",
        b"",
        b"   ",
        b"[1, 2",
        b'{"a": {"b": [1, 2.5, null, true]}}',
    ],
)
def test_a_body_parses_as_json_loads_parses_it(body: bytes) -> None:
    try:
        expected: object = json.loads(body)
    except ValueError:
        with pytest.raises(ValueError):
            probe_module._json(body)
        return
    assert repr(probe_module._json(body)) == repr(expected)  # repr: NaN equals itself

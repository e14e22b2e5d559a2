"""CSV exports through the real app (`GET /export/mailings/{id}/messages.csv`, `…/stats.csv`):
the same tokens as GraphQL, viewers allowed, coded JSON refusals, every message in id order
across pages, cells that no spreadsheet runs as a formula."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from herald.app import AppState, create_app
from herald.settings import Settings
from models.mailing import Mailing
from models.message import Message, MessageStatus
from models.token import Role, create_token
from tests.support.api import GQL, create_mailing
from tests.support.engine import wait_for

SENT_AT = datetime(2030, 5, 1, 9, 30, 15, 250_000, tzinfo=UTC)
HEADER = ["id", "phone", "status", "attempts", "created_at", "sent_at", "last_error"]
STATS = """query($id: ID!) { mailing(id: $id) { stats { total byStatus { status count } } } }"""


def rows_of(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.text, newline="")))


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def add_messages(mailing_id: int, n: int, first_phone: int = 79160000000) -> None:
    await Message.bulk_create(
        [
            Message(mailing_id=mailing_id, phone=str(first_phone + i), timezone="UTC")
            for i in range(n)
        ]
    )


async def test_messages_csv_columns_values_and_injection(
    gql: GQL, client: httpx.AsyncClient
) -> None:
    mid = int((await create_mailing(gql))["id"])
    await add_messages(mid, 3)
    first, second, third = await Message.filter(mailing_id=mid).order_by("id")
    await Message.filter(id=first.id).update(status=MessageStatus.SENT, attempts=1, sent_at=SENT_AT)
    formula = '=HYPERLINK("http://evil.example","x")'
    await Message.filter(id=second.id).update(
        status=MessageStatus.FAILED, attempts=8, last_error=formula
    )
    await Message.filter(id=third.id).update(last_error='-1+2, "quoted"\nnext line')
    viewer = await create_token(Role.VIEWER)
    response = await client.get(f"/export/mailings/{mid}/messages.csv", headers=auth(viewer))
    rows = rows_of(response)
    assert response.headers["content-disposition"] == (
        f'attachment; filename="mailing-{mid}-messages.csv"'
    )
    assert response.text.endswith("\r\n") and rows[0] == HEADER
    assert [r[:4] for r in rows[1:]] == [
        [str(first.id), "79160000000", "SENT", "1"],
        [str(second.id), "79160000001", "FAILED", "8"],
        [str(third.id), "79160000002", "PENDING", "0"],
    ]
    assert rows[1][5] == "2030-05-01T09:30:15.250Z" and rows[2][5] == rows[3][5] == ""
    created = datetime.fromisoformat(rows[1][4])
    assert rows[1][4].endswith("Z") and abs((datetime.now(UTC) - created).total_seconds()) < 60
    assert rows[2][6] == "'" + formula  # text in the sheet, not a formula
    assert rows[3][6] == '\'-1+2, "quoted"\nnext line'  # quoted by the CSV writer, kept whole


@pytest.fixture
async def small_pages(database: str, settings: Settings, tmp_path: Path) -> AsyncIterator[GQL]:
    """The app with EXPORT_PAGE_SIZE=2: every export spans pages."""
    env = {
        "DATABASE_URL": database,
        "API_ADMIN_TOKEN": settings.api_admin_token.get(),
        "DATA_DIR": str(tmp_path),
        "EXPORT_PAGE_SIZE": "2",
    }
    app = create_app(AppState(settings=Settings.from_env(env), manage_db=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://herald.test") as http:
        yield GQL(http, settings.api_admin_token.get())


async def test_every_message_once_in_id_order_across_pages(small_pages: GQL) -> None:
    gql = small_pages
    mid, other = [int((await create_mailing(gql))["id"]) for _ in range(2)]
    for start in (0, 100, 200):  # ids of the two mailings interleave
        await add_messages(mid, 2, 79160000000 + start)
        await add_messages(other, 3, 79170000000 + start)
    await add_messages(mid, 1, 79160000999)  # 7 messages: pages of 2, 2, 2, 1
    response = await gql.http.get(f"/export/mailings/{mid}/messages.csv", headers=auth(gql.token))
    ids = [int(row[0]) for row in rows_of(response)[1:]]
    expected = await Message.filter(mailing_id=mid).order_by("id").values_list("id", flat=True)
    assert ids == [int(i) for i in expected] and len(ids) == 7  # type: ignore[call-overload]


async def test_an_empty_mailing_is_the_header_alone(gql: GQL, client: httpx.AsyncClient) -> None:
    mid = (await create_mailing(gql))["id"]
    response = await client.get(f"/export/mailings/{mid}/messages.csv", headers=auth(gql.token))
    assert rows_of(response) == [HEADER]


async def test_stats_csv_matches_the_api(gql: GQL, client: httpx.AsyncClient) -> None:
    mid = int((await create_mailing(gql))["id"])
    await add_messages(mid, 4)
    ids = await Message.filter(mailing_id=mid).order_by("id").values_list("id", flat=True)
    await Message.filter(id=ids[0]).update(status=MessageStatus.SENT)
    response = await client.get(f"/export/mailings/{mid}/stats.csv", headers=auth(gql.token))
    rows = rows_of(response)
    stats = (await gql.ok(STATS, id=str(mid)))["mailing"]["stats"]
    assert rows[0] == ["status", "count"]
    assert rows[1:] == [[s["status"], str(s["count"])] for s in stats["byStatus"]]
    assert dict((s, int(n)) for s, n in rows[1:]) == {
        **{status.value: 0 for status in MessageStatus},
        "PENDING": 3,
        "SENT": 1,
    }


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic YWRtaW46eA=="}]
)
async def test_no_valid_token_is_401_json(
    gql: GQL, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    mid = (await create_mailing(gql))["id"]
    for name in ("messages.csv", "stats.csv", "other.csv"):
        response = await client.get(f"/export/mailings/{mid}/{name}", headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "UNAUTHENTICATED"
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "raw", ["abc", "0", "-1", "2147483648", "1_0", "%20%31", "\u0661", "\uff11", "1.0"]
)
async def test_an_id_that_is_not_ascii_decimal_in_range_is_400(
    gql: GQL, client: httpx.AsyncClient, raw: str
) -> None:
    await create_mailing(gql)  # mailing 1 exists: no spelling of it is read as 1
    response = await client.get(f"/export/mailings/{raw}/messages.csv", headers=auth(gql.token))
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_USER_INPUT" and response.json()["field"] == "id"


async def test_unknown_mailing_or_export_is_404_and_other_methods_405(
    gql: GQL, client: httpx.AsyncClient
) -> None:
    mid = (await create_mailing(gql))["id"]
    headers = auth(gql.token)
    for path in ("/export/mailings/999/messages.csv", f"/export/mailings/{mid}/messages.json"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND", path
    await Mailing.filter(id=int(mid)).delete()
    response = await client.get(f"/export/mailings/{mid}/stats.csv", headers=headers)
    assert response.status_code == 404 and response.json()["field"] == "id"
    response = await client.post("/export/mailings/1/messages.csv", headers=headers)
    assert response.status_code == 405 and response.headers["allow"] == "GET"
    assert response.json()["code"] == "BAD_USER_INPUT"


async def _started(server: uvicorn.Server) -> bool:
    return bool(server.started)


@pytest.fixture
async def served_url(database: str, settings: Settings) -> AsyncIterator[str]:
    """The app behind a real uvicorn on a free port (port 0): responses really stream."""
    app = create_app(AppState(settings=settings, manage_db=False))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: _started(server), timeout=20, what="uvicorn")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_a_large_export_streams_over_http(served_url: str, admin_token: str) -> None:
    """Four pages of 5,000 (EXPORT_PAGE_SIZE's default) through a real server: chunked, with no
    Content-Length (nothing was gathered first), every row there."""
    mid = (await Mailing.create(text="t", start_at=SENT_AT, end_at=SENT_AT)).id
    await add_messages(mid, 20_000)
    lines = 0
    async with (
        httpx.AsyncClient(base_url=served_url) as http,
        http.stream(
            "GET", f"/export/mailings/{mid}/messages.csv", headers=auth(admin_token)
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        async for line in response.aiter_lines():
            lines += 1
            assert line.count(",") == 6, line
    assert lines == 20_001

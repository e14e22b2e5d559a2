from __future__ import annotations

import logging
from typing import Any

import pytest

from models.message import Message, MessageStatus
from tests.support.api import GQL, create_mailing

STATS = """{ stats { mailings messages byStatus { status count }
  perMailing { mailingId state total byStatus { status count } } } }"""
MAILING_STATS = """query($id: ID!) { mailing(id: $id) { stats { mailingId state total
  byStatus { status count } } } }"""


def as_dict(by_status: list[dict[str, Any]]) -> dict[str, int]:
    return {item["status"]: item["count"] for item in by_status}


async def seed(mailing_id: int, statuses: list[MessageStatus]) -> None:
    await Message.bulk_create(
        [
            Message(mailing_id=mailing_id, phone=f"7916{i:07d}", timezone="UTC", status=s)
            for i, s in enumerate(statuses)
        ]
    )


async def test_counts_per_status_with_zeros(gql: GQL, database: str) -> None:
    first = int((await create_mailing(gql))["id"])
    second = int((await create_mailing(gql))["id"])
    await create_mailing(gql)
    await seed(first, [MessageStatus.SENT] * 3 + [MessageStatus.FAILED])
    await seed(second, [MessageStatus.PENDING, MessageStatus.SENT])
    stats = (await gql.ok(STATS))["stats"]
    assert stats["mailings"] == 3 and stats["messages"] == 6
    overall = as_dict(stats["byStatus"])
    assert list(overall) == [s.value for s in MessageStatus]
    assert overall == {**{s.value: 0 for s in MessageStatus}, "SENT": 4, "FAILED": 1, "PENDING": 1}
    per = {item["mailingId"]: item for item in stats["perMailing"]}
    assert per[str(first)]["total"] == 4
    assert as_dict(per[str(first)]["byStatus"])["SENT"] == 3
    assert per[str(second)]["state"] == "SCHEDULED"
    one = (await gql.ok(MAILING_STATS, id=str(first)))["mailing"]["stats"]
    assert one == per[str(first)]


async def test_mailing_list_stats_are_one_query_per_page(
    gql: GQL, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The stats of a page of mailings are read by one grouped query (the DataLoader batches
    them), not one query per mailing."""
    ids = [int((await create_mailing(gql))["id"]) for _ in range(5)]
    for n, mid in enumerate(ids):
        await seed(mid, [MessageStatus.SENT] * (n + 1))
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    caplog.clear()
    data = await gql.ok("{ mailings { edges { node { id stats { total } } } } }")
    totals = [e["node"]["stats"]["total"] for e in data["mailings"]["edges"]]
    assert totals == [5, 4, 3, 2, 1]  # newest first
    stat_reads = [
        r.getMessage()
        for r in caplog.records
        if r.name == "tortoise.db_client" and "mailing_stat" in r.getMessage()
    ]
    assert len(stat_reads) == 1, stat_reads

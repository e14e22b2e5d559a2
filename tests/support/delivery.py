"""Clients and mailings for the delivery engine, and reading what became of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from models.mailing import Mailing
from models.message import Message
from models.sql import db
from models.transitions import FINAL
from tests.support.engine import Engine
from tools.probesim import Delivery

CREATE = "mutation($input: MailingInput!) { createMailing(input: $input) { id state } }"
IMPORT = "mutation($c: [ClientInput!]!) { importClients(clients: $c) { created } }"


async def clients(
    engine: Engine, n: int, zone: str = "Europe/Moscow", start: int = 0, tag: str | None = None
) -> None:
    """`n` clients in `zone`, phones 79000000000 + start … + start + n - 1."""
    rows = [{"phone": f"79{start + i:09d}", "timezone": zone, "tag": tag} for i in range(n)]
    await engine.gql.ok(IMPORT, c=rows)


async def mailing(
    engine: Engine,
    start: timedelta = timedelta(seconds=-1),
    end: timedelta = timedelta(hours=1),
    **extra: Any,
) -> int:
    """A mailing to everyone (unless `filter` says otherwise) that starts now; its id."""
    now = datetime.now(UTC)
    data = await engine.gql.ok(
        CREATE,
        input={
            "text": "Hello from Herald",
            "startAt": (now + start).isoformat(),
            "endAt": (now + end).isoformat(),
            "filter": extra.pop("filter", {}),
            **extra,
        },
    )
    return int(data["createMailing"]["id"])


def accepted(engine: Engine) -> dict[int, Delivery]:
    """What the probe accepted so far, by message id."""
    return dict(engine.sim.state.deliveries)


async def sim_at_least(engine: Engine, n: int) -> bool:
    return len(engine.sim.state.deliveries) >= n


async def status_counts(mailing_id: int) -> dict[str, int]:
    """The mailing's messages counted by status (only the statuses that occur)."""
    found: dict[str, int] = {}
    for status in await Message.filter(mailing_id=mailing_id).values_list("status", flat=True):
        found[str(status)] = found.get(str(status), 0) + 1
    return found


async def all_final(mailing_id: int) -> bool:
    """The mailing has started and none of its messages can change any more."""
    if not await Mailing.filter(id=mailing_id, started_at__isnull=False).exists():
        return False
    return not await Message.filter(mailing_id=mailing_id).exclude(status__in=list(FINAL)).exists()


async def mailing_state(mailing_id: int) -> str:
    return str((await Mailing.get(id=mailing_id)).state.value)


async def in_state(mailing_id: int, state: str) -> bool:
    return await mailing_state(mailing_id) == state


async def counters_match_messages() -> bool:
    """The trigger-maintained counters equal a fresh COUNT(*) over messages."""
    counted = await db().execute_query_dict(
        "SELECT mailing_id, status, COUNT(*) AS n FROM message GROUP BY mailing_id, status"
    )
    kept = await db().execute_query_dict(
        "SELECT mailing_id, status, n FROM mailing_stat WHERE n <> 0"
    )
    return _by_key(counted) == _by_key(kept)


def _by_key(rows: list[dict[str, Any]]) -> dict[tuple[int, str], int]:
    return {(r["mailing_id"], r["status"]): int(r["n"]) for r in rows}

"""DataLoaders, built per request: stats, mailings and clients fetched once per batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from models.client import Client
from models.mailing import Mailing
from models.stats import Counts, counts_for_mailings


async def _load_counts(ids: Sequence[int]) -> list[Counts]:
    counts = await counts_for_mailings(ids)
    return [counts[i] for i in ids]


async def _load_mailings(ids: Sequence[int]) -> list[Mailing | None]:
    rows = {m.id: m for m in await Mailing.filter(id__in=list(ids))}
    return [rows.get(i) for i in ids]


async def _load_clients(ids: Sequence[int]) -> list[Client | None]:
    rows = {c.id: c for c in await Client.filter(id__in=list(ids))}
    return [rows.get(i) for i in ids]


@dataclass
class Loaders:
    counts: DataLoader[int, Counts] = field(
        default_factory=lambda: DataLoader(load_fn=_load_counts)
    )
    mailings: DataLoader[int, Mailing | None] = field(
        default_factory=lambda: DataLoader(load_fn=_load_mailings)
    )
    clients: DataLoader[int, Client | None] = field(
        default_factory=lambda: DataLoader(load_fn=_load_clients)
    )

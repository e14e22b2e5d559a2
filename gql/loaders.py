"""DataLoaders, built per request: stats, mailings, clients and attempt histories fetched
once per batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from models.attempts import AttemptRecord, histories
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


def _history_loader(first: int) -> DataLoader[int, list[AttemptRecord]]:
    async def load(ids: Sequence[int]) -> list[list[AttemptRecord]]:
        found = await histories(ids, first)
        return [found[i] for i in ids]

    return DataLoader(load_fn=load)


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
    history_by_first: dict[int, DataLoader[int, list[AttemptRecord]]] = field(default_factory=dict)

    def history(self, first: int) -> DataLoader[int, list[AttemptRecord]]:
        """One loader per page size asked for: a request's messages share one query each."""
        if first not in self.history_by_first:
            self.history_by_first[first] = _history_loader(first)
        return self.history_by_first[first]

"""azure-mgmt-* SDK clients are bound to one subscription: one client per subscription, created on first use,
all sharing the process's credential, pipeline policies (fresh instances), endpoint and aiohttp session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerSubscription(Generic[T]):
    def __init__(self, factory: Callable[[str], T]) -> None:
        self._factory = factory
        self._clients: dict[str, T] = {}

    def get(self, subscription_id: str) -> T:
        key = subscription_id.lower()
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self._factory(subscription_id)
        return client

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()  # type: ignore[attr-defined]

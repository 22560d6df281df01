"""Concurrency limits at the Azure boundary.

- ARM throttles per subscription (and principal), so at most N requests are in flight per subscription.
- The ML service rejects concurrent writes to one workspace's managed network, so those writes (PATCH workspace,
  provision, outbound rule PUT/DELETE/batch POST) take one lock per workspace. Rule writes hold it for the send
  only: their operations are serialised by the rule queue (handlers/rule_batch.py), not by a lock held for minutes.

Locks are created lazily and keyed case-insensitively: ARM IDs and names are case-insensitive.
"""

from __future__ import annotations

import asyncio
import re

_SUBSCRIPTION_IN_PATH = re.compile(r"/subscriptions/([^/?#]+)", re.IGNORECASE)


def subscription_of(url_or_id: str) -> str:
    """The subscription ID in an ARM URL or resource ID ("" when there is none, e.g. tenant-level calls)."""
    match = _SUBSCRIPTION_IN_PATH.search(url_or_id)
    return match.group(1).lower() if match else ""


class Limits:
    def __init__(self, max_concurrency_per_subscription: int = 4) -> None:
        if max_concurrency_per_subscription < 1:
            raise ValueError("max_concurrency_per_subscription must be at least 1")
        self.max_concurrency_per_subscription = max_concurrency_per_subscription
        self._subscriptions: dict[str, asyncio.Semaphore] = {}
        self._workspaces: dict[str, asyncio.Lock] = {}

    def subscription(self, subscription_id: str) -> asyncio.Semaphore:
        key = subscription_id.lower()
        sem = self._subscriptions.get(key)
        if sem is None:
            sem = self._subscriptions[key] = asyncio.Semaphore(self.max_concurrency_per_subscription)
        return sem

    def workspace_lock(self, subscription_id: str, resource_group: str, workspace: str) -> asyncio.Lock:
        key = f"{subscription_id}/{resource_group}/{workspace}".lower()
        lock = self._workspaces.get(key)
        if lock is None:
            lock = self._workspaces[key] = asyncio.Lock()
        return lock

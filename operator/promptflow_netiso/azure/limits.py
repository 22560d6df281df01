"""Concurrency limits at the Azure boundary.

- ARM throttles per subscription (and principal), so at most N requests are in flight per subscription, and each
  subscription's reads, writes and deletes are paced by a token bucket a little inside ARM's own (reads 250 +25/s,
  writes and deletes 200 +10/s; scaled by `pacing`). The bucket drops to what ARM says is left
  (x-ms-ratelimit-remaining-subscription-*: other clients spend the same budget) and empties on a 429 until its
  Retry-After has passed. Background work (drift checks) leaves a quarter of each bucket to changes a person
  made, so a restart or a drift sweep over 1,000 workspaces does not delay the reaction to an edit.
- Changes a person made wait on a bucket only once the endpoint has shown it counts: a remaining count in an answer
  (ARM sends one on every answer) or a 429. An endpoint that shows neither (a proxy, Azure Stack Hub, a test double)
  is not held back by our guess of a budget it may not have; such requests still spend the local count, so the
  background work that follows them waits for the refill. Background work always waits on the bucket: a restart or a
  drift sweep never bursts, whatever the endpoint shows.
- The ML service rejects concurrent writes to one workspace's managed network, so those writes (PATCH workspace,
  provision, outbound rule PUT/DELETE/batch POST) take one lock per workspace. Rule writes hold it for the send
  only: their operations are serialised by the rule queue (handlers/rule_batch.py), not by a lock held for minutes.

Locks are created lazily and keyed case-insensitively: ARM IDs and names are case-insensitive.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import re
import time
from typing import Iterator

_SUBSCRIPTION_IN_PATH = re.compile(r"/subscriptions/([^/?#]+)", re.IGNORECASE)


def subscription_of(url_or_id: str) -> str:
    """The subscription ID in an ARM URL or resource ID ("" when there is none, e.g. tenant-level calls)."""
    match = _SUBSCRIPTION_IN_PATH.search(url_or_id)
    return match.group(1).lower() if match else ""


# ARM's documented per-subscription buckets: (size, refill per second).
ARM_BUCKETS = {"reads": (250.0, 25.0), "writes": (200.0, 10.0), "deletes": (200.0, 10.0)}
BACKGROUND_RESERVE = 0.25  # the share of a bucket background work leaves to foreground work
_background: contextvars.ContextVar[bool] = contextvars.ContextVar("promptflow_netiso_background", default=False)


@contextlib.contextmanager
def background() -> Iterator[None]:
    """Requests made inside are background work (drift checks): they wait while a bucket is below its reserve."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


def foreground() -> None:
    """From here on in this task, requests are not background work (a task shared by several callers, such as a
    workspace's rule queue, must not inherit the pacing of whichever caller happened to start it)."""
    _background.set(False)


def in_background() -> bool:
    return _background.get()


def bucket_of(method: str) -> str:
    method = method.upper()
    return "reads" if method in ("GET", "HEAD") else "deletes" if method == "DELETE" else "writes"


@dataclasses.dataclass
class TokenBucket:
    size: float
    refill_per_s: float
    tokens: float = -1.0
    stamp: float = dataclasses.field(default_factory=time.monotonic)
    paused_until: float = 0.0
    counted: bool = False  # the endpoint has shown that it counts: a remaining count, or a 429

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.size

    def _refill(self, now: float) -> None:
        self.tokens = min(self.size, self.tokens + (now - self.stamp) * self.refill_per_s)
        self.stamp = now

    def wait_time(self, floor: float, now: float) -> float:
        """0 and one token taken, or how long to wait before asking again."""
        self._refill(now)
        if now < self.paused_until:
            return self.paused_until - now
        if self.tokens - 1.0 >= floor:
            self.tokens -= 1.0
            return 0.0
        return (floor + 1.0 - self.tokens) / self.refill_per_s

    def spend(self, now: float) -> None:
        """A request sent without waiting (the endpoint has not shown that it counts): counted all the same."""
        self._refill(now)
        self.tokens = max(0.0, self.tokens - 1.0)

    def observe(self, remaining: float | None, retry_after: float | None, now: float) -> None:
        """What ARM answered: its remaining count for this bucket, and a Retry-After on a 429."""
        self._refill(now)
        self.counted = self.counted or remaining is not None or retry_after is not None
        if remaining is not None:
            self.tokens = min(self.tokens, remaining)
        if retry_after is not None:
            self.tokens = 0.0
            self.paused_until = max(self.paused_until, now + retry_after)


class Limits:
    def __init__(self, max_concurrency_per_subscription: int = 4, pacing: float = 0.8) -> None:
        if max_concurrency_per_subscription < 1:
            raise ValueError("max_concurrency_per_subscription must be at least 1")
        if not 0 < pacing <= 1:
            raise ValueError("pacing must be in (0, 1]: the share of ARM's per-subscription budget to use")
        self.max_concurrency_per_subscription = max_concurrency_per_subscription
        self.pacing = pacing
        self._subscriptions: dict[str, asyncio.Semaphore] = {}
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._workspaces: dict[str, asyncio.Lock] = {}

    def bucket(self, subscription_id: str, kind: str) -> TokenBucket:
        key = (subscription_id.lower(), kind)
        found = self._buckets.get(key)
        if found is None:
            size, refill = ARM_BUCKETS[kind]
            found = self._buckets[key] = TokenBucket(size * self.pacing, refill * self.pacing)
        return found

    async def pace(self, subscription_id: str, method: str) -> None:
        """Wait for a token of this subscription's bucket for the method (no-op without a subscription; a change a
        person made does not wait on an endpoint that has shown no count)."""
        if not subscription_id:
            return
        bucket = self.bucket(subscription_id, bucket_of(method))
        background = _background.get()
        if not background and not bucket.counted:
            bucket.spend(time.monotonic())
            return
        floor = bucket.size * BACKGROUND_RESERVE if background else 0.0
        while (delay := bucket.wait_time(floor, time.monotonic())) > 0:
            await asyncio.sleep(delay)

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

"""Drift checks wait here, a key each, not inside kopf's timer calls (issue 13).

At 1,000 workspaces and a 60 s interval the drift checks do not fit their share of ARM's read budget, so they queue.
Queued inside kopf's timer handlers, each waiting check kept kopf's handler machinery alive (its kwargs, patch,
logger, context and a chain of a dozen coroutines): about 1,800 of them at any time, a few tens of MB. A timer now
submits its check under a key and returns; a fixed pool of workers (the drift checks' share of the reconcile slots)
runs the checks in the order their keys came. A key already waiting is not queued twice, and one being checked is not
queued again, so the queue holds at most one entry per key however far behind the checks are.

A check returns the delay after which it wants to run again (kopf's TemporaryError delay for a timer), or None to
wait for its timer. The workers are ours, not kopf's: they start no check while a peer leads
(kopf_patches.until_leading).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Hashable

from . import kopf_patches

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[float | None]]


class DriftQueue:
    def __init__(self) -> None:
        self._checks: dict[Hashable, Check] = {}  # waiting keys in the order they came, each with its latest check
        self._running: set[Hashable] = set()
        self._wake: asyncio.Event | None = None
        self._workers: list[asyncio.Task] = []
        self._retries: dict[Hashable, asyncio.TimerHandle] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def submit(self, key: Hashable, check: Check, workers: int) -> None:
        """Queue `check` under `key` (once: a waiting key keeps its place and takes the newer check; a key being
        checked right now, or waiting for the retry its check asked for, is left alone). Starts `workers` workers on
        the first call."""
        self._started(workers)
        if key in self._running or key in self._retries:  # a retry the check asked for comes first, as with kopf's timers
            return
        self._checks[key] = check
        assert self._wake is not None
        self._wake.set()

    def waiting(self) -> int:
        return len(self._checks)

    def stop(self) -> None:
        """The operator exits: no worker starts another check."""
        for task in self._workers:
            task.cancel()
        for handle in self._retries.values():
            handle.cancel()
        self._workers, self._checks, self._retries, self._running = [], {}, {}, set()
        self._wake, self._loop = None, None

    def _started(self, workers: int) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first call, or a new event loop (tests): nothing of the old one carries over
            self.stop()
            self._loop, self._wake = loop, asyncio.Event()
            self._workers = [loop.create_task(self._work(), name=f"drift-check-{i}") for i in range(max(1, workers))]

    def _take(self) -> tuple[Hashable, Check] | None:
        if not self._checks:
            return None
        key = next(iter(self._checks))
        return key, self._checks.pop(key)

    async def _work(self) -> None:
        assert self._wake is not None
        wake = self._wake
        while True:
            taken = self._take()
            if taken is None:
                wake.clear()
                await wake.wait()
                continue
            key, check = taken
            await kopf_patches.until_leading()
            self._running.add(key)
            try:
                delay = await check()
            except asyncio.CancelledError:
                raise
            except Exception:  # a check reports its own errors on its object; never lose a worker over one
                log.exception("drift check %s", key)
                delay = None
            finally:
                self._running.discard(key)
            if delay is not None:
                self._retry(key, check, delay)

    def _retry(self, key: Hashable, check: Check, delay: float) -> None:
        assert self._loop is not None
        old = self._retries.pop(key, None)
        if old is not None:
            old.cancel()

        def again() -> None:
            self._retries.pop(key, None)
            if key not in self._running and self._wake is not None:
                self._checks.setdefault(key, check)
                self._wake.set()

        self._retries[key] = self._loop.call_later(max(delay, 0.0), again)


DRIFT = DriftQueue()


def workers_for(max_reconciles: int) -> int:
    """As many workers as drift checks may hold reconcile slots at once (common.reconcile_slot)."""
    return max(1, max_reconciles // 2) if max_reconciles > 0 else 32

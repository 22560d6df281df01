"""Time-driven changes (LRO completion, PE auto-approval) without background tasks.

Events sit in a heap; every request first runs the ones that are due, so the estate a client observes is always
up to date and nothing runs while nobody is looking. Deterministic for a given request sequence.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from typing import Callable

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._clock()

    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), action))

    def after(self, delay_s: float, action: Callable[[], None]) -> None:
        self.at(self._clock() + max(0.0, delay_s), action)

    def run_due(self) -> None:
        heap = self._heap
        if not heap:
            return
        now = self._clock()
        while heap and heap[0][0] <= now:
            _, _, action = heapq.heappop(heap)
            self._run(action)

    def run_all(self) -> None:
        """Fire every pending event now (admin: finish whatever is in flight)."""
        while self._heap:
            _, _, action = heapq.heappop(self._heap)
            self._run(action)

    @staticmethod
    def _run(action: Callable[[], None]) -> None:
        # A broken event must not fail whichever unrelated request happened to trigger it.
        try:
            action()
        except Exception:
            log.exception("simulator event failed")

    def clear(self) -> None:
        self._heap.clear()

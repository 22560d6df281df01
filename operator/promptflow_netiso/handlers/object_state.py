"""The one in-memory store of per-object state, for every kind (this process only: status carries what must
survive a restart).

An object has an entry only while something about it is in flight: a reconcile running or queued, status written
that kopf's body does not show yet, a back-off or a wake-up pending, an approval's schedule. A converged object
costs nothing here, so memory does not grow with objects that are merely watched (issue 13).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any, AsyncIterator, Mapping

from ..planning.requeue import Retry, Schedule


@dataclasses.dataclass
class ObjectState:
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)  # one reconcile at a time per object
    users: int = 0  # reconciles holding or waiting for the lock
    written: dict = dataclasses.field(default_factory=dict)  # status fields written, not yet seen in the body
    change_pending: bool = False  # a change handler has not succeeded yet: timers stand aside
    schedule: Schedule | None = None  # when to look again (planning/requeue.py)
    wake: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)  # set: look now
    kind_state: Any = None  # what one kind keeps besides (the approval's schedule and blocked targets)

    def idle(self) -> bool:
        return (self.users == 0 and not self.written and not self.change_pending and self.kind_state is None
                and (self.schedule is None or self.schedule.retry is Retry.NONE))


class ObjectStates:
    def __init__(self) -> None:
        self._states: dict[str, ObjectState] = {}

    def __len__(self) -> int:
        return len(self._states)

    def of(self, uid: str) -> ObjectState:
        state = self._states.get(uid)
        if state is None:
            state = self._states[uid] = ObjectState()
        return state

    def peek(self, uid: str) -> ObjectState | None:
        return self._states.get(uid)

    def values(self) -> list[ObjectState]:
        return list(self._states.values())

    def forget(self, uid: str) -> None:
        self._states.pop(uid, None)

    def release(self, uid: str) -> None:
        """Drop the entry if nothing about the object is in flight any more."""
        state = self._states.get(uid)
        if state is not None and state.idle():
            del self._states[uid]

    @contextlib.asynccontextmanager
    async def locked(self, uid: str) -> AsyncIterator[ObjectState]:
        """One reconcile at a time per object; the entry goes once the last one is done and nothing is in flight."""
        state = self.of(uid)
        state.users += 1
        try:
            async with state.lock:
                yield state
        finally:
            state.users -= 1
            self.release(uid)

    # --- status this process wrote ahead of kopf's body -------------------------------------------------------------

    def status_now(self, uid: str, status: Mapping | None) -> dict:
        """The object's status as this process last wrote it."""
        state = self._states.get(uid)
        return {**(status or {}), **(state.written if state is not None else {})}

    def prune(self, uid: str, status: Mapping | None) -> None:
        """Forget what the body already shows."""
        state = self._states.get(uid)
        if state is None or not state.written:
            return
        state.written = {k: v for k, v in state.written.items() if (status or {}).get(k) != v}
        self.release(uid)

    def remember(self, uid: str, fields: Mapping) -> None:
        if fields:
            state = self.of(uid)
            state.written = {**state.written, **fields}


STATES = ObjectStates()

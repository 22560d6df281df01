"""What every kind's handlers share: the Azure facade from memo, the control annotation, error -> retry mapping."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
import logging
from typing import AsyncIterator, Mapping

import kopf

from .. import conditions
from ..azure.errors import AzureError, ErrorKind
from ..azure.limits import in_background
from ..model.common import CONDITION_READY, ReconcilePolicy, reconcile_policy_of
from ..planning.intent import STATUS_KEY as PENDING_WRITE
from ..settings import Settings

log = logging.getLogger(__name__)

MANAGE, SKIP, DETACH_ON_DELETE = ReconcilePolicy.MANAGE, ReconcilePolicy.SKIP, ReconcilePolicy.DETACH_ON_DELETE


def azure_from(memo: kopf.Memo):
    return memo.azure


def settings_from(memo: kopf.Memo) -> Settings:
    return memo.settings


def reconcile_policy(meta) -> ReconcilePolicy:
    """ASO-like control annotation (model/common.py: one set of values and one reading of them)."""
    return reconcile_policy_of(meta.get("annotations"))


def retry_delay(err: AzureError, settings: Settings) -> float:
    if err.kind is ErrorKind.THROTTLED:
        return max(err.retry_after or 0.0, 1.0)
    if err.kind is ErrorKind.CONFLICT:  # another operation in progress on the managed network: a wait
        return max(err.retry_after or 0.0, 2.0)
    if err.kind is ErrorKind.TRANSIENT:
        return max(err.retry_after or 0.0, settings.transient_retry)
    return settings.slow_retry  # user-fixable / not found / unknown: slow, never stuck forever


def raise_for_azure_error(err: AzureError, settings: Settings) -> None:
    """Re-raise an Azure error as a kopf retry with a delay chosen by its kind (never a PermanentError: a fix made
    in Azure must be picked up without touching the object)."""
    raise kopf.TemporaryError(str(err), delay=retry_delay(err, settings)) from err


def post_event(body, type_: str, reason: str, message: str) -> None:
    """An Event on the object; kopf posts it asynchronously (never blocks the handler)."""
    kopf.event(body, type=type_, reason=reason, message=message)


def converged(status: Mapping | None, meta: Mapping) -> bool:
    """Ready for the current generation with no write in flight: nothing for a restarted operator to do at once.
    Resume handlers leave such objects to their drift check, which the timers spread over one interval, so a restart
    over thousands of converged objects sends no burst of Azure reads and writes nothing."""
    status = status or {}
    ready = conditions.get(status.get("conditions"), CONDITION_READY) or {}
    generation = meta.get("generation")
    return (ready.get("status") == conditions.TRUE and ready.get("observedGeneration") in (None, generation)
            and status.get("observedGeneration") in (None, generation) and not status.get(PENDING_WRITE)
            and not (status.get("deploymentTarget") or {}).get(PENDING_WRITE))  # a BYO compute attach in flight


class OldestFirst:
    """A semaphore that serves its waiters oldest object first (an object's creationTimestamp; then by arrival).
    First come first served made a burst of objects advance step by step together: each step of every object queued
    behind the previous step of all the others (kopf's retries come back to the end of the queue), so every object
    stayed in flight, and in memory, until the end. Oldest first finishes objects one after another; a change to an
    existing object goes before a burst of new ones."""

    def __init__(self, value: int) -> None:
        self._value = value  # free slots; never above 0 while a waiter waits (release hands the slot over)
        self._waiters: list[tuple[str, int, asyncio.Future]] = []
        self._arrivals = itertools.count()

    async def acquire(self, oldest: str = "") -> None:
        if self._value > 0:
            self._value -= 1
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (oldest, next(self._arrivals), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed a slot just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            future = heapq.heappop(self._waiters)[2]
            if not future.done():  # a cancelled waiter's entry is skipped
                future.set_result(None)
                return
        self._value += 1


_slots: dict[str, OldestFirst] = {}
# The slots this reconcile holds, and its object's age (to take them back in turn after slot_released).
_held: contextvars.ContextVar[tuple[tuple[OldestFirst, ...], str]] = contextvars.ContextVar(
    "promptflow_netiso_slot", default=((), ""))


@contextlib.asynccontextmanager
async def reconcile_slot(settings: Settings, oldest: str = "") -> AsyncIterator[None]:
    """At most `max_reconciles` reconciles at once (each holds decoded Azure answers and a Kubernetes request or two),
    so applying 11,000 objects at once costs a bounded amount of memory; taken around the part that talks to Azure.
    Drift checks (background) take at most half of the slots: a change a person made always finds one. `oldest`:
    the object's creationTimestamp (OldestFirst)."""
    total = settings.max_reconciles
    if total <= 0:
        yield
        return
    every = _slots.setdefault("all", OldestFirst(total))
    held = (_slots.setdefault("background", OldestFirst(max(1, total // 2))), every) if in_background() else (every,)
    taken: list[OldestFirst] = []
    try:
        for sem in held:
            await sem.acquire(oldest)
            taken.append(sem)
        token = _held.set((held, oldest))
        try:
            yield
        finally:
            _held.reset(token)
    finally:
        for sem in reversed(taken):
            sem.release()


@contextlib.asynccontextmanager
async def slot_released() -> AsyncIterator[None]:
    """Give this reconcile's slot back while it only waits for work others share (a rule's batchOutboundRules
    operation runs for minutes in Azure: handlers/rule_batch.py), and take it again after. Waiting holds no decoded
    answers, and held slots would keep the other rules of the batch from joining it."""
    held, oldest = _held.get()
    for sem in reversed(held):
        sem.release()
    try:
        yield
    finally:
        async def take_back() -> None:
            for sem in held:  # the order reconcile_slot takes them in
                await sem.acquire(oldest)
        # Shielded: even if we are cancelled meanwhile, the slot is taken back, so reconcile_slot's release balances.
        await asyncio.shield(asyncio.ensure_future(take_back()))

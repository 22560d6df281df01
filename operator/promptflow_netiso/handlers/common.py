"""What every kind's handlers share: the Azure facade from memo, the control annotation, error -> retry mapping."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
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


_slots: dict[str, asyncio.Semaphore] = {}
# The slots this task's reconcile holds right now (a list: slot_released empties it, so reconcile_slot releases only
# what is still held), with the task that holds them: a task started inside the reconcile (a batch's drain) inherits
# the context variable, and must not give its parent's slots away.
_held: contextvars.ContextVar[tuple[asyncio.Task | None, list[asyncio.Semaphore]]] = contextvars.ContextVar(
    "promptflow_netiso_slot")


@contextlib.asynccontextmanager
async def reconcile_slot(settings: Settings) -> AsyncIterator[None]:
    """At most `max_reconciles` reconciles at once (each holds decoded Azure answers and a Kubernetes request or two),
    so applying 11,000 objects at once costs a bounded amount of memory; taken around the part that talks to Azure.
    Drift checks (background) take at most half of the slots: a change a person made always finds one."""
    total = settings.max_reconciles
    if total <= 0:
        yield
        return
    every = _slots.setdefault("all", asyncio.Semaphore(total))
    wanted = [every]
    if in_background():
        wanted.insert(0, _slots.setdefault("background", asyncio.Semaphore(max(1, total // 2))))
    held: list[asyncio.Semaphore] = []
    try:
        for sem in wanted:
            await sem.acquire()
            held.append(sem)
        token = _held.set((asyncio.current_task(), held))
        try:
            yield
        finally:
            _held.reset(token)
    finally:
        for sem in reversed(held):
            sem.release()
        held.clear()


@contextlib.asynccontextmanager
async def slot_released() -> AsyncIterator[None]:
    """Give this reconcile's slot back for good while it waits for work others share (a rule's batchOutboundRules
    operation runs for minutes in Azure: handlers/rule_batch.py). Waiting holds no decoded answers, and held slots
    would keep the other rules of the batch from joining it. It is not taken back after: what is left (a connection
    read, a status write) is short, and with ARM's throttling queueing for a slot again kept about 1,400 finished rules
    of an 11,000-object converge waiting, each with its whole reconcile, behind rules that had not started."""
    owner, held = _held.get((None, []))
    if owner is asyncio.current_task():
        for sem in reversed(held):
            sem.release()
        held.clear()
    yield

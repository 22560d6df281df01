"""Rule operations of one workspace go through one queue: creates and updates coalesced into batchOutboundRules
POSTs, deletes one DELETE each in their turn; one operation at a time per workspace (planning/rule_batch.py
decides; this module does the I/O).

A rule handler records its intent (status.pendingWrite) and then calls `write()`, which waits until the rule's
batch has ended and returns the rule as Azure answered (or raises the AzureError its batch got). One worker task per
workspace with queued writes. The first write to an idle workspace says how many other rules of that workspace
are known to be about to write (`companions`: seen by kopf with a spec not yet handled, e.g. applied together with
it); it waits up to `GATHER_S` for those to join, and not at all when there are none, so one changed rule reaches
Azure within milliseconds. The worker sends one POST with up to `Settings.rule_batch_size` writes, follows that
operation (minutes in Azure) while the next writes queue up, and repeats; it ends when the queue is empty.

- The workspace lock (azure/limits.py) is held for the send only, never for a whole operation: this queue is what
  serialises a workspace's rule operations.
- Each write's record turns into {operation: POST, target: the rule, bodyHash, pollUrl: the batch's} as soon as Azure
  accepted the batch, so a restarted operator recognises the rule as its own (same target and hash), posts its
  Event once, and asks the recorded operation URL before writing again (handlers/outbound_rule.py).
- Azure refusing a batch body (400) sends its writes one PUT each, so one bad rule fails alone; a batch endpoint
  Azure does not offer (404/405, unknown API) makes that workspace use one PUT per rule from then on.
- `rule_batch_size` 1 is the old behaviour: one PUT per rule, still one operation at a time per workspace.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any, Awaitable, Callable

from ..azure import limits
from ..azure.errors import AzureError, ErrorKind
from ..planning import rule_batch as planning
from ..planning.outbound_rule import Coordinates

log = logging.getLogger(__name__)

# The longest the first write of an idle workspace waits for its companions (rules applied together arrive within it).
GATHER_S = 0.5

Accepted = Callable[[str | None, str], Awaitable[None]]  # (operation URL, "PUT" | "POST") once Azure accepted


@dataclasses.dataclass
class _Write:
    name: str
    properties: dict
    on_accepted: Accepted | None
    done: asyncio.Future
    delete: bool = False
    companions: int = 0  # other writes of this workspace known to be on their way (only the first one's counts)


@dataclasses.dataclass
class _Queue:
    writes: list[_Write] = dataclasses.field(default_factory=list)
    worker: asyncio.Task | None = None
    arrived: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


# (facade, workspace) with writes queued or in flight: one queue per Azure identity too (a namespace's own identity,
# docs/tenancy.md), so a batch is only ever sent with the credentials of the handlers that queued its writes.
_queues: dict[tuple[int, tuple[str, str, str]], _Queue] = {}
_single: set[tuple[str, str, str]] = set()  # workspaces where Azure does not offer the batch: one PUT per rule


def _key(c: Coordinates) -> tuple[str, str, str]:
    return c.subscription_id.lower(), c.resource_group.lower(), c.workspace_name.lower()


def _queue_key(azure: Any, c: Coordinates) -> tuple[int, tuple[str, str, str]]:
    return id(azure), _key(c)  # the queue's worker holds `azure` while the key exists, so the id is not reused


async def write(azure: Any, coords: Coordinates, name: str, properties: dict, *, batch_size: int,
                on_accepted: Accepted | None = None, companions: int = 0) -> Any:
    """Create or update rule `name` of the workspace at `coords` (its intent already recorded); returns the rule as
    Azure answered once its operation ended. `companions`: other rules of the workspace about to write too."""
    item = _Write(name, dict(properties), on_accepted, asyncio.get_running_loop().create_future(),
                  companions=companions)
    return await _enqueue(azure, coords, item, batch_size)


async def delete(azure: Any, coords: Coordinates, name: str) -> None:
    """Delete rule `name` (its intent already recorded) in its turn among the workspace's rule operations: never
    batched (the batch cannot delete), never sent while one of our batches runs on the same managed network."""
    await _enqueue(azure, coords, _Write(name, {}, None, asyncio.get_running_loop().create_future(), delete=True), 1)


async def _enqueue(azure: Any, coords: Coordinates, item: _Write, batch_size: int) -> Any:
    key = _queue_key(azure, coords)
    queue = _queues.get(key)
    if queue is None:
        queue = _queues[key] = _Queue()
    queue.writes.append(item)
    queue.arrived.set()
    if queue.worker is None or queue.worker.done():
        queue.worker = asyncio.create_task(_drain(azure, coords, queue, batch_size), name=f"rule-batch:{item.name}")
    return await asyncio.shield(item.done)  # a cancelled handler does not cancel the operation the others share


async def _drain(azure: Any, coords: Coordinates, queue: _Queue, batch_size: int) -> None:
    limits.foreground()  # the task copied its first caller's context: a drift check's would pace every batch after
    try:
        await _gather(queue)
        while queue.writes:
            batch, queue.writes = planning.take(queue.writes, 1 if _key(coords) in _single else batch_size)
            try:
                if batch[0].delete:
                    await _delete(azure, coords, batch[0])
                elif len(batch) == 1:
                    await _put(azure, coords, batch[0])
                else:
                    await _post(azure, coords, batch)
            except Exception as err:  # a bug must not leave the batch's handlers waiting forever
                log.exception("workspace %s: rule batch failed", coords.workspace_name)
                for item in batch:
                    _settle(item, error=err)
    finally:
        if not queue.writes:
            _queues.pop(_queue_key(azure, coords), None)
        elif queue.worker is asyncio.current_task():  # cancelled with writes left: fail them rather than hang
            for item in queue.writes:
                _settle(item, error=AzureError(status=0, code="Cancelled", message="the rule write queue stopped",
                                               kind=ErrorKind.TRANSIENT, operation="outboundRule.batch"))
            _queues.pop(_queue_key(azure, coords), None)


async def _gather(queue: _Queue) -> None:
    """Wait (at most GATHER_S) for the first write's companions to join it; not at all when it has none."""
    await asyncio.sleep(0)  # writes queued in the same turn of the loop go together
    first = queue.writes[0]
    if first.delete or not first.companions:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GATHER_S
    while len(queue.writes) <= first.companions and (left := deadline - loop.time()) > 0:
        queue.arrived.clear()
        try:
            await asyncio.wait_for(queue.arrived.wait(), left)
        except TimeoutError:
            return


async def _put(azure: Any, coords: Coordinates, item: _Write) -> None:
    async def accepted(url: str | None) -> None:
        if item.on_accepted is not None:
            await item.on_accepted(url, "PUT")
    try:
        rule = await azure.ml.put_outbound_rule(*coords.as_tuple(), item.name, item.properties, on_accepted=accepted)
    except Exception as err:  # Azure's answer, or a bug: the handler sees it, the queue goes on
        _settle(item, error=err)
    else:
        _settle(item, rule=rule)


async def _delete(azure: Any, coords: Coordinates, item: _Write) -> None:
    try:
        await azure.ml.delete_outbound_rule(*coords.as_tuple(), item.name)
    except Exception as err:
        _settle(item, error=err)
    else:
        _settle(item)


async def _post(azure: Any, coords: Coordinates, batch: list[_Write]) -> None:
    async def accepted(url: str | None) -> None:
        async def record(item: _Write) -> None:
            try:
                await item.on_accepted(url, "POST")
            except Exception as err:  # best effort, like any poll URL record
                log.warning("rule %s: could not record the batch operation URL: %s", item.name, err)
        # All at once: the window in which a crash leaves a rule of a running batch without its operation URL is
        # one status patch, not one per rule of the batch.
        await asyncio.gather(*(record(i) for i in batch if i.on_accepted is not None))
    try:
        answered = await azure.ml.post_outbound_rules(*coords.as_tuple(), planning.body_rules(batch), on_accepted=accepted)
    except AzureError as err:
        choice = planning.after_failure(err.status, err.code or "", err.kind is ErrorKind.USER_FIXABLE, len(batch))
        if choice is planning.Fallback.FAIL:
            for item in batch:
                _settle(item, error=err)
            return
        if choice is planning.Fallback.UNSUPPORTED:
            log.warning("workspace %s: batchOutboundRules not available (%s); writing rules one PUT each",
                        coords.workspace_name, err)
            _single.add(_key(coords))
        for item in batch:  # nothing of the refused batch landed: each rule on its own
            await _put(azure, coords, item)
        return
    found = planning.match([i.name for i in batch], answered)
    missing = [i for i in batch if found[i.name.lower()] is None]
    if missing:  # the answer did not list them (an empty or paged final state): read them
        try:
            listed = {r.name.lower(): r for r in await azure.ml.list_outbound_rules(*coords.as_tuple())}
        except AzureError as err:
            listed = {}
            log.warning("workspace %s: could not read the rules of a finished batch: %s", coords.workspace_name, err)
        found.update({i.name.lower(): listed.get(i.name.lower()) for i in missing})
    for item in batch:
        rule = found[item.name.lower()]
        if rule is None:
            _settle(item, error=AzureError(
                status=404, code="OutboundRuleNotFound",
                message=f"outbound rule {item.name} is not in Azure right after its batch operation succeeded",
                kind=ErrorKind.CONFLICT, operation="outboundRule.batch"))
        else:
            _settle(item, rule=rule)


def _settle(item: _Write, *, rule: Any = None, error: BaseException | None = None) -> None:
    if item.done.done():
        return
    if error is not None:
        item.done.set_exception(error)
        item.done.add_done_callback(lambda f: f.exception())  # retrieved even if its handler was cancelled
    else:
        item.done.set_result(rule)

"""Four scale fixes inside kopf 1.45 (issue 13), and one hook, installed at import, before `kopf.run` builds anything.

1. The start-up gate is linear, not quadratic. kopf holds every object's handlers until all indexes are populated:
   each object's worker drops its own toggle from one shared `ToggleSet` and then waits on that set's condition.
   `make_toggle`/`drop_toggle` call `notify_all()` on every change, so each of N objects wakes every waiting worker.
   A waiter only waits for `is_on()` to reach a state, so waking it is useful only when `is_on()` changes: adding or
   dropping a toggle now notifies on that edge only. `Toggle.turn_to` (peering pauses) is left as it is.

2. Bodies are trimmed as the watch stream yields them, before kopf queues them. Two parts of a body are never read
   by kopf or by us and are most of its size: `metadata.managedFields` (about 12 of the 21 KB a converged
   OutboundRule takes as Python objects) and kubectl's last-applied-configuration annotation (GitOps tools keep a
   second copy of the spec there; kopf's own diff base already ignores it). A kind whose bodies kopf keeps (it has
   a timer) gets a compact copy (`bodies_kept`).

3. Listed objects that need nothing are indexed and done: they neither wait at the index gate nor go through
   kopf's cause machinery. At start kopf holds every listed object at the gate (its body, a task and its frames:
   about 19 KB each), then runs each through cause detection, filter evaluation and progress storage even when no
   handler, daemon or timer will run for it: for 10,000 converged OutboundRules that set the peak memory and was a
   third of a restart's CPU, all before a change made meanwhile got its turn. A kind registers a predicate
   (`settled_at_listing`): its own word that in that state none of its resume handlers, daemons or timers would run.
   kopf's own checks decide the rest: the listing event only, finalizer in place, no deletion, no progress stored,
   and the same essence as last handled (a spec, label or annotation changed while the operator was down still goes
   through kopf's update handlers). Those are settled inside their kind's watch stream, before kopf's watcher gives
   them a worker, a queue and a toggle of the gate. Every other listed object (of any kind) is indexed straight and
   drops its toggle at once before kopf processes it, rules a few at a time (`_paced`). After kopf processed
   any event, the object's body is let go unless a daemon or timer of its own runs (kopf kept it for every object
   of a kind that has any).

4. A cause's kwargs come from field names cached per class. kopf builds every handler's kwargs (index handlers
   included, for every object at start) with `dataclasses.fields()`, which rebuilds its tuple on every call: 17% of
   a restart's CPU at 11,000 objects.

5. The operator's pause (leader election, `--peering`) is visible to our own tasks. kopf stops its daemons and timers
   while a peer leads; tasks of ours that act without a kopf handler (handlers/rule_waiting.py) wait on
   `until_leading()`. kopf keeps the pause in a local `ToggleSet` that it hands to its daemon killer: that call is
   where we see it.

Also `raw(body)`: the plain dict under a kopf Body, for a handler that reads many fields of every listed object.

pyproject.toml pins kopf to 1.45.x; tests/unit/test_kopf_patches.py fails if these internals change.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import logging
import time
import weakref
from typing import Any, AsyncIterator, Callable, Iterable, Mapping

from kopf._cogs.aiokits import aiotoggles
from kopf._cogs.clients import watching
from kopf._cogs.structs import bodies, diffs, finalizers, patches
from kopf._core.actions import execution, loggers
from kopf._core.engines import daemons, indexing
from kopf._core.intents import causes, registries
from kopf._core.reactor import processing, queueing

from ..compact import compact

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

log = logging.getLogger(__name__)


# --- 1. the start-up gate --------------------------------------------------------------------------------------------


async def _make_toggle(self: aiotoggles.ToggleSet, __val: bool = False, *, name: str | None = None) -> aiotoggles.Toggle:
    toggle = aiotoggles.Toggle(__val, name=name, condition=self._condition)
    async with self._condition:
        before = self.is_on()
        self._toggles.add(toggle)
        if self.is_on() != before:
            self._condition.notify_all()
    return toggle


async def _drop_toggles(self: aiotoggles.ToggleSet, toggles: Iterable[aiotoggles.Toggle]) -> None:
    async with self._condition:
        before = self.is_on()
        self._toggles.difference_update(toggles)
        if self.is_on() != before:
            self._condition.notify_all()
            if self._fn is all:  # kopf's only `all` set is its index gate (operator_indexed)
                _gate_opened()


_STARTED = time.monotonic()  # at import: within a second of the process start
_gate_opened_once = False


def _gate_opened() -> None:
    """Say when handlers start: the time to the first handler after a restart, for people and benchmarks."""
    global _gate_opened_once
    level = logging.DEBUG if _gate_opened_once else logging.INFO  # later openings: a namespace's watch started
    _gate_opened_once = True
    log.log(level, "Every index is complete: handlers start (%.1f s after start).", time.monotonic() - _STARTED)


async def _drop_toggle(self: aiotoggles.ToggleSet, toggle: aiotoggles.Toggle) -> None:
    await _drop_toggles(self, (toggle,))


# --- 2. trimmed bodies -----------------------------------------------------------------------------------------------


def trim(body: Any) -> None:
    """Drop, in place, what nobody reads from an object kopf is about to keep."""
    meta = body.get("metadata") if isinstance(body, dict) else None
    if not isinstance(meta, dict):
        return
    meta.pop("managedFields", None)
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)


_kept: set[str] = set()  # plurals whose last body kopf keeps for each object's lifetime


def bodies_kept(plural: str) -> None:
    """kopf keeps the last body of every object of this kind (it has a timer): give it a compact copy of each event's
    object, whose keys and short strings are shared with the others' (compact.py). The copy costs time on every
    event, so kinds whose bodies kopf lets go (10,000 OutboundRules) are not copied."""
    _kept.add(plural)


def _trimming(watch: Any) -> Any:
    """Trim each object as the watch stream (the start-up listing included) yields it, before kopf queues it: at
    start, thousands of listed objects wait in kopf's queues for the index gate, and untrimmed they made the peak
    (about 21 KB each for a rule), whose freed memory the allocator could not give back."""
    @functools.wraps(watch)
    async def continuous_watch(**kwargs: Any) -> AsyncIterator[Any]:
        stream = watch(**kwargs)
        kept = getattr(kwargs.get("resource"), "plural", None) in _kept
        listing = _listing.get()
        try:
            async for item in stream:
                if isinstance(item, dict):
                    trim(item.get("object"))
                    if listing is not None and item.get("type") is None and await _settled_in_stream(listing, item):
                        continue  # indexed and done: kopf's watcher never sees it
                    if kept and isinstance(item.get("object"), dict):
                        item["object"] = compact(item["object"])
                yield item
        finally:
            await stream.aclose()
    continuous_watch.trims_bodies = True  # type: ignore[attr-defined]
    return continuous_watch


# --- 3. listed objects that need nothing -----------------------------------------------------------------------------


_settled: dict[str, Callable[[bodies.Body], bool]] = {}  # plural -> "no resume handler, daemon or timer would run"


def settled_at_listing(plural: str, predicate: Callable[[bodies.Body], bool]) -> None:
    _settled[plural] = predicate


def nothing_to_do(*, registry: Any, settings: Any, resource: Any, raw_event: Any, body: bodies.Body, memory: Any,
                  patch: Any, **_: Any) -> bool:
    """Whether kopf would run nothing for this event (see 3. above); cheap checks first."""
    predicate = _settled.get(resource.plural)
    if predicate is None or raw_event.get("type") is not None or memory.fully_handled_once or patch:
        return False
    if registry._watching.has_handlers(resource=resource):
        return False
    if finalizers.is_deletion_ongoing(body=body):
        return False
    if not finalizers.is_deletion_blocked(body=body, finalizer=settings.persistence.finalizer):
        return False
    if ((body.get("status") or {}).get("kopf") or {}).get("progress"):
        return False
    if not predicate(body):
        return False
    storage = settings.persistence.diffbase_storage
    old = storage.fetch(body=body)
    if old is None:
        return False  # never handled: a create
    new = _essence(storage, body, _per_kind(registry, resource, "extra_fields", lambda: (
        registry._watching.get_extra_fields(resource=resource) |
        registry._changing.get_extra_fields(resource=resource) |
        registry._spawning.get_extra_fields(resource=resource))))
    if "status" in old or "status" in new:  # kopf's progress (status.kopf.progress) is no part of the essence
        progress = settings.persistence.progress_storage
        old, new = progress.clear(essence=old), progress.clear(essence=new)
    return not diffs.diff(old, new)


def _essence(storage: Any, body: bodies.Body, extra_fields: Any) -> Any:
    """kopf's diff-base essence of a body (spec, labels, annotations but kubectl's copy), read off the body for a
    comparison: kopf's `build` deep-copies the whole body, its status and metadata included, only to drop them (a
    tenth of a restart's CPU at 11,000 objects). kopf's own build wherever it does more: extra or ignored fields, or
    annotation names with a prefix (it drops other kopf operators')."""
    src = raw(body)
    if extra_fields or storage.ignored_fields:
        return storage.build(body=body, extra_fields=extra_fields)
    meta = src.get("metadata") or {}
    annotations = {key: value for key, value in (meta.get("annotations") or {}).items() if key != LAST_APPLIED}
    essence = {key: value for key, value in src.items() if key not in ("apiVersion", "kind", "metadata", "status")}
    if any("/" in key for key in annotations):
        essence["metadata"] = {key: meta[key] for key in ("labels", "annotations") if key in meta}
        return storage.build(body=bodies.Body(essence))
    metadata = {key: value for key, value in (("labels", meta.get("labels")), ("annotations", annotations)) if value}
    if metadata:
        essence["metadata"] = metadata
    return essence


_by_kind: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def _per_kind(registry: Any, resource: Any, what: str, compute: Callable[[], Any]) -> Any:
    """What a kind's registered handlers say, the same for each of its objects: computed once per kind, again only if
    handlers are added."""
    count = sum(len(r._handlers) for r in (registry._indexing, registry._watching, registry._changing,
                                             registry._spawning))
    cache = _by_kind.setdefault(registry, {})
    hit = cache.get((what, resource))
    if hit is None or hit[0] != count:
        hit = cache[(what, resource)] = (count, compute())
    return hit[1]


def _index_handlers(registry: Any, resource: Any) -> tuple | None:
    """A kind's index handlers when none has a filter (labels, annotations, field or when): they then match each of
    its objects, and kopf's matching of every handler against every object is skipped. None when one has a filter."""
    matching = [h for h in registry._indexing._handlers if h.selector is None or h.selector.check(resource)]
    if any(h.labels or h.annotations or h.field or h.when is not None for h in matching):
        return None
    return tuple(registries._deduplicated(matching))


async def _index(registry: Any, indexers: Any, resource: Any, body: bodies.Body, memory: Any, logger: Any) -> bool:
    """kopf's index_resource for a listed object, with its index handlers called straight: kopf's per-handler state
    machine (progress, context variables, retries) is for handlers that can fail and be retried, and was a fifth of
    a restart's CPU at 10,000 rules. False (kopf's own path then) when a handler has a retry pending, is not a
    coroutine, or raises."""
    if memory.indexing_memory.indexing_state is not None:
        return False
    cause = causes.IndexingCause(resource=resource, indices=indexers.indices, logger=logger, patch=patches.Patch(),
                                 memo=memory.memo, body=body)
    handlers = _per_kind(registry, resource, "index_handlers", lambda: _index_handlers(registry, resource))
    if handlers is None:
        handlers = registry._indexing.get_handlers(cause=cause)
    if not all(asyncio.iscoroutinefunction(handler.fn) for handler in handlers):
        return False
    outcomes, kwargs = {}, cause.kwargs
    for handler in handlers:
        outcomes[handler.id] = execution.Outcome(final=True, result=await handler.fn(**kwargs))
    indexers.replace(body=body, outcomes=outcomes)
    return True


def _release_idle_body(memories: Any, raw_body: Any) -> None:
    """kopf keeps an object's latest body for its daemons and timers (`live_fresh_body`) from its first event on, for
    every object of a kind that has any, and frees it only when a daemon stops for good. With none running for this
    object nobody reads it, and kopf sets it again before it spawns one: 10,000 OutboundRules (whose kind has the
    waiting daemon) kept every body after converging."""
    memory = memories._items.get(memories._build_key(raw_body))
    if memory is not None and not memory.daemons_memory.running_daemons:
        memory.daemons_memory.live_fresh_body = None


def _listed_settled_first(process: Any) -> Any:
    """A listed object that needs nothing (nothing_to_do) is remembered and indexed as kopf would, drops its toggle of
    the index gate, and is done: it does not wait at the gate, since no handler runs for it. Everything else goes
    through kopf's own processing, after which a body no daemon or timer needs is let go."""
    @functools.wraps(process)
    async def process_resource_event(**kwargs: Any) -> Any:
        try:
            return await _process_resource_event(**kwargs)
        finally:
            _release_idle_body(kwargs["memories"], kwargs["raw_event"]["object"])

    async def _process_resource_event(**kwargs: Any) -> Any:
        raw_event = kwargs["raw_event"]
        if raw_event.get("type") is not None:
            return await process(**kwargs)
        memory = await kwargs["memories"].recall(raw_event["object"], noticed_by_listing=True,
                                                 memobase=kwargs["memobase"])
        operator_indexed, resource_indexed = kwargs.get("operator_indexed"), kwargs.get("resource_indexed")
        if kwargs["resource"].plural in _settled and await _done_at_listing(kwargs, raw_event, memory):
            await _open_own_gate(operator_indexed, resource_indexed)
            return None
        return await _paced(process, kwargs, memory, operator_indexed, resource_indexed)
    process_resource_event.settled_first = True  # type: ignore[attr-defined]
    return process_resource_event


async def _done_at_listing(kw: Mapping[str, Any], raw_event: Any, memory: Any) -> bool:
    """Index a listed object that needs nothing (nothing_to_do) as kopf would and mark it handled; False, with
    nothing done that kopf's own processing would not redo, for any other. kopf's processing stays outside: it must
    never run twice for one event."""
    body, settings = bodies.Body(raw_event["object"]), kw["settings"]
    try:
        done = memory.daemons_memory.live_fresh_body is None and nothing_to_do(
            registry=kw["registry"], settings=settings, resource=kw["resource"], raw_event=raw_event, body=body,
            memory=memory, patch=None) and await _index(kw["registry"], kw["indexers"], kw["resource"], body, memory,
                                                        loggers.TerseObjectLogger(body=body, settings=settings))
    except Exception:  # kopf's own path logs it, throttles it and still opens the gate
        return False
    if done:
        memory.fully_handled_once = True  # as kopf marks it after a resume with no handler to run
    return done


# The arguments kopf's watcher of a kind gives each object's processing, seen by that watcher's own watch stream
# (the same task): there, a listed object that needs nothing is done before kopf's watcher sees it.
_listing: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar("listing", default=None)


def _done_in_stream(watcher: Any) -> Any:
    """kopf's watcher, whose watch stream settles listed objects that need nothing itself (_done_at_listing). kopf
    would give each one a worker task, a queue, a toggle of the index gate and an idle timer only to find nothing to
    do: a quarter of a restart's CPU at 11,000 objects, all before the gate opened. The kind's own toggle of the gate
    stays closed until its listing ends, as before."""
    @functools.wraps(watcher)
    async def watcher_settling_listed(**kwargs: Any) -> None:
        keywords = _bound(kwargs.get("processor"))
        if "memories" in keywords and getattr(keywords.get("resource"), "plural", None) in _settled:
            _listing.set(keywords)  # this task's context: the watcher and the stream it iterates
        await watcher(**kwargs)
    watcher_settling_listed.settles_listed = True  # type: ignore[attr-defined]
    return watcher_settling_listed


def _bound(fn: Any) -> dict[str, Any]:
    """The keyword arguments bound to a function by (nested) functools.partial."""
    bound: dict[str, Any] = {}
    while isinstance(fn, functools.partial):
        bound = {**fn.keywords, **bound}
        fn = fn.func
    return bound


async def _settled_in_stream(listing: Mapping[str, Any], item: Any) -> bool:
    memory = await listing["memories"].recall(item["object"], noticed_by_listing=True, memobase=listing["memobase"])
    return await _done_at_listing(listing, item, memory)


async def _open_own_gate(operator_indexed: Any, resource_indexed: Any) -> None:
    if operator_indexed is not None and resource_indexed is not None:
        await operator_indexed.drop_toggle(resource_indexed)


# Listed objects with work to do that go through kopf's processing at once. Their first step is a finalizer or
# status patch on the capped API server connections (kube_session.py): a few dozen keep those busy.
LISTED_AT_ONCE = 64
_listed_slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}  # one operator loop (tests run several)
_indexed_ahead: contextvars.ContextVar[Any] = contextvars.ContextVar("indexed_ahead", default=None)


async def _paced(process: Any, kwargs: dict, memory: Any, operator_indexed: Any, resource_indexed: Any) -> Any:
    """A listed object with work to do is indexed and drops its toggle of the gate at once (kopf's own indexing of
    that event is then skipped); kopf processes it afterwards. A rule (a kind with a settled-at-listing predicate:
    never handled, or left mid-way by the last process) first waits for one of LISTED_AT_ONCE slots. Without
    this, every such object went through kopf's processing as soon as the gate opened: at 10,000 OutboundRules
    created before the operator started, 10,000 sets of kopf's per-event machinery (patch, loggers, causes, a
    request) queued for the API server at once, and the peak RSS doubled (docs/scale.md). Waiting, an object holds
    its kopf worker and a compact copy of its body. Workspaces do not wait for a slot: their handlers hold it
    while they wait for Azure. Objects that cannot be indexed here go kopf's own way."""
    raw_event = kwargs["raw_event"]
    body = bodies.Body(raw_event["object"])
    try:
        indexed = memory.daemons_memory.live_fresh_body is None and await _index(
            kwargs["registry"], kwargs["indexers"], kwargs["resource"], body, memory,
            loggers.TerseObjectLogger(body=body, settings=kwargs["settings"]))
    except Exception:  # kopf's own path logs it, throttles it and opens the gate
        indexed = False
    if not indexed:
        return await process(**kwargs)
    await _open_own_gate(operator_indexed, resource_indexed)
    del body
    token = _indexed_ahead.set(raw_event)
    try:
        if kwargs["resource"].plural not in _settled:
            return await process(**kwargs)
        raw_event["object"] = compact(raw_event["object"])  # kept while it waits: strings shared with the others'
        loop = asyncio.get_running_loop()
        if loop not in _listed_slots:
            _listed_slots.clear()
            _listed_slots[loop] = asyncio.Semaphore(LISTED_AT_ONCE)
        async with _listed_slots[loop]:
            return await process(**kwargs)
    finally:
        _indexed_ahead.reset(token)


def _skipping_indexed_ahead(index_resource: Any) -> Any:
    """kopf's index_resource, skipped for the event _paced has just indexed (its index handlers ran once)."""
    @functools.wraps(index_resource)
    async def index_once(**kwargs: Any) -> None:
        if kwargs.get("raw_event") is not None and kwargs["raw_event"] is _indexed_ahead.get():
            return
        await index_resource(**kwargs)
    index_once.skips_indexed_ahead = True  # type: ignore[attr-defined]
    return index_once


# --- 4. cause kwargs ---------------------------------------------------------------------------------------------------


_field_names: dict[type, tuple[str, ...]] = {}


def _cause_kwargs(self: Any) -> dict[str, Any]:
    """kopf's `Cause._kwargs` (every dataclass field, not recursive), with the field names cached per class."""
    names = _field_names.get(type(self))
    if names is None:
        names = _field_names[type(self)] = tuple(f.name for f in dataclasses.fields(self))
    return {name: getattr(self, name) for name in names}


def raw(body: Any) -> Mapping:
    """The plain dict under a kopf Body (kopf's own, replaced on each event; read it, never change it). Each read
    through a kopf view resolves its path from the root: a handler that reads many fields of every listed object
    (the rules index, at start) reads the dict."""
    src = getattr(body, "_src", body)
    return src if isinstance(src, dict) else body


# --- 5. the operator's pause ------------------------------------------------------------------------------------------


_paused: list[aiotoggles.ToggleSet] = []  # the running operator's pause toggles (one operator per process)


def _seeing_pause(killer: Any) -> Any:
    @functools.wraps(killer)
    async def daemon_killer(*, operator_paused: aiotoggles.ToggleSet, **kw: Any) -> None:
        _paused[:] = [operator_paused]
        await killer(operator_paused=operator_paused, **kw)

    daemon_killer.sees_pause = True  # type: ignore[attr-defined]
    return daemon_killer


async def until_leading() -> None:
    """Return once the operator is not paused by a peer (at once without peering, or outside kopf)."""
    if _paused and _paused[0].is_on():
        await _paused[0].wait_for(False)


def install() -> None:
    aiotoggles.ToggleSet.make_toggle = _make_toggle  # type: ignore[method-assign]
    aiotoggles.ToggleSet.drop_toggle = _drop_toggle  # type: ignore[method-assign]
    aiotoggles.ToggleSet.drop_toggles = _drop_toggles  # type: ignore[method-assign]
    if not getattr(watching.continuous_watch, "trims_bodies", False):
        watching.continuous_watch = _trimming(watching.continuous_watch)
    execution.Cause._kwargs = property(_cause_kwargs)  # type: ignore[method-assign,assignment]
    if not getattr(processing.process_resource_event, "settled_first", False):
        processing.process_resource_event = _listed_settled_first(processing.process_resource_event)
    if not getattr(queueing.watcher, "settles_listed", False):
        queueing.watcher = _done_in_stream(queueing.watcher)
    if not getattr(indexing.index_resource, "skips_indexed_ahead", False):
        indexing.index_resource = _skipping_indexed_ahead(indexing.index_resource)
    if not getattr(daemons.daemon_killer, "sees_pause", False):
        daemons.daemon_killer = _seeing_pause(daemons.daemon_killer)


install()

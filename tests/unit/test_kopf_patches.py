"""kopf's start-up gate (every object waits until all indexes are populated) wakes waiters only when it opens."""

import asyncio

from kopf._cogs.aiokits import aiotoggles

from promptflow_netiso.handlers import kopf_patches  # installs the patches

N = 1000


async def _gate_with_waiters(count: int):
    gate = aiotoggles.ToggleSet(all)
    blocker = await gate.make_toggle(name="listing")
    toggles = [await gate.make_toggle(name=str(i)) for i in range(count)]
    checks = 0
    real_is_on = gate.is_on

    def counting_is_on() -> bool:
        nonlocal checks
        checks += 1
        return real_is_on()

    gate.is_on = counting_is_on  # type: ignore[method-assign]
    released: list[int] = []

    async def worker(i: int) -> None:
        await gate.drop_toggle(toggles[i])  # as kopf's worker does once its object is indexed
        await gate.wait_for(True)
        released.append(i)

    tasks = []
    for i in range(count):  # objects arrive one by one, as a listing's pages and watch events deliver them
        tasks.append(asyncio.create_task(worker(i)))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    return gate, blocker, tasks, released, lambda: checks


def test_objects_indexed_one_by_one_do_not_wake_every_waiting_object():
    async def scenario():
        gate, blocker, tasks, released, checks = await _gate_with_waiters(N)
        for _ in range(10):
            await asyncio.sleep(0)
        assert released == []  # the listing is not over: nobody runs handlers yet
        # Unpatched kopf re-checks the predicate in every waiter on every drop: about N^2 / 2 = 2,000,000 checks.
        assert checks() < 10 * N
        await gate.drop_toggle(blocker)  # the listing ends: the gate opens once, for everyone
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        assert sorted(released) == list(range(N))
        assert checks() < 20 * N

    asyncio.run(scenario())


def test_a_new_closed_toggle_closes_an_open_gate_and_dropping_it_reopens_it():
    async def scenario():
        gate = aiotoggles.ToggleSet(all)
        assert gate.is_on()
        toggle = await gate.make_toggle(name="late kind")
        assert gate.is_off()
        waiter = asyncio.create_task(gate.wait_for(True))
        await asyncio.sleep(0)
        assert not waiter.done()
        await gate.drop_toggles([toggle])
        await asyncio.wait_for(waiter, timeout=5)

    asyncio.run(scenario())


def test_kopf_keeps_no_managed_fields_and_no_last_applied_copy_of_an_object():
    from kopf._cogs.clients import watching

    assert getattr(watching.continuous_watch, "trims_bodies", False)  # what kopf's infinite_watch will call
    closed = []

    async def stream(**_):
        try:
            yield {"type": None, "object": {
                "metadata": {"name": "r", "managedFields": [{"manager": "kubectl"}],
                             "annotations": {kopf_patches.LAST_APPLIED: "{...}", "keep": "me"}},
                "spec": {"type": "FQDN"}}}
            yield "LISTED"  # kopf's bookmarks pass through
        finally:
            closed.append(True)

    async def consume():
        return [item async for item in kopf_patches._trimming(stream)(settings=None)]

    seen = asyncio.run(consume())
    assert seen == [{"type": None, "object": {"metadata": {"name": "r", "annotations": {"keep": "me"}},
                                               "spec": {"type": "FQDN"}}}, "LISTED"]
    assert closed == [True], "the wrapped stream is closed with its wrapper"
    kopf_patches.trim({"metadata": None})  # odd bodies pass through untouched
    kopf_patches.trim("not a body")


def test_a_kind_whose_bodies_kopf_keeps_gets_compact_copies_and_others_are_left_as_decoded():
    import json

    from kopf._cogs.structs import references

    from promptflow_netiso.handlers import workspace  # noqa: F401  registers its kind: it has timers
    from promptflow_netiso.model import GROUP, PLURAL_OUTBOUND_RULE, PLURAL_WORKSPACE, VERSION

    event = '{"type": "MODIFIED", "object": {"metadata": {"name": "a"}, "status": {"phase": "Ready"}}}'

    def resource(plural):
        return references.Resource(group=GROUP, version=VERSION, plural=plural)

    async def stream(**_):
        for _ in range(2):
            yield json.loads(event)  # each watch event is decoded on its own

    async def consume(plural):
        return [item async for item in kopf_patches._trimming(stream)(settings=None, resource=resource(plural))]

    one, two = asyncio.run(consume(PLURAL_WORKSPACE))
    assert one == json.loads(event)
    assert next(iter(one["object"]["status"])) is next(iter(two["object"]["status"])), "kept: keys shared"
    one, two = asyncio.run(consume(PLURAL_OUTBOUND_RULE))
    assert next(iter(one["object"]["status"])) is not next(iter(two["object"]["status"])), "let go: not copied"


# --- 3. listed objects that need nothing -----------------------------------------------------------------------------


def _rule_body(*, ready: bool = True, finalizer: bool = True, deleting: bool = False, spec_changed: bool = False,
               progress: bool = False) -> "kopf.Body":
    import kopf

    from promptflow_netiso.handlers.startup import FINALIZER

    raw = {"apiVersion": "netiso.promptflow.dev/v1alpha1", "kind": "OutboundRule",
           "metadata": {"name": "r", "namespace": "t-ns", "uid": "u-1", "generation": 1, "resourceVersion": "7",
                        "finalizers": [FINALIZER] if finalizer else []},
           "spec": {"workspaceRef": {"name": "ws"}, "type": "FQDN", "fqdn": "api.example.com"}}
    if deleting:
        raw["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    storage = kopf.StatusDiffBaseStorage(field="status.kopf.last-handled-configuration")
    patch = kopf.Patch()
    storage.store(body=kopf.Body(raw), patch=patch, essence=storage.build(body=kopf.Body(raw)))
    condition = {"type": "Ready", "status": "True" if ready else "False", "reason": "Ready" if ready else "Waiting",
                 "observedGeneration": 1}
    raw["status"] = {"observedGeneration": 1, "conditions": [condition], "kopf": dict(patch["status"]["kopf"])}
    if progress:
        raw["status"]["kopf"]["progress"] = {"reconcile_outbound_rule": {"started": "2026-01-01T00:00:00Z"}}
    if spec_changed:  # edited while the operator was down (a label would do the same)
        raw["spec"]["fqdn"] = "other.example.com"
    return kopf.Body(raw)


def _kwargs(body, event_type=None):
    import kopf
    from kopf._core.intents import registries
    from kopf._core.reactor import inventory
    from kopf._cogs.structs import references

    from promptflow_netiso.handlers import outbound_rule, startup  # noqa: F401  (registers the handlers)

    settings = kopf.OperatorSettings()
    startup.configure_kopf(settings)  # the operator's persistence: status.kopf, our finalizer
    resource = references.Resource("netiso.promptflow.dev", "v1alpha1", "outboundrules", namespaced=True)
    return dict(registry=registries.get_default_registry(), settings=settings, resource=resource,
                raw_event={"type": event_type, "object": dict(body)}, body=body,
                memory=inventory.ResourceMemory(), patch=kopf.Patch())


async def test_a_listed_converged_rule_needs_no_handler_so_it_is_indexed_and_done_without_waiting_at_the_gate():
    import logging

    import kopf
    from kopf._cogs.aiokits import aiotoggles
    from kopf._core.engines import indexing
    from kopf._core.intents import causes
    from kopf._core.reactor import inventory, processing

    kw = _kwargs(_rule_body())
    assert kopf_patches.nothing_to_do(**kw)
    # The predicate is the rule module's word: check it against what kopf itself would select.
    common = dict(resource=kw["resource"], indices={}, logger=logging.getLogger("t"), patch=kopf.Patch(),
                  body=kw["body"], memo=kopf.Memo())
    resume = causes.ChangingCause(reason=causes.Reason.RESUME, initial=True, old=None, new=None, diff=(), **common)
    spawn = causes.SpawningCause(reset=False, **common)
    registry = kw["registry"]
    assert registry._changing.get_handlers(cause=resume) == []
    assert registry._spawning.get_handlers(cause=spawn, excluded=set()) == []
    assert not registry._watching.has_handlers(resource=kw["resource"])

    assert getattr(processing.process_resource_event, "settled_first", False)  # what kopf.run() will call
    kopf_ran = []

    async def kopf_process(**_):
        kopf_ran.append(True)

    indexers = indexing.OperatorIndexers()
    indexers.ensure(registry._indexing.get_all_handlers())
    gate = aiotoggles.ToggleSet(all)
    mine = await gate.make_toggle(name="this object")
    others = await gate.make_toggle(name="objects still listed")
    memories = inventory.ResourceMemories()
    await kopf_patches._listed_settled_first(kopf_process)(
        lifecycle=None, indexers=indexers, registry=registry, settings=kw["settings"], memories=memories,
        memobase=kopf.Memo(), resource=kw["resource"], raw_event=kw["raw_event"], event_queue=None,
        resource_indexed=mine, operator_indexed=gate)
    assert kopf_ran == [], "done without kopf's processing, and without waiting for the gate"
    assert set(gate) == {others}, "its toggle of the gate is dropped"
    memory = await memories.recall(kw["raw_event"]["object"], memobase=kopf.Memo())
    assert memory.fully_handled_once, "its next event is an update, not a resume"
    (snapshot,) = indexers.indices["rules_by_workspace"][("t-ns", "ws")]
    assert snapshot["metadata"]["uid"] == "u-1" and snapshot["spec"]["fqdn"] == "api.example.com", "indexed"

    waiting = dict(kw, raw_event={"type": None, "object": dict(_rule_body(ready=False))})
    waiting["raw_event"]["object"]["metadata"]["uid"] = "u-2"  # another object, seen for the first time
    await kopf_patches._listed_settled_first(kopf_process)(
        lifecycle=None, indexers=indexers, registry=registry, settings=kw["settings"], memories=memories,
        memobase=kopf.Memo(), resource=kw["resource"], raw_event=waiting["raw_event"], event_queue=None)
    assert kopf_ran == [True], "a rule that needs something goes through kopf"


async def test_listed_rules_with_work_to_do_open_the_gate_at_once_then_go_through_kopf_a_few_at_a_time():
    """Rules created before the operator started: each is indexed as it is listed (the gate opens without waiting for
    kopf to process them), then kopf processes them at most LISTED_AT_ONCE at a time, each exactly once, and kopf's
    own indexing of that event is not run a second time."""
    import copy

    import kopf
    from kopf._cogs.aiokits import aiotoggles
    from kopf._core.engines import indexing
    from kopf._core.reactor import inventory

    kw = _kwargs(_rule_body())
    registry = kw["registry"]
    indexers = indexing.OperatorIndexers()
    indexers.ensure(registry._indexing.get_all_handlers())
    gate = aiotoggles.ToggleSet(all)
    count = kopf_patches.LISTED_AT_ONCE * 3
    toggles = [await gate.make_toggle(name=str(i)) for i in range(count)]
    running, most, processed = 0, 0, []
    go_on = asyncio.Event()

    async def kopf_process(**kwargs):
        nonlocal running, most
        # kopf's processing indexes the event first: skipped (called with nothing else, it would raise)
        assert await indexing.index_resource(raw_event=kwargs["raw_event"]) is None
        running += 1
        most = max(most, running)
        await go_on.wait()
        running -= 1
        processed.append(kwargs["raw_event"]["object"]["metadata"]["uid"])

    wrapped = kopf_patches._listed_settled_first(kopf_process)
    memories = inventory.ResourceMemories()
    tasks = []
    for i in range(count):
        raw = copy.deepcopy(dict(_rule_body()))
        raw["metadata"].update(uid=f"u-{i}", name=f"r-{i}", finalizers=[])  # never handled: kopf adds its finalizer
        del raw["status"]
        tasks.append(asyncio.create_task(wrapped(
            lifecycle=None, indexers=indexers, registry=registry, settings=kw["settings"], memories=memories,
            memobase=kopf.Memo(), resource=kw["resource"], raw_event={"type": None, "object": raw},
            event_queue=None, resource_indexed=toggles[i], operator_indexed=gate)))
    for _ in range(20):
        await asyncio.sleep(0)
    assert gate.is_on(), "every listed rule dropped its toggle before kopf processed it: the gate is open"
    assert len(indexers.indices["rules_by_workspace"][("t-ns", "ws")]) == count, "each indexed as it was listed"
    assert running == kopf_patches.LISTED_AT_ONCE, "the others wait for a slot"
    go_on.set()
    await asyncio.gather(*tasks)
    assert sorted(processed) == sorted(f"u-{i}" for i in range(count)), "each processed by kopf, once"
    assert most == kopf_patches.LISTED_AT_ONCE
    with_ahead = indexing.index_resource
    calls = []

    async def real_index(**kwargs):
        calls.append(kwargs)

    assert await kopf_patches._skipping_indexed_ahead(real_index)(raw_event={"type": "MODIFIED"}) is None
    assert len(calls) == 1 and with_ahead.skips_indexed_ahead, "other events are indexed by kopf as before"


async def test_listed_workspaces_open_the_gate_at_once_and_are_not_held_for_a_slot():
    """A listed workspace is indexed straight (kopf's own indexing of the event is skipped) and drops its toggle of
    the gate; kopf then processes it without waiting for a slot: a workspace's handlers hold one while they wait for
    Azure, and more workspaces than slots must not wait behind them."""
    import copy
    import dataclasses
    from pathlib import Path

    import kopf
    import yaml
    from kopf._cogs.aiokits import aiotoggles
    from kopf._core.engines import indexing
    from kopf._core.reactor import inventory

    from promptflow_netiso.handlers import workspace  # noqa: F401  (registers the workspace handlers)

    kw = _kwargs(_rule_body())
    registry = kw["registry"]
    resource = dataclasses.replace(kw["resource"], plural="promptflowworkspaces")
    indexers = indexing.OperatorIndexers()
    indexers.ensure(registry._indexing.get_all_handlers())
    sample = yaml.safe_load((Path(__file__).parents[2] / "crds/samples/promptflowworkspace.yaml").read_text())
    gate = aiotoggles.ToggleSet(all)
    count = kopf_patches.LISTED_AT_ONCE + 8
    toggles = [await gate.make_toggle(name=str(i)) for i in range(count)]
    running = 0
    go_on = asyncio.Event()

    async def kopf_process(**kwargs):
        nonlocal running
        assert await indexing.index_resource(raw_event=kwargs["raw_event"]) is None, "indexed once, ahead"
        running += 1
        await go_on.wait()

    wrapped = kopf_patches._listed_settled_first(kopf_process)
    memories = inventory.ResourceMemories()
    tasks = []
    for i in range(count):
        raw = copy.deepcopy(sample)
        raw["metadata"].update(uid=f"w-{i}", name=f"ws-{i}", namespace="t-ns")
        tasks.append(asyncio.create_task(wrapped(
            lifecycle=None, indexers=indexers, registry=registry, settings=kw["settings"], memories=memories,
            memobase=kopf.Memo(), resource=resource, raw_event={"type": None, "object": raw}, event_queue=None,
            resource_indexed=toggles[i], operator_indexed=gate)))
    for _ in range(20):
        await asyncio.sleep(0)
    assert gate.is_on(), "every listed workspace dropped its toggle before kopf processed it"
    assert len(indexers.indices["outbound_rule_workspaces"]) == count, "each indexed as it was listed"
    assert running == count, "none waits for a slot"
    go_on.set()
    await asyncio.gather(*tasks)


async def test_the_watch_stream_settles_listed_rules_that_need_nothing_so_kopfs_watcher_never_sees_them():
    """At start, a converged rule is indexed and marked handled inside its kind's watch stream: kopf's watcher (which
    would give it a worker, a queue and a toggle of the index gate) gets only the rules with work to do, the
    listing's end and later watch events."""
    import copy
    import dataclasses
    import functools

    import kopf
    from kopf._cogs.clients import watching
    from kopf._core.engines import indexing
    from kopf._core.reactor import inventory, queueing

    kw = _kwargs(_rule_body())
    registry = kw["registry"]
    indexers = indexing.OperatorIndexers()
    indexers.ensure(registry._indexing.get_all_handlers())
    memories = inventory.ResourceMemories()
    converged = copy.deepcopy(dict(_rule_body()))
    waiting = copy.deepcopy(dict(_rule_body(ready=False)))
    waiting["metadata"]["uid"] = "u-2"
    edited = copy.deepcopy(converged)
    edited["spec"]["fqdn"] = "other.example.com"

    async def api_stream(**_):
        for event in ({"type": None, "object": converged}, {"type": None, "object": waiting},
                      watching.Bookmark.LISTED, {"type": "MODIFIED", "object": edited}):
            yield event

    stream = kopf_patches._trimming(api_stream)
    seen = []

    async def kopfs_watcher(**kwargs):  # what kopf's watcher does with the stream: hand each event to a worker
        async for event in stream(resource=kw["resource"]):
            seen.append(event)

    async def kopf_process(**_):
        raise AssertionError("the watcher hands events to workers; not reached here")

    processor = functools.partial(functools.partial(kopf_process, registry=registry, settings=kw["settings"],
                                                    indexers=indexers, memories=memories, memobase=kopf.Memo()),
                                  resource=kw["resource"])
    assert getattr(queueing.watcher, "settles_listed", False), "installed where kopf's orchestrator calls it"
    await kopf_patches._done_in_stream(kopfs_watcher)(processor=processor, resource=kw["resource"])

    assert [e if isinstance(e, watching.Bookmark) else (e["type"], e["object"]["metadata"]["uid"]) for e in seen] == [
        (None, "u-2"), watching.Bookmark.LISTED, ("MODIFIED", "u-1")], "only the converged rule's listing is done"
    assert (await memories.recall(converged)).fully_handled_once, "its next event is an update, not a resume"
    assert not (await memories.recall(waiting)).fully_handled_once, "the waiting rule goes through kopf's resume"
    uids = {s["metadata"]["uid"] for s in indexers.indices["rules_by_workspace"][("t-ns", "ws")]}
    assert uids == {"u-1"}, "the converged rule is indexed; kopf indexes the other when its worker takes it"

    seen.clear()
    workspaces = dataclasses.replace(kw["resource"], plural="promptflowworkspaces")
    fresh = functools.partial(processor, memories=inventory.ResourceMemories(), resource=workspaces)
    await kopf_patches._done_in_stream(kopfs_watcher)(processor=fresh)
    assert len(seen) == 4, "a kind without a settled-at-listing predicate: every event reaches kopf's watcher"


async def test_kopf_still_handles_listed_rules_that_need_something():
    assert not kopf_patches.nothing_to_do(**_kwargs(_rule_body(), event_type="MODIFIED")), "a watch event"
    assert not kopf_patches.nothing_to_do(**_kwargs(_rule_body(ready=False))), "not converged: resume reconciles"
    assert not kopf_patches.nothing_to_do(**_kwargs(_rule_body(spec_changed=True))), "edited while down: update"
    assert not kopf_patches.nothing_to_do(**_kwargs(_rule_body(finalizer=False))), "kopf adds its finalizer"
    assert not kopf_patches.nothing_to_do(**_kwargs(_rule_body(deleting=True))), "the delete handler"
    assert not kopf_patches.nothing_to_do(**_kwargs(_rule_body(progress=True))), "a handler in progress"


async def test_the_essence_compared_at_listing_is_kopfs_own_and_index_handlers_are_kopfs_selection():
    """The cheaper essence build (no copy of metadata and status) gives what kopf's build gives, and the index
    handlers taken once per kind are the ones kopf selects for an object."""
    import copy

    import kopf
    from kopf._core.intents import causes

    kw = _kwargs(_rule_body())
    storage = kw["settings"].persistence.diffbase_storage
    raw = copy.deepcopy(dict(_rule_body(progress=True)))
    raw["metadata"]["labels"] = {"team": "a"}
    raw["metadata"]["annotations"] = {"note": "x", kopf_patches.LAST_APPLIED: "{}", "other.kopf.zalando.org/last": "y"}
    plain = copy.deepcopy(raw)
    plain["metadata"]["annotations"] = {"note": "x", kopf_patches.LAST_APPLIED: "{}"}
    empty = copy.deepcopy(raw)
    empty["metadata"].update(labels={}, annotations={kopf_patches.LAST_APPLIED: "{}"})
    for body in (kopf.Body(raw), kopf.Body(plain), kopf.Body(empty), _rule_body(), _rule_body(spec_changed=True)):
        assert kopf_patches._essence(storage, body, None) == storage.build(body=body)
    assert kopf_patches._essence(storage, kopf.Body(raw), None)["metadata"] == {
        "labels": {"team": "a"}, "annotations": {"note": "x"}}, "kopf drops last-applied and other kopf storages"

    registry, resource = kw["registry"], kw["resource"]
    cause = causes.IndexingCause(resource=resource, indices={}, logger=None, patch=kopf.Patch(), memo=kopf.Memo(),
                                 body=_rule_body())
    assert list(kopf_patches._index_handlers(registry, resource)) == registry._indexing.get_handlers(cause=cause)


async def test_cause_kwargs_are_kopfs_with_field_names_cached():
    import dataclasses

    import kopf
    from kopf._core.actions import execution
    from kopf._core.intents import causes

    body = _rule_body()
    kw = _kwargs(body)
    cause = causes.ChangingCause(reason=causes.Reason.UPDATE, initial=False, old=None, new=None, diff=(),
                                 resource=kw["resource"], indices={"some_index": {}}, logger=None,
                                 patch=kopf.Patch(), body=body, memo=kopf.Memo())
    assert execution.Cause._kwargs.fget is kopf_patches._cause_kwargs
    expected = {f.name: getattr(cause, f.name) for f in dataclasses.fields(cause)}
    for drop in ("indices", "reason", "webhook", "initial"):  # what kopf's subclasses remove on top
        expected.pop(drop, None)
    got = cause.kwargs
    assert {k: got[k] for k in expected} == expected
    assert got["name"] == "r" and got["some_index"] == {}, "subclasses still add theirs (and the indexes)"


async def test_a_body_is_let_go_after_processing_unless_a_daemon_or_timer_of_its_own_runs():
    import kopf
    from kopf._core.reactor import inventory

    memories = inventory.ResourceMemories()
    idle_raw = {"metadata": {"uid": "idle", "name": "a", "namespace": "n"}}
    busy_raw = {"metadata": {"uid": "busy", "name": "b", "namespace": "n"}}
    idle = await memories.recall(idle_raw)
    busy = await memories.recall(busy_raw)
    for memory, raw in ((idle, idle_raw), (busy, busy_raw)):
        memory.daemons_memory.live_fresh_body = kopf.Body(raw)
    busy.daemons_memory.running_daemons["wait_outbound_rule"] = object()

    seen = []

    async def kopf_process(**kwargs):
        seen.append(kwargs["raw_event"]["type"])

    wrapped = kopf_patches._listed_settled_first(kopf_process)
    for raw in (idle_raw, busy_raw, {"metadata": {"uid": "gone", "name": "c", "namespace": "n"}}):
        await wrapped(raw_event={"type": "MODIFIED", "object": raw}, memories=memories, settings=None,
                      resource=_kwargs(_rule_body())["resource"])
    assert seen == ["MODIFIED"] * 3
    assert idle.daemons_memory.live_fresh_body is None, "nobody reads it; kopf sets it again before a spawn"
    assert busy.daemons_memory.live_fresh_body is not None, "its daemon reads it"
    assert "gone" not in {m for m in memories._items}, "no memory made up for an object kopf forgot"


async def test_kopfs_processing_runs_once_even_when_it_raises():
    import kopf
    from kopf._core.reactor import inventory

    kw = _kwargs(_rule_body(ready=False))  # needs something: kopf's own path
    calls = []

    async def kopf_process(**_):
        calls.append(True)
        raise RuntimeError("the API server went away")

    try:
        await kopf_patches._listed_settled_first(kopf_process)(
            registry=kw["registry"], settings=kw["settings"], resource=kw["resource"], raw_event=kw["raw_event"],
            memories=inventory.ResourceMemories(), memobase=kopf.Memo(), indexers=None)
    except RuntimeError:
        pass
    assert calls == [True], "not run a second time after its own error"


async def test_the_operators_pause_is_seen_where_kopf_hands_it_to_its_daemon_killer():
    import kopf
    from kopf._core.engines import daemons
    from kopf._core.reactor import inventory, running

    assert running.daemons.daemon_killer is daemons.daemon_killer, "kopf calls the killer through the module"
    paused = aiotoggles.ToggleSet(any)
    peer_leads = await paused.make_toggle(True)
    killer = asyncio.create_task(daemons.daemon_killer(settings=kopf.OperatorSettings(),
                                                       memories=inventory.ResourceMemories(), operator_paused=paused))
    try:
        waiter = asyncio.create_task(kopf_patches.until_leading())
        await asyncio.sleep(0.05)
        assert not waiter.done(), "a peer leads: our own tasks wait"
        await peer_leads.turn_to(False)
        await asyncio.wait_for(waiter, 1)
    finally:
        killer.cancel()
        kopf_patches._paused.clear()


def test_a_bodys_plain_dict_is_the_one_its_views_read():
    import kopf

    raw = {"metadata": {"name": "r"}, "spec": {"fqdn": "a.example.com"}}
    body = kopf.Body(raw)
    assert kopf_patches.raw(body) is raw
    assert kopf_patches.raw(body)["spec"] is raw["spec"] and body.spec["fqdn"] == "a.example.com"
    assert kopf_patches.raw(raw) is raw, "a plain dict is its own"

"""Rules that wait: one sleeper task per workspace that has any, not a kopf daemon per rule (issue 13).

A rule waits (Ready=False with a waiting reason: its workspace is missing or not Ready, Azure still provisions it,
its private endpoint connection is Pending, another operation runs on the managed network) until its workspace's
facts change or its back-off is due. kopf ran a daemon per waiting rule before: 10,000 tasks at the peak of a cold
converge of 10,000 rules, each holding the rule's whole body. Now the rules index registers a waiting rule here
with its small copy (the dict that index keeps anyway), and one task per workspace with waiting rules sleeps until
the first of them is due or the workspace index wakes them all. It starts each due rule as a task of its own, so
rules of one workspace still join one batch and a rule whose write takes minutes holds nobody up, and ends when no
rule of its workspace waits.

These tasks are ours, not kopf's: they start no run while a peer leads (kopf_patches.until_leading).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Awaitable, Callable, Mapping

from . import kopf_patches

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, workspace name)

# The least time between two runs of one rule: a run that stood aside (a change handler had the rule) leaves its
# past-due back-off as it was, which must not turn into a busy loop.
MIN_GAP_S = 0.5


@dataclasses.dataclass(eq=False)
class _Rule:
    snapshot: Mapping  # the rules index's small copy, replaced on every event of the rule
    checked: float  # monotonic time of its registration or of its last run
    woken: bool = False  # its workspace's facts changed since its last run started


@dataclasses.dataclass(eq=False)
class _Workspace:
    rules: dict[str, _Rule] = dataclasses.field(default_factory=dict)  # uid -> waiting rule
    running: dict[str, asyncio.Task] = dataclasses.field(default_factory=dict)  # uid -> its run
    poke: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)  # set: look at the rules again
    sleeper: asyncio.Task | None = None


@dataclasses.dataclass
class _Hooks:
    run: Callable[[Mapping], Awaitable[None]]  # one run of a waiting rule, from its snapshot
    due_at: Callable[[str], float | None]  # its back-off's monotonic due time, if it has one
    interval: float  # without a back-off: look again this long after the last run


_hooks: list[_Hooks] = []
_workspaces: dict[Key, _Workspace] = {}
_where: dict[str, Key] = {}  # uid -> the workspace it waits on


def serve(run: Callable[[Mapping], Awaitable[None]], due_at: Callable[[str], float | None], interval: float) -> None:
    """Called once, by the OutboundRule handlers: how to run a waiting rule and when it is due."""
    _hooks[:] = [_Hooks(run, due_at, interval)]


def note(key: Key, uid: str, snapshot: Mapping) -> None:
    """The rule waits (the rules index saw it so): keep its latest snapshot, and a sleeper for its workspace."""
    if _where.get(uid, key) != key:
        drop(uid)  # its workspaceRef changed
    ws = _workspaces.get(key)
    if ws is None:
        ws = _workspaces[key] = _Workspace()
    rule = ws.rules.get(uid)
    if rule is not None:
        rule.snapshot = snapshot
        return
    ws.rules[uid] = _Rule(snapshot, time.monotonic())
    _where[uid] = key
    if ws.sleeper is None:
        ws.sleeper = asyncio.get_running_loop().create_task(_sleep(key, ws), name=f"rules-waiting:{key[0]}/{key[1]}")
    ws.poke.set()


def drop(uid: str) -> None:
    """The rule no longer waits, or is gone. A run already started finishes."""
    key = _where.pop(uid, None)
    ws = _workspaces.get(key) if key is not None else None
    if ws is not None and ws.rules.pop(uid, None) is not None:
        ws.poke.set()


def wake(key: Key) -> None:
    """The workspace's facts changed: every rule waiting on it runs now (once more after a run in progress)."""
    ws = _workspaces.get(key)
    if ws is not None:
        for rule in ws.rules.values():
            rule.woken = True
        ws.poke.set()


def waiting() -> int:
    return len(_where)


def stop() -> None:
    """The operator exits: no sleeper starts another run."""
    for ws in list(_workspaces.values()):
        if ws.sleeper is not None:
            ws.sleeper.cancel()
    _workspaces.clear()
    _where.clear()


def _due(uid: str, rule: _Rule, hooks: _Hooks) -> float:
    due = hooks.due_at(uid)
    return rule.checked + hooks.interval if due is None else max(due, rule.checked + MIN_GAP_S)


async def _sleep(key: Key, ws: _Workspace) -> None:
    try:
        while ws.rules or ws.running:
            hooks = _hooks[0]
            now = time.monotonic()
            idle = [(uid, rule) for uid, rule in ws.rules.items() if uid not in ws.running]
            due = [(uid, rule) for uid, rule in idle if rule.woken or _due(uid, rule, hooks) <= now]
            if due:
                await kopf_patches.until_leading()
                for uid, rule in due:
                    if ws.rules.get(uid) is rule and uid not in ws.running:  # still waiting after a pause
                        rule.woken = False
                        ws.running[uid] = asyncio.get_running_loop().create_task(_run(ws, uid, rule, hooks))
                continue
            soonest = min((_due(uid, rule, hooks) for uid, rule in idle), default=None)
            ws.poke.clear()
            try:
                await asyncio.wait_for(ws.poke.wait(), None if soonest is None else max(soonest - now, 0.0))
            except asyncio.TimeoutError:
                pass
    finally:
        if _workspaces.get(key) is ws:
            del _workspaces[key]  # no await since the loop's test: a rule noted from now on gets a new sleeper


async def _run(ws: _Workspace, uid: str, rule: _Rule, hooks: _Hooks) -> None:
    try:
        await hooks.run(rule.snapshot)
    except Exception:  # a run's own errors are on the object already; never lose the sleeper over one
        log.exception("waiting outbound rule %s", uid)
    finally:
        rule.checked = time.monotonic()
        ws.running.pop(uid, None)
        ws.poke.set()

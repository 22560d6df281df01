"""Two scale fixes inside kopf 1.45 (issue 13), installed at import, before `kopf.run` builds anything.

1. The start-up gate is linear, not quadratic. kopf holds every object's handlers until all indexes are populated:
   each object's worker drops its own toggle from one shared `ToggleSet` and then waits on that set's condition.
   `make_toggle`/`drop_toggle` call `notify_all()` on every change, so each of N objects wakes every waiting worker.
   A waiter only waits for `is_on()` to reach a state, so waking it is useful only when `is_on()` changes: adding or
   dropping a toggle now notifies on that edge only. `Toggle.turn_to` (peering pauses) is left as it is.

2. Bodies kopf keeps are trimmed. kopf keeps each object's last body for as long as a timer or daemon runs for it.
   Two parts of it are never read by kopf or by us and are most of its size: `metadata.managedFields` (about 12 of
   the 21 KB a converged OutboundRule takes as Python objects) and kubectl's last-applied-configuration annotation
   (GitOps tools keep a second copy of the spec there; kopf's own diff base already ignores it).

pyproject.toml pins kopf to 1.45.x; tests/unit/test_kopf_patches.py fails if these internals change.
"""

from __future__ import annotations

import functools
from typing import Any, Iterable

from kopf._cogs.aiokits import aiotoggles
from kopf._core.reactor import processing

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


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


def _trimming(process: Any) -> Any:
    @functools.wraps(process)
    async def process_resource_event(*args: Any, raw_event: Any, **kwargs: Any) -> Any:
        if isinstance(raw_event, dict):
            trim(raw_event.get("object"))
        return await process(*args, raw_event=raw_event, **kwargs)
    process_resource_event.trims_bodies = True  # type: ignore[attr-defined]
    return process_resource_event


def install() -> None:
    aiotoggles.ToggleSet.make_toggle = _make_toggle  # type: ignore[method-assign]
    aiotoggles.ToggleSet.drop_toggle = _drop_toggle  # type: ignore[method-assign]
    aiotoggles.ToggleSet.drop_toggles = _drop_toggles  # type: ignore[method-assign]
    if not getattr(processing.process_resource_event, "trims_bodies", False):
        processing.process_resource_event = _trimming(processing.process_resource_event)


install()

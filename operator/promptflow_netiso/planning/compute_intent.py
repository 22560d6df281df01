"""The bring-your-own-VNet compute attach (a long-running PUT of `workspaces/{ws}/computes/{name}`) recorded before it
is sent (planning/intent.py), pure.

Ownership is what deletion depends on: only a compute the operator attached is detached with deletionPolicy Delete,
and a compute of that name that the operator did not attach is never overwritten. Recording ownership only after the
operation ends would lose it to a crash in between (Azure creates the compute at once, in state Creating, and the
restarted operator would then see "a compute it did not attach"). So the PUT is recorded first, in
`status.deploymentTarget.pendingWrite` (beside the ownership flag it settles; the workspace's own writes use
`status.pendingWrite`, so neither can overwrite the other's record across a crash), and a record found after a
restart is settled from the compute Azure shows:
- the compute holds what we sent (same type, cluster and namespace: same hash): ours, whatever its provisioning
  state (a running attach is then followed by reading the compute); its Event is posted once;
- no compute of that name: the PUT never landed (Azure creates the resource when it accepts the PUT): plan as usual;
- a compute that differs: not ours; the record goes and the usual "name taken" rule applies;
- the compute could not be read: keep the record and look again.

The detach on deletion (DELETE ?underlyingResourceAction=Detach) is recorded in the workspace's `status.pendingWrite`
(nothing else writes then) and settled by `settle_detach()`: gone means it landed, Deleting means it still runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol

from . import intent
from .intent import Outcome, PendingWrite

RECORD_KEY = "deploymentTarget"  # the record lives at status.deploymentTarget.pendingWrite


class ComputeLike(Protocol):
    compute_type: str | None
    resource_id: str | None
    namespace: str | None
    provisioning_state: str | None


def compute_target(workspace_path: str, name: str) -> str:
    return f"{workspace_path.rstrip('/')}/computes/{name}"


def compute_hash(compute_type: str | None, cluster_id: str | None, namespace: str | None) -> str:
    """Only what the operator sends and owns; Azure's provisioningState, errors and timestamps are not ours."""
    return intent.body_hash({"computeType": (compute_type or "").lower(), "resourceId": (cluster_id or "").lower(),
                             "namespace": namespace or "default"})


def observed_hash(compute: ComputeLike | None) -> str | None:
    if compute is None:
        return None
    return compute_hash(compute.compute_type, compute.resource_id, compute.namespace)


def pending_of(status: Mapping[str, Any] | None) -> PendingWrite | None:
    record = (status or {}).get(RECORD_KEY)
    return PendingWrite.from_status(record) if isinstance(record, Mapping) else None


@dataclass(frozen=True)
class ComputeSettled:
    outcome: Outcome | None  # None: no record
    ours: bool = False  # the recorded PUT landed: the compute is the operator's
    events: tuple[tuple[str, str], ...] = ()  # (reason, message) to post once
    keep: PendingWrite | None = None  # the record to leave in status (the compute could not be read)


def settle(pending: PendingWrite | None, *, target: str, compute: ComputeLike | None,
           readable: bool = True) -> ComputeSettled:
    """Settle a recorded compute PUT from the compute as Azure shows it now. `target`: the spec's compute path (a
    record for another compute, the name having changed since, cannot be judged from this read and goes)."""
    if pending is None:
        return ComputeSettled(None)
    if not pending.is_for("PUT", target):
        return ComputeSettled(Outcome.NOT_LANDED)
    if not readable:
        return ComputeSettled(Outcome.RUNNING, keep=pending)
    outcome = intent.resolve(pending, observed_hash=observed_hash(compute))
    if outcome is Outcome.LANDED:
        event = ((pending.event_reason, pending.event_message),) if pending.event_reason else ()
        return ComputeSettled(outcome, ours=True, events=event)
    return ComputeSettled(outcome)


def settle_detach(pending: PendingWrite, compute: ComputeLike | None) -> ComputeSettled:
    """A detach (DELETE ?underlyingResourceAction=Detach) recorded before a crash: the compute gone means it landed
    (announce it once, send nothing); Deleting means it still runs (wait, no second DELETE); anything else means it
    never landed (send it)."""
    outcome = intent.resolve(pending, observed_hash=observed_hash(compute),
                             done=compute is not None and (compute.provisioning_state or "").lower() != "deleting",
                             age_s=0.0, orphan_wait_s=float("inf"))
    event = ((pending.event_reason, pending.event_message),) if pending.event_reason else ()
    return ComputeSettled(outcome, events=event if outcome is Outcome.LANDED else ())


def with_ownership(status: Mapping[str, Any] | None, settled: ComputeSettled) -> dict[str, Any]:
    """Status with the settled record folded into status.deploymentTarget (what the planner reads as `Previous`)."""
    out = dict(status or {})
    if settled.outcome is None:
        return out
    record = dict(out.get(RECORD_KEY) or {})
    if settled.ours:
        record["computeAttachedByOperator"] = True
    record[intent.STATUS_KEY] = settled.keep.to_status() if settled.keep else None
    out[RECORD_KEY] = record
    return out

"""Intent before action, pure (no I/O, no clock): what an Azure write is about to do, recorded in status first.

A process can die between "Azure accepted the write" and "status says so" (every eviction risks it). Like Crossplane's
`external-create-pending` marker, every Azure write of the operator (rule PUT/DELETE, provisioning POST, isolation
PATCH, role-assignment PUT/DELETE) is recorded as `status.pendingWrite` and confirmed by the API server BEFORE the
request is sent:

    pendingWrite: {operation: PUT, target: <ARM path>, bodyHash: <sha256/16 of the owned fields>,
                   startedAt: <RFC 3339>, pollUrl: <the LRO's URL once Azure answered 202>, event: {reason, message}}

After the write, the normal end-of-reconcile status patch clears it. After a crash, the next run finds it and
`resolve()` decides, from what Azure shows now, without guessing and without sending blind:
- the target holds the body we recorded (same hash): the write landed; it is ours; its Event is posted now (the
  crashed process never did) - exactly once, because clearing the record is part of the same status write;
- the target does not show it yet but the operation may still run (poll URL known, or younger than the orphan
  wait): wait and look again; never a second POST/PUT into a running operation;
- otherwise the write did not land: forget the record and plan as usual.

The hash covers only what the operator owns and sends (never server-filled fields), computed by the caller from the
same normalised form it compares with, so "what Azure holds" and "what we sent" hash alike.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping

from ..model import arm_id

STATUS_KEY = "pendingWrite"


def body_hash(owned: Any) -> str:
    """A short stable hash of the owned, normalised fields of a body (key order and whitespace do not matter)."""
    canonical = json.dumps(owned, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PendingWrite:
    operation: str  # PUT | POST | PATCH | DELETE
    target: str  # the ARM path written (lower-case insensitive comparison)
    body_hash: str  # "" for DELETE
    started_at: str  # RFC 3339, given by the caller (planning has no clock)
    poll_url: str | None = None
    event_reason: str = ""  # the Event the write announces once it is known to have landed
    event_message: str = ""

    def to_status(self) -> dict[str, Any]:
        return {"operation": self.operation, "target": self.target, "bodyHash": self.body_hash,
                "startedAt": self.started_at, "pollUrl": self.poll_url,
                "event": {"reason": self.event_reason, "message": self.event_message}}

    @classmethod
    def from_status(cls, status: Mapping[str, Any] | None) -> "PendingWrite | None":
        raw = (status or {}).get(STATUS_KEY)
        if not isinstance(raw, Mapping) or not raw.get("operation") or not raw.get("target"):
            return None
        event = raw.get("event") if isinstance(raw.get("event"), Mapping) else {}
        return cls(operation=str(raw["operation"]), target=str(raw["target"]), body_hash=str(raw.get("bodyHash") or ""),
                   started_at=str(raw.get("startedAt") or ""), poll_url=raw.get("pollUrl") or None,
                   event_reason=str(event.get("reason") or ""), event_message=str(event.get("message") or ""))

    def is_for(self, operation: str, target: str) -> bool:
        return self.operation.upper() == operation.upper() and arm_id.same(self.target, target)


class Outcome(Enum):
    LANDED = "landed"  # Azure shows what we recorded: ours, announce it once, clear the record
    RUNNING = "running"  # may still be under way in Azure: wait, do not write again
    NOT_LANDED = "not-landed"  # nothing of it in Azure: clear the record and plan as usual


def resolve(pending: PendingWrite, *, observed_hash: str | None, done: bool = False, age_s: float | None = None,
            orphan_wait_s: float = 0.0) -> Outcome:
    """What became of a recorded write. `observed_hash`: the hash of the target's owned fields as Azure shows them
    now (None when absent). `done`: Azure reports the operation's end by other means (e.g. the managed network is
    Active, or the poll URL answered a final state). A DELETE has landed when the target is gone."""
    if pending.operation.upper() == "DELETE":
        if observed_hash is None:
            return Outcome.LANDED
    elif observed_hash is not None and observed_hash == pending.body_hash:
        return Outcome.LANDED
    if done:
        return Outcome.NOT_LANDED
    if age_s is not None and age_s < orphan_wait_s:
        return Outcome.RUNNING
    return Outcome.NOT_LANDED


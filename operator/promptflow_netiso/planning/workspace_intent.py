"""PromptFlowWorkspace writes recorded before they are sent (planning/intent.py), pure: the record of each write kind,
and how a record found after a crash is settled from the workspace and role assignments as Azure shows them.

- provisioning POST: Azure keeps running an accepted operation whose poll URL we never stored; a second POST into it
  is answered 409 Conflict again and again (and blocks the later steps). So, without a poll URL, the record means
  "may still be running" until the managed network is Active or `PROVISION_ORPHAN_WAIT` has passed: no POST meanwhile.
- isolation PATCH: landed when the workspace reports the mode we sent.
- role-assignment PUT (deterministic name): landed when Azure lists an assignment of that name.
A landed write's Event, which the crashed process never posted, is posted once by the run that settles it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ..model import arm_id
from . import intent
from .intent import Outcome, PendingWrite

# How long a provisioning POST recorded before a crash is given to finish before it is sent again. Azure's managed
# network provisioning takes minutes; an operation still running after this is not waited for any longer.
PROVISION_ORPHAN_WAIT = 900.0

PROVISION_SUFFIX = "/provisionmanagednetwork"
ROLE_SEGMENT = "/providers/Microsoft.Authorization/roleAssignments/"


def provision_target(workspace_path: str) -> str:
    return workspace_path.rstrip("/") + "/provisionManagedNetwork"


def provision_hash(include_spark: bool) -> str:
    return intent.body_hash({"includeSpark": bool(include_spark)})


def isolation_hash(mode: str | None) -> str:
    return intent.body_hash({"isolationMode": (mode or "").lower()})


def role_target(scope: str, name: str) -> str:
    return f"{scope.rstrip('/')}{ROLE_SEGMENT}{name}"


def role_hash(name: str) -> str:
    return intent.body_hash({"roleAssignment": name.lower()})


@dataclass(frozen=True)
class Settled:
    outcome: Outcome | None  # None: no record
    events: tuple[tuple[str, str], ...] = ()  # (reason, message) to post once
    keep: PendingWrite | None = None  # the record to leave in status (a provisioning that may still run)
    provisioning_running: bool = False  # hold back a new POST and check again soon

    @property
    def status(self) -> dict[str, Any]:
        return {intent.STATUS_KEY: self.keep.to_status() if self.keep else None}


def settle(pending: PendingWrite | None, *, workspace_path: str, isolation_mode: str | None, network_active: bool,
           provisioning_followed: bool, assignment_names: Sequence[str] | None, age_s: float | None) -> Settled:
    """Settle a recorded write from the workspace as observed now. `provisioning_followed`: status already holds the
    operation's poll URL (then it is followed as usual). `assignment_names`: the identity's assignments as listed
    (None when unreadable: a role record is then kept for the next run)."""
    if pending is None:
        return Settled(None)
    event = ((pending.event_reason, pending.event_message),) if pending.event_reason else ()
    target = arm_id.key(pending.target)
    if target.endswith(PROVISION_SUFFIX):
        if provisioning_followed:
            return Settled(Outcome.NOT_LANDED)  # its poll URL reached status: followed there
        outcome = intent.resolve(pending, observed_hash=pending.body_hash if network_active else None,
                                 age_s=age_s, orphan_wait_s=PROVISION_ORPHAN_WAIT)
        if outcome is Outcome.RUNNING:
            return Settled(outcome, keep=pending, provisioning_running=True)
        return Settled(outcome, event if outcome is Outcome.LANDED else ())
    if ROLE_SEGMENT.lower() in target:
        if assignment_names is None:
            return Settled(Outcome.RUNNING, keep=pending)
        name = target.rsplit("/", 1)[-1]
        listed = {n.lower() for n in assignment_names}
        outcome = intent.resolve(pending, observed_hash=role_hash(name) if name in listed else None)
        return Settled(outcome, event if outcome is Outcome.LANDED else ())
    if target == arm_id.key(workspace_path) and pending.operation.upper() == "PATCH":
        outcome = intent.resolve(pending, observed_hash=isolation_hash(isolation_mode))
        return Settled(outcome, event if outcome is Outcome.LANDED else ())
    return Settled(Outcome.NOT_LANDED)  # a record for another workspace (coordinates changed): nothing to settle


# --- role assignments removed on deletion (deletionPolicy Delete) ------------------------------------------------------


def removal_target(scope: str, name: str) -> str:
    return role_target(scope, name)


def recorded_removal(pending: PendingWrite | None, actions: Sequence[Any]) -> Any | None:
    """The removal among `actions` (RemoveRole: scope, name) whose DELETE was recorded before a crash: Azure is read
    before it is sent again. None when the record is about something else (or there is none)."""
    if pending is None or pending.operation.upper() != "DELETE":
        return None
    return next((a for a in actions if pending.is_for("DELETE", removal_target(a.scope, a.name))), None)


def settle_removal(pending: PendingWrite, still_there: bool) -> Settled:
    """A role-assignment DELETE is synchronous: gone means it landed (announce it once), still there means it never
    did (send it as planned)."""
    outcome = intent.resolve(pending, observed_hash=pending.body_hash if still_there else None)
    event = ((pending.event_reason, pending.event_message),) if pending.event_reason else ()
    return Settled(outcome, event if outcome is Outcome.LANDED else ())


def without_assignment(records: Sequence[Any], name: str) -> list[dict]:
    """status.roleAssignments minus the one removed (by name, ARM names compare case-insensitively)."""
    return [dict(r) for r in records if str(r.get("name") or "").lower() != name.lower()]


def with_unsettled_assignment(pending: PendingWrite | None, records: Sequence[Any]) -> list[dict]:
    """status.roleAssignments plus the assignment of a role PUT recorded before a crash and never settled (the
    object was deleted before a reconcile could list it). Its name is the operator's deterministic one, so if it
    exists it is ours and deletionPolicy Delete removes it; if it never landed, the DELETE finds nothing (404)."""
    out = [dict(r) for r in records]
    if pending is None or pending.operation.upper() != "PUT":
        return out
    target = pending.target.rstrip("/")
    at = target.lower().rfind(ROLE_SEGMENT.lower())
    head, name = target[:at], target[at + len(ROLE_SEGMENT):]
    if at < 0 or not name or "/" in name or any(str(r.get("name") or "").lower() == name.lower() for r in out):
        return out
    return out + [{"name": name, "roleDefinitionId": "", "scope": head, "createdByOperator": True}]

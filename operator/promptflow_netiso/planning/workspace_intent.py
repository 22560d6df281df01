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

from . import intent
from .intent import Outcome, PendingWrite

# How long a provisioning POST recorded before a crash is given to finish before it is sent again. Azure's managed
# network provisioning takes minutes; an operation still running after this is not waited for any longer.
PROVISION_ORPHAN_WAIT = 900.0

PROVISION_SUFFIX = "/provisionmanagednetwork"


def provision_target(workspace_path: str) -> str:
    return workspace_path.rstrip("/") + "/provisionManagedNetwork"


def provision_hash(include_spark: bool) -> str:
    return intent.body_hash({"includeSpark": bool(include_spark)})


def isolation_hash(mode: str | None) -> str:
    return intent.body_hash({"isolationMode": (mode or "").lower()})


def role_target(scope: str, name: str) -> str:
    return f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{name}"


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
    target = pending.target.rstrip("/").lower()
    if target.endswith(PROVISION_SUFFIX):
        if provisioning_followed:
            return Settled(Outcome.NOT_LANDED)  # its poll URL reached status: followed there
        outcome = intent.resolve(pending, observed_hash=pending.body_hash if network_active else None,
                                 age_s=age_s, orphan_wait_s=PROVISION_ORPHAN_WAIT)
        if outcome is Outcome.RUNNING:
            return Settled(outcome, keep=pending, provisioning_running=True)
        return Settled(outcome, event if outcome is Outcome.LANDED else ())
    if "/providers/microsoft.authorization/roleassignments/" in target:
        if assignment_names is None:
            return Settled(Outcome.RUNNING, keep=pending)
        name = target.rsplit("/", 1)[-1]
        listed = {n.lower() for n in assignment_names}
        outcome = intent.resolve(pending, observed_hash=role_hash(name) if name in listed else None)
        return Settled(outcome, event if outcome is Outcome.LANDED else ())
    if target == workspace_path.rstrip("/").lower() and pending.operation.upper() == "PATCH":
        outcome = intent.resolve(pending, observed_hash=isolation_hash(isolation_mode))
        return Settled(outcome, event if outcome is Outcome.LANDED else ())
    return Settled(Outcome.NOT_LANDED)  # a record for another workspace (coordinates changed): nothing to settle

"""The `Stalled` condition: what kstatus (Flux health checks, cli-utils, kpt) and our Argo CD health checks read as
"cannot converge without a change".

kstatus reads a custom object as Failed only from `Stalled=True`; `Ready=False` alone reads as InProgress forever,
so a workspace whose identity lacks rights would look like it is still converging. The rule, in one place:
Ready=False with a reason that is not a known step on the way (below) is a terminal or user-fixable state, and
Stalled=True repeats its reason and message. Transient faults are Ready=Unknown, never Stalled. Otherwise the
condition is absent (kstatus convention for abnormal-true conditions).
"""

from __future__ import annotations

STALLED = "Stalled"

# Ready=False reasons that mean "still on the way" (the operator or Azure is working, or it waits for another object).
PROGRESSING_REASONS = frozenset({
    "Reconciling", "Applying", "Assigning", "Provisioning", "ProvisioningStarted", "NotConverged", "Throttled",
    "WaitingForWorkspace", "WaitingForManagedNetwork", "WorkspaceNotReady", "WorkspaceDeleting",
    "RuleProvisioning", "RuleInactive", "RuleDeleting", "PrivateEndpointPending", "DriftCorrected",
    "ReconcileSkipped",  # reconcile-policy: skip is a choice, not a failure (Argo CD shows it Suspended)
})


def stalled_from(ready: dict | None) -> dict | None:
    """The Stalled condition a Ready condition implies (None: no Stalled condition)."""
    if not ready or ready.get("status") != "False" or ready.get("reason") in PROGRESSING_REASONS:
        return None
    return {"type": STALLED, "status": "True", "reason": ready.get("reason", ""), "message": ready.get("message", "")}

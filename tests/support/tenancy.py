"""Grants for test namespaces (docs/tenancy.md): as a cluster admin would write them, plus a wait until the API
server's admission policy sees the new grant (its parameter informer lags the write by a moment)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .controlplane import REPO, ControlPlane

API = "netiso.promptflow.dev/v1alpha1"
EVERYTHING = ["/"]
ADMISSION = REPO / "deploy" / "admission"
_PROBE_SUB = "00000000-0000-0000-0000-00000000abcd"


def grant_manifest(namespace: str, workspaces=(), rule_targets=(), approval_targets=(), identity: dict | None = None) -> dict:
    spec: dict = {"workspaces": list(workspaces), "outboundRuleTargets": list(rule_targets),
                  "approvalTargets": list(approval_targets)}
    if identity:
        spec["identity"] = identity
    return {"apiVersion": API, "kind": "AzureScopeGrant", "metadata": {"name": "default", "namespace": namespace},
            "spec": spec}


def grant(cp: ControlPlane, namespace: str, workspaces=EVERYTHING, rule_targets=EVERYTHING,
          approval_targets=EVERYTHING, identity: dict | None = None, wait: bool = True) -> None:
    """Apply the namespace's grant (default: every scope, the behaviour before tenancy existed)."""
    cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
               input=json.dumps(grant_manifest(namespace, workspaces, rule_targets, approval_targets, identity)))
    if wait and workspaces:
        wait_admitted(cp, namespace, workspaces[0])


def wait_admitted(cp: ControlPlane, namespace: str, scope: str, timeout: float = 30) -> None:
    """Until a dry-run workspace under `scope` passes admission (immediately when no policy is installed)."""
    sub, rg = _PROBE_SUB, "rg-probe"
    parts = scope.strip("/").split("/")
    if len(parts) >= 2:
        sub = parts[1]
    if len(parts) >= 4:
        rg = parts[3]
    probe = {"apiVersion": API, "kind": "PromptFlowWorkspace", "metadata": {"name": "admission-probe", "namespace": namespace},
             "spec": {"azure": {"subscriptionId": sub, "resourceGroup": rg, "workspaceName": "probe-ws"}}}
    if len(parts) > 4:
        return  # a resource-level scope: nothing generic to probe
    deadline = time.monotonic() + timeout
    while True:
        res = cp.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(probe), check=False)
        if res.returncode == 0 or time.monotonic() > deadline:
            assert res.returncode == 0, f"the grant of {namespace} is not seen by admission: {res.stderr}"
            return
        time.sleep(0.2)


def install_admission_policy(cp: ControlPlane) -> None:
    cp.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(ADMISSION))


def admission_policy_path() -> Path:
    return ADMISSION

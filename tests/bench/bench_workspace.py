"""Azure calls per PromptFlowWorkspace: for a first reconcile, and for a converged drift check.

    python -m tests.bench.bench_workspace                 # 5 workspaces, 3 drift checks each
    python -m tests.bench.bench_workspace --workspaces 20 --drift-checks 5
    python -m tests.bench.bench_workspace --byo           # bring-your-own VNet + AKS target instead

Runs the real thing (etcd + kube-apiserver, the Azure simulator, the operator as a subprocess), counts requests in
the simulator's log per workspace (each workspace lives in its own subscription), and prints the figures with the
target for a converged check: zero writes and at most two reads (managed VNet), or at most eight reads with
`--byo` (workspace, role assignments, the workspace's private endpoint connections, its private endpoint, the VNet,
the AKS cluster, the cluster's extensions, the compute; docs/byo-vnet.md). Exit status 1 when the target is missed.
Figures, not timings: nothing here depends on the machine's speed.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.sim.admin import unique_names
from tests.support.kube import Kube, is_ready
from tests.support.stack import LocalStack

KIND = "PromptFlowWorkspace"
NAMESPACE = "bench-workspace"
TARGET_WRITES, TARGET_READS, TARGET_READS_BYO = 0, 2, 8
BENCH_ENV = {"PROMPTFLOW_NETISO_DRIFT_INTERVAL": "2", "PROMPTFLOW_NETISO_SLOW_RETRY": "3",
             "PROMPTFLOW_NETISO_TRANSIENT_RETRY": "1"}


def manifest(name: str, sub: str, rg: str, ws: str) -> str:
    return json.dumps({"apiVersion": "netiso.promptflow.dev/v1alpha1", "kind": KIND, "metadata": {"name": name},
                       "spec": {"azure": {"subscriptionId": sub, "resourceGroup": rg, "workspaceName": ws},
                                "network": {"mode": "ManagedVirtualNetwork", "isolationMode": "AllowOnlyApprovedOutbound",
                                            "provision": {"enabled": True}}}})


def byo_manifest(name: str, sub: str, rg: str, ws: str, admin) -> str:
    """Seed a bring-your-own-VNet estate (one VNet with the workspace's private endpoint and the AKS cluster, the
    Azure ML extension installed) and return the workspace manifest that targets it."""
    base = f"/subscriptions/{sub}/resourceGroups/{rg}/providers"
    vnet, aks = f"{base}/Microsoft.Network/virtualNetworks/vnet", f"{base}/Microsoft.ContainerService/managedClusters/aks"
    admin.seed_vnet(vnet, ["10.1.0.0/16"], subnets=[{"name": "pe", "addressPrefix": "10.1.0.0/24"},
                                                    {"name": "aks", "addressPrefix": "10.1.4.0/22"}])
    admin.seed_private_endpoint(f"{base}/Microsoft.Network/privateEndpoints/ws-pe", f"{vnet}/subnets/pe",
                                f"{base}/Microsoft.MachineLearningServices/workspaces/{ws}")
    admin.seed_aks(aks, f"{vnet}/subnets/aks")
    admin.seed_extension(aks)
    return json.dumps({"apiVersion": "netiso.promptflow.dev/v1alpha1", "kind": KIND, "metadata": {"name": name},
                       "spec": {"azure": {"subscriptionId": sub, "resourceGroup": rg, "workspaceName": ws},
                                "network": {"mode": "BringYourOwnVirtualNetwork", "virtualNetworkId": vnet,
                                            "publicNetworkAccess": "Disabled"},
                                "deploymentTarget": {"type": "Kubernetes", "aksClusterId": aks}}})


def per_workspace(requests: list[dict], subs: dict[str, str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {name: [] for name in subs}
    for r in requests:
        for name, sub in subs.items():
            if sub in r["path"].lower():
                out[name].append(r)
    return out


def summarize(title: str, calls: dict[str, list[dict]], divide_by: dict[str, int] | None = None) -> tuple[float, float]:
    """Print reads/writes per workspace (per check when `divide_by` gives counts); returns the worst (reads, writes)."""
    reads, writes, routes = [], [], collections.Counter()
    for name, items in calls.items():
        n = max((divide_by or {}).get(name, 1), 1)
        reads.append(sum(1 for r in items if r["method"] == "GET") / n)
        writes.append(sum(1 for r in items if r["method"] != "GET") / n)
        routes.update(f"{r['method']} {r.get('route') or '?'} {r['status']}" for r in items)
    print(f"\n{title}")
    print(f"  reads per workspace:  mean {statistics.mean(reads):.2f}  max {max(reads):.2f}")
    print(f"  writes per workspace: mean {statistics.mean(writes):.2f}  max {max(writes):.2f}")
    print("  by route (all workspaces):")
    for route, n in sorted(routes.items()):
        print(f"    {n:5d}  {route}")
    return max(reads), max(writes)


def wait_all(kube: Kube, names: list[str], predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            obj = kube.get(KIND, NAMESPACE, name)
            if obj is not None and predicate(obj):
                pending.discard(name)
        time.sleep(0.3)
    if pending:
        raise SystemExit(f"timed out waiting for {sorted(pending)} {what}")


def drift_stamps(op) -> dict[str, float]:
    """name -> promptflow_netiso_last_drift_check_timestamp_seconds of this namespace's workspaces."""
    out = {}
    for line in op.scrape().splitlines():
        if (line.startswith("promptflow_netiso_last_drift_check_timestamp_seconds{") and f'kind="{KIND}"' in line
                and f'namespace="{NAMESPACE}"' in line):
            labels, value = line.rsplit(" ", 1)
            out[labels.split('name="', 1)[1].split('"', 1)[0]] = float(value)
    return out


def count_drift_checks(op, names: list[str], checks: int, timeout: float) -> dict[str, int]:
    """Watch each workspace's last-drift-check metric until it has moved `checks` more times; returns the counts."""
    last = drift_stamps(op)
    seen = {n: 0 for n in names}
    deadline = time.monotonic() + timeout
    while min(seen.values()) < checks and time.monotonic() < deadline:
        now = drift_stamps(op)
        for n in names:
            if now.get(n) and now.get(n) != last.get(n):
                seen[n] += 1
                last[n] = now[n]
        time.sleep(0.2)
    if min(seen.values()) < checks:
        raise SystemExit(f"drift checks did not run in {timeout}s: {seen}")
    return seen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspaces", type=int, default=5)
    ap.add_argument("--drift-checks", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--byo", action="store_true", help="bring-your-own VNet with an AKS target")
    args = ap.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-workspace-"))
    with LocalStack(workdir, BENCH_ENV, namespace=NAMESPACE, remove_workdir=True) as stack:
        kube, admin = stack.kube, stack.admin
        admin.config(provision_duration_s=1)

        subs: dict[str, str] = {}
        for i in range(args.workspaces):
            sub, rg = unique_names("bench")
            ws = f"ws-{uuid.uuid4().hex[:8]}"
            admin.seed_workspace(sub, rg, ws)
            subs[f"pf-{i}"] = sub.lower()
            body = byo_manifest(f"pf-{i}", sub, rg, ws, admin) if args.byo else manifest(f"pf-{i}", sub, rg, ws)
            kube.apply(body, NAMESPACE)
        names = sorted(subs)
        start = 0
        wait_all(kube, names, is_ready, args.timeout, "to be Ready")

        first = per_workspace(admin.requests(since=start), subs)
        what = ("bring-your-own VNet: publicNetworkAccess, 1 storage role, compute attach" if args.byo
                else "isolation mode, provisioning, 2 storage roles")
        summarize(f"first reconcile ({args.workspaces} workspaces: {what})", first)

        mark = admin.last_request_seq()
        checks = count_drift_checks(stack.op, names, args.drift_checks, args.timeout)
        converged = per_workspace(admin.requests(since=mark), subs)
        # Every check GETs the workspace exactly once: that count is the number of checks in the window (watching
        # the last-drift-check metric misses checks that land between two scrapes on a slow machine).
        ran = {n: sum(1 for r in items if r.get("route") == "ml.workspace.get") for n, items in converged.items()}
        reads, writes = summarize(f"converged drift check (per check; {sum(ran.values())} checks ran, "
                                  f"{sum(checks.values())} seen in the metric)", converged, divide_by=ran)
        target_reads = TARGET_READS_BYO if args.byo else TARGET_READS
        ok = writes <= TARGET_WRITES and reads <= target_reads
        print(f"\ntarget per converged check: {TARGET_WRITES} writes, at most {target_reads} reads -> "
              f"{'met' if ok else 'MISSED'} (worst workspace: {writes:.2f} writes, {reads:.2f} reads)")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

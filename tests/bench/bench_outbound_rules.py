"""OutboundRule: time and Azure calls to converge N rules on one workspace, and what a converged workspace costs.

    python -m tests.bench.bench_outbound_rules                       # 200 rules, drift interval 10 s, 3 periods
    python -m tests.bench.bench_outbound_rules --rules 50 --drift-interval 300 --periods 2   # default settings

Runs the real thing (etcd + kube-apiserver, the Azure simulator, the operator as a subprocess). A workspace with a
provisioned managed network under AllowOnlyApprovedOutbound (so Azure's Required rules are present too) receives N
FQDN OutboundRules in one `kubectl apply`.

1. Convergence: wall time from the apply until every rule is Ready, and the Azure calls it took, by kind (rule PUTs,
   rule LISTs, long-running-operation polls, 409 conflicts). Target: each rule written exactly once (a PUT, or its
   place in a batchOutboundRules POST), no 409. Rule operations at Azure's real pace: bench_rule_batch.py.
2. Converged: Azure calls over a few drift periods once nothing changes, per rule and per period. Target: zero
   writes; reads grow with workspaces, not rules (no GET per rule).

Prints figures; exit status 1 when a target is missed. Nothing here asserts the machine's speed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.sim.admin import unique_names  # noqa: E402
from tests.support.kube import is_ready  # noqa: E402
from tests.support.stack import LocalStack, wait  # noqa: E402

API = "netiso.promptflow.dev/v1alpha1"
NAMESPACE = "bench-outbound-rules"


def obj(kind: str, name: str, spec: dict) -> dict:
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name}, "spec": spec}


def classify(call: dict) -> str:
    """A bounded name for one logged ARM call."""
    path, method = call["path"].lower().rstrip("/"), call["method"]
    if call["status"] == 409:
        return "409 conflict"
    if "/operationresults/" in path or "/operationstatuses/" in path or "/operations/" in path:
        return "LRO poll"
    if path.endswith("/batchoutboundrules"):
        return f"{method} rule batch"
    if path.endswith("/outboundrules"):
        return f"{method} rule list page"
    if "/outboundrules/" in path:
        return f"{method} one rule"
    if path.endswith("/privateendpointconnections"):
        return f"{method} connection list"
    if "/workspaces/" in path and path.rsplit("/", 2)[-2] == "workspaces":
        return f"{method} workspace"
    return f"{method} other"


def show(title: str, calls: list[dict], per: float, unit: str) -> None:
    counts = Counter(classify(c) for c in calls)
    print(title)
    for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {name:<22} {n:>6}   {n / per:8.3f} {unit}")
    if not counts:
        print("  (none)")


def list_operations(calls: list[dict], pages_per_list: int) -> float:
    """Whole LISTs: the simulator pages outbound rules (`nextLink`), and the log shows each page as one GET."""
    return sum(1 for c in calls if classify(c) == "GET rule list page") / pages_per_list


def pages_per_list(admin, workspace_id: str) -> int:
    size = max(1, int(admin.config().get("pageSize") or 1))
    rules = len(admin.workspace(workspace_id)["body"]["properties"]["managedNetwork"].get("outboundRules") or {})
    return max(1, -(-rules // size))


def rule_states(cp, namespace: str) -> tuple[int, int, set[str]]:
    items = json.loads(cp.kubectl("get", "outboundrules", "-n", namespace, "-o", "json").stdout)["items"]
    not_true = {f"{c['type']}/{c['reason']}" for o in items for c in (o.get("status") or {}).get("conditions") or []
                if c["status"] != "True" and c["type"] != "NoEffect"}
    return len(items), sum(1 for o in items if is_ready(o)), not_true


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rules", type=int, default=200)
    ap.add_argument("--drift-interval", type=float, default=10.0, help="PROMPTFLOW_NETISO_DRIFT_INTERVAL (default 300)")
    ap.add_argument("--periods", type=int, default=3, help="drift periods to count calls over once converged")
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-outbound-rules-"))
    env = {"PROMPTFLOW_NETISO_DRIFT_INTERVAL": str(args.drift_interval)}
    with LocalStack(workdir, env, namespace=NAMESPACE) as stack:
        cp, kube, admin = stack.cp, stack.kube, stack.admin

        sub, rg = unique_names("bench")
        ws = f"ws-{uuid.uuid4().hex[:8]}"
        ws_id = admin.seed_workspace(sub, rg, ws, isolation_mode="AllowOnlyApprovedOutbound", provisioned=True)["id"]
        kube.apply(json.dumps(obj("PromptFlowWorkspace", "pf", {
            "azure": {"subscriptionId": sub, "resourceGroup": rg, "workspaceName": ws},
            "network": {"mode": "ManagedVirtualNetwork", "isolationMode": "AllowOnlyApprovedOutbound"}})), NAMESPACE)
        wait("for the workspace to be Ready",
             lambda: is_ready(kube.get("PromptFlowWorkspace", NAMESPACE, "pf") or {"metadata": {}}), args.timeout)

        names = [f"rule-{i:04d}" for i in range(args.rules)]
        rules = [obj("OutboundRule", n, {"workspaceRef": {"name": "pf"}, "type": "FQDN", "fqdn": f"{n}.example.com"})
                 for n in names]
        mark = admin.last_request_seq()
        started = time.monotonic()
        kube.apply(json.dumps({"apiVersion": "v1", "kind": "List", "items": rules}), NAMESPACE)
        seen_not_true: set[str] = set()

        def converged() -> bool:
            total, ready, not_true = rule_states(cp, NAMESPACE)
            seen_not_true.update(not_true)
            return total == args.rules and ready == args.rules

        wait(f"for {args.rules} rules to be Ready", converged, args.timeout)
        elapsed = time.monotonic() - started
        calls = [c for c in admin.requests(since=mark) if sub.lower() in c["path"].lower()]
        puts: Counter = Counter()  # accepted writes per rule: its PUT, or the batchOutboundRules POST that carried it
        for c in calls:
            if c["status"] < 400 and c["method"] == "PUT" and "/outboundrules/" in c["path"].lower():
                puts[c["path"].lower().rsplit("/", 1)[-1]] += 1
            elif c["status"] < 400 and c["method"] == "POST" and c["path"].lower().endswith("/batchoutboundrules"):
                puts.update(n.lower() for n in c.get("rules") or [])
        print(f"\nconverge {args.rules} rules on one workspace (one kubectl apply): {elapsed:.1f}s "
              f"({elapsed / args.rules:.2f}s per rule; one operation at a time per managed network, rules queued together "
              f"go in one batch)")
        show(f"Azure calls while converging ({len(calls)} in all), per rule:", calls, args.rules, "per rule")
        one_put_each = sorted(puts.items()) == sorted((n, 1) for n in names)
        conflicts = sum(1 for c in calls if c["status"] == 409)
        pages = pages_per_list(admin, ws_id)
        print(f"  whole rule LISTs: {list_operations(calls, pages):.0f} ({pages} pages each at the end)")
        print(f"  each rule written exactly once (PUT or batch POST): {'yes' if one_put_each else 'NO'}; "
              f"409 conflicts: {conflicts}; "
              f"non-True conditions seen on the way: {sorted(seen_not_true) or 'none'}")

        # Converged: nothing changes; drift timers keep comparing every rule with Azure.
        time.sleep(args.drift_interval)  # let the first drift check of every rule happen (its start is jittered)
        mark, started = admin.last_request_seq(), time.monotonic()
        time.sleep(args.periods * args.drift_interval)
        window = time.monotonic() - started
        calls = [c for c in admin.requests(since=mark) if sub.lower() in c["path"].lower()]
        periods = window / args.drift_interval
        writes = [c for c in calls if c["method"] != "GET"]
        per_rule_gets = sum(1 for c in calls if classify(c) == "GET one rule")
        show(f"\nconverged: Azure calls over {window:.0f}s = {periods:.1f} drift periods of {args.drift_interval:.0f}s, "
             f"per rule per period:", calls, args.rules * periods, "per rule per period")
        lists = list_operations(calls, pages)
        print(f"  whole rule LISTs: {lists:.0f} = {lists / periods:.2f} per drift period for the workspace "
              f"(a GET per rule would be {args.rules} per period)")
        print(f"  writes: {len(writes)} (target 0); GETs of single rules: {per_rule_gets} (target 0: one LIST serves "
              f"all {args.rules} rules)")
        ok = one_put_each and conflicts == 0 and not writes and per_rule_gets == 0
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Rule writes at Azure's real pace: N new rules on one workspace, one PUT per rule versus batchOutboundRules.

    python -m tests.bench.bench_rule_batch                      # 50 rules, each rule operation runs 5 s
    python -m tests.bench.bench_rule_batch --rules 50 --rule-duration 20

In Azure a rule operation takes minutes and a managed network runs one at a time, so N rules written one PUT each
take N operations. The simulator's `rule_duration_s` makes each rule / managed-network operation last that long
(tests leave it off). The same operator binary runs twice against one stack (etcd + kube-apiserver, the simulator,
the operator as a subprocess), on two fresh workspaces:

- before: PROMPTFLOW_NETISO_RULE_BATCH_SIZE=1 (one PUT per rule, one operation at a time per workspace);
- after:  the default (rule writes queued together go out as one batchOutboundRules POST).

Prints, per phase: wall time from one `kubectl apply` of N rules until all are Ready, the rule operations Azure ran
(PUTs, batch POSTs, rules per POST), 409s; and what that means at a real operation time (a projection: operations
x minutes). Exit status 1 only when a phase did not converge or a rule was written more than once; never on timings.
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

from tests.bench.bench_outbound_rules import obj  # noqa: E402
from tests.sim.admin import unique_names  # noqa: E402
from tests.support.kube import is_ready  # noqa: E402
from tests.support.stack import LocalStack, wait  # noqa: E402

NAMESPACE = "bench-rule-batch"


def rule_writes(calls: list[dict]) -> list[dict]:
    return [c for c in calls if c["method"] in ("PUT", "POST", "DELETE")
            and ("/outboundrules/" in c["path"].lower() or c["path"].lower().endswith("/batchoutboundrules"))]


def phase(stack: LocalStack, label: str, rules: int, batch_size: int, timeout: float) -> dict:
    kube, admin, cp = stack.kube, stack.admin, stack.cp
    stack.start_operator(PROMPTFLOW_NETISO_RULE_BATCH_SIZE=str(batch_size))
    sub, rg = unique_names("bench")
    ws = f"ws-{uuid.uuid4().hex[:8]}"
    admin.seed_workspace(sub, rg, ws, isolation_mode="AllowOnlyApprovedOutbound", provisioned=True)
    pf = f"pf-{label}"
    kube.apply(json.dumps(obj("PromptFlowWorkspace", pf, {
        "azure": {"subscriptionId": sub, "resourceGroup": rg, "workspaceName": ws},
        "network": {"mode": "ManagedVirtualNetwork", "isolationMode": "AllowOnlyApprovedOutbound"}})), NAMESPACE)
    wait(f"for workspace {pf} to be Ready", lambda: is_ready(kube.get("PromptFlowWorkspace", NAMESPACE, pf) or {"metadata": {}}),
         timeout)
    names = [f"{label}-{i:03d}" for i in range(rules)]
    items = [obj("OutboundRule", n, {"workspaceRef": {"name": pf}, "type": "FQDN", "fqdn": f"{n}.example.com"}) for n in names]
    mark = admin.last_request_seq()
    started = time.monotonic()
    kube.apply(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}), NAMESPACE)

    def converged() -> bool:
        out = json.loads(cp.kubectl("get", "outboundrules", "-n", NAMESPACE, "-o", "json").stdout)["items"]
        mine = [o for o in out if o["metadata"]["name"].startswith(label + "-")]
        return len(mine) == rules and all(is_ready(o) for o in mine)

    wait(f"for {rules} rules ({label}) to be Ready", converged, timeout, poll=1.0)
    elapsed = time.monotonic() - started
    writes = [c for c in rule_writes(admin.requests(since=mark)) if sub.lower() in c["path"].lower()]
    accepted = [c for c in writes if c["status"] < 400]
    carried: Counter = Counter()
    for c in accepted:
        for n in (c.get("rules") or []) if c["method"] == "POST" else [c["path"].rsplit("/", 1)[-1]]:
            carried[n.lower()] += 1
    posts = [c for c in accepted if c["method"] == "POST"]
    return {"label": label, "elapsed": elapsed, "puts": sum(1 for c in accepted if c["method"] == "PUT"),
            "posts": len(posts), "per_post": [len(c.get("rules") or []) for c in posts],
            "conflicts": sum(1 for c in writes if c["status"] == 409),
            "operations": len(accepted), "once_each": sorted(carried.items()) == sorted((n, 1) for n in names)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rules", type=int, default=50)
    ap.add_argument("--rule-duration", type=float, default=5.0,
                    help="seconds each rule / managed-network operation runs in the simulator (Azure: minutes)")
    ap.add_argument("--real-minutes", type=float, default=2.0, help="operation time to project the figures to")
    ap.add_argument("--timeout", type=float, default=3600)
    args = ap.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-rule-batch-"))
    with LocalStack(workdir, {}, namespace=NAMESPACE) as stack:
        stack.admin.config(rule_duration_s=args.rule_duration, provision_duration_s=1)
        results = [phase(stack, "single", args.rules, 1, args.timeout),
                   phase(stack, "batch", args.rules, 50, args.timeout)]

    print(f"\n{args.rules} new FQDN rules on one workspace, each rule operation running {args.rule_duration:.0f}s "
          f"(simulator rule_duration_s)")
    print(f"  {'':<8} {'converge':>9} {'operations':>11} {'PUTs':>5} {'batch POSTs':>12}  {'rules per POST':<18} "
          f"{'409s':>4}  projection at {args.real_minutes:g} min per operation")
    for r in results:
        per = ",".join(str(n) for n in r["per_post"]) or "-"
        print(f"  {r['label']:<8} {r['elapsed']:>8.1f}s {r['operations']:>11} {r['puts']:>5} {r['posts']:>12}  {per:<18} "
              f"{r['conflicts']:>4}  ~{r['operations'] * args.real_minutes:.0f} min")
    before, after = results
    if after["elapsed"] > 0:
        print(f"  speed-up: {before['elapsed'] / after['elapsed']:.1f}x wall time, "
              f"{before['operations'] / max(1, after['operations']):.1f}x fewer operations")
    ok = all(r["once_each"] for r in results)
    print(f"  every rule written exactly once in both phases: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Chaos: faults on every Azure route, kill -9 of the operator every 30 s, and kills inside the window between "Azure
accepted a write" and "the operator wrote its outcome to status". Then: does everything converge, and was anything
written twice, approved outside policy, or deleted that was not ours?

    python -m tests.bench.bench_chaos                                   # 5 workspaces, 25 rules, 1 policy, 5 min
    python -m tests.bench.bench_chaos --minutes 2 --kill-every 20

Runs the real thing (etcd + kube-apiserver, the Azure simulator, the operator as a subprocess that is killed and
started again). Workload, per workspace (5): isolation AllowOnlyApprovedOutbound, storage roles, managed network
provisioning for two of them; 5 OutboundRules each (3 FQDN, 1 ServiceTag, and for the first workspace a
PrivateEndpoint rule to a target whose connections stay Pending, for the others a second ServiceTag); a hand-made
UserDefined rule the operator must never touch. One PrivateEndpointApproval (the policy) approves the first
workspace's managed-network connections on the target; a foreign Pending connection on it must stay Pending. Faults: ~10% 429 and ~10% 5xx (500/503) on all ARM routes while the kills go on.

Kills in the accepted-write window: a watcher sees an object whose status.pendingWrite carries Azure's operation URL
(Azure accepted the write; the outcome is not in status yet) and sends SIGKILL at once.

Prints: objects converged, duplicate writes per kind (accepted writes beyond one per target), approvals outside
policy, foreign DELETEs, ARM reads and writes. Exit status 1 when something did not converge or a count that must be
0 is not.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.sim.admin import unique_names  # noqa: E402
from tests.sim.constants import MICROSOFT_MANAGED_SUBSCRIPTION_ID  # noqa: E402
from tests.support.kube import is_ready  # noqa: E402
from tests.support.stack import LocalStack, wait  # noqa: E402

API = "netiso.promptflow.dev/v1alpha1"
NAMESPACE = "bench-chaos"
KINDS = ("PromptFlowWorkspace", "OutboundRule", "PrivateEndpointApproval")
FAST = {  # test-speed loops, as in tests/conftest.py
    "PROMPTFLOW_NETISO_DRIFT_INTERVAL": "5",
    "PROMPTFLOW_NETISO_SLOW_RETRY": "3",
    "PROMPTFLOW_NETISO_TRANSIENT_RETRY": "1",
    "PROMPTFLOW_NETISO_DEPENDENCY_WAIT": "1",
    "PROMPTFLOW_NETISO_APPROVAL_PENDING_INTERVAL": "1",
    "PROMPTFLOW_NETISO_APPROVAL_SETTLED_INTERVAL": "5",
}


def obj(kind: str, name: str, spec: dict) -> dict:
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name}, "spec": spec}


def objects(cp, kind: str) -> list[dict]:
    res = cp.kubectl("get", kind, "-n", NAMESPACE, "-o", "json", check=False)
    return json.loads(res.stdout).get("items", []) if res.returncode == 0 else []


def write_kind(call: dict) -> str | None:
    """The kind of an accepted ARM write, or None for reads."""
    path, method = call["path"].lower().rstrip("/"), call["method"]
    if method == "GET":
        return None
    if "/outboundrules/" in path:
        return "rule write" if method == "PUT" else f"rule {method}"
    if path.endswith("/provisionmanagednetwork"):
        return "provisioning POST"
    if "/roleassignments/" in path:
        return f"role assignment {method}"
    if "/privateendpointconnections/" in path:
        return f"approval {method}"
    if "/workspaces/" in path and method == "PATCH":
        return "isolation PATCH"
    return f"other {method}"


def write_targets(call: dict) -> list[tuple[str | None, str]]:
    """(kind, target) of each thing an accepted write wrote: a batchOutboundRules POST writes each rule it carried
    (the simulator logs their names), so a rule sent by a PUT and again by a batch counts as a duplicate."""
    path = call["path"].lower().rstrip("/")
    if call["method"] == "POST" and path.endswith("/batchoutboundrules"):
        workspace = path.rsplit("/managednetworks/", 1)[0]
        return [("rule write", f"{workspace}/outboundrules/{n.lower()}") for n in call.get("rules") or []]
    return [(write_kind(call), path)]


class Killer:
    """kill -9 every `every` seconds, and at once when an accepted write's outcome is not in status yet."""

    def __init__(self, stack: LocalStack, every: float, window_gap: float):
        self.stack, self.every, self.window_gap = stack, every, window_gap
        self.periodic = self.in_window = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def kill(self) -> None:
        with self.lock:
            op = self.stack.op
            if op and op.proc and op.proc.poll() is None:
                op.proc.send_signal(signal.SIGKILL)
                op.proc.wait()
            op.start(timeout=120)

    def run_periodic(self) -> None:
        while not self.stop.wait(self.every):
            self.kill()
            self.periodic += 1

    def run_window(self) -> None:
        last = 0.0
        while not self.stop.wait(0.3):
            if time.monotonic() - last < self.window_gap:
                continue
            for kind in ("OutboundRule", "PromptFlowWorkspace"):
                if any(((o.get("status") or {}).get("pendingWrite") or {}).get("pollUrl") for o in objects(self.stack.cp, kind)):
                    self.kill()
                    self.in_window += 1
                    last = time.monotonic()
                    break


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspaces", type=int, default=5)
    ap.add_argument("--rules-per-workspace", type=int, default=5)
    ap.add_argument("--minutes", type=float, default=5.0, help="how long faults and kills go on")
    ap.add_argument("--kill-every", type=float, default=30.0)
    ap.add_argument("--window-gap", type=float, default=20.0, help="least seconds between two in-window kills")
    ap.add_argument("--timeout", type=float, default=900, help="to converge once the chaos stops")
    args = ap.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    with LocalStack(workdir, dict(FAST), namespace=NAMESPACE) as stack:
        cp, kube, admin = stack.cp, stack.kube, stack.admin
        admin.config(lro_duration_s=3, provision_duration_s=8)  # wide enough windows to land kills in

        sub, rg = unique_names("chaos")
        target = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/aoai-chaos"
        admin.seed_target(target, pe_behaviour="pending")
        foreign_pe = (f"/subscriptions/{uuid.uuid4()}/resourceGroups/other/providers/Microsoft.Network/"
                      f"privateEndpoints/foreign-pe")
        foreign = admin.seed_connection(target, foreign_pe, name="foreign-connection")

        items, ws_ids, rule_names = [], [], []
        for w in range(args.workspaces):
            name = f"ws-{w}-{uuid.uuid4().hex[:6]}"
            provisioned = w >= 2
            ws_ids.append(admin.seed_workspace(sub, rg, name, isolation_mode="AllowOnlyApprovedOutbound",
                                               provisioned=provisioned,
                                               rules={"handmade": {"type": "FQDN", "destination": "handmade.example.com"}})["id"])
            items.append(obj("PromptFlowWorkspace", f"pf{w}", {
                "azure": {"subscriptionId": sub, "resourceGroup": rg, "workspaceName": name},
                "network": {"mode": "ManagedVirtualNetwork", "isolationMode": "AllowOnlyApprovedOutbound",
                            "provision": {"enabled": not provisioned}},
                "storageRoles": {"assign": True}}))
            for r in range(args.rules_per_workspace):
                rule = f"w{w}-r{r}"
                rule_names.append(rule)
                kind = r % 5
                if kind == 4 and w != 0:
                    kind = 3  # the policy approves pf0's managed network only: other workspaces' PE rules would wait
                if kind == 3:
                    spec = {"type": "ServiceTag", "serviceTag": {"serviceTag": "AzureMonitor", "protocol": "TCP",
                                                                "portRanges": f"{8000 + w},{9000 + r}"}}
                elif kind == 4:
                    spec = {"type": "PrivateEndpoint", "privateEndpoint": {"serviceResourceId": target,
                                                                          "subresourceTarget": "account"}}
                else:
                    spec = {"type": "FQDN", "fqdn": f"{rule}.example.com"}
                items.append(obj("OutboundRule", rule, {"workspaceRef": {"name": f"pf{w}"}, **spec}))
        items.append(obj("PrivateEndpointApproval", "policy", {
            "workspaceRef": {"name": "pf0"}, "targets": [{"resourceId": target}],
            "allow": {"subscriptionIds": [MICROSOFT_MANAGED_SUBSCRIPTION_ID], "workspaceManagedNetwork": True},
            "minPendingSeconds": 0, "mode": "Approve"}))

        mark = admin.last_request_seq()
        admin.faults(".", "429", 0.10, retry_after_s=1)
        admin.faults(".", "500", 0.05)
        admin.faults(".", "503", 0.05, retry_after_s=1)
        started = time.monotonic()
        kube.apply(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}), NAMESPACE)

        killer = Killer(stack, args.kill_every, args.window_gap)
        threads = [threading.Thread(target=killer.run_periodic, daemon=True),
                   threading.Thread(target=killer.run_window, daemon=True)]
        for t in threads:
            t.start()
        time.sleep(args.minutes * 60)
        killer.stop.set()
        for t in threads:
            t.join()
        admin.clear_faults()
        chaos_s = time.monotonic() - started
        print(f"\nchaos for {chaos_s:.0f}s: {killer.periodic} periodic kills, {killer.in_window} kills in an "
              f"accepted-write window; faults cleared")

        total = 1 + args.workspaces + len(rule_names)

        def ready_counts() -> Counter:
            return Counter(o["kind"] for kind in KINDS for o in objects(cp, kind) if is_ready(o))

        converged = True
        try:
            wait("for every object to be Ready", lambda: sum(ready_counts().values()) == total, args.timeout)
        except Exception as e:  # report what did not converge
            converged = False
            print(f"NOT converged: {e}")
        settled_s = time.monotonic() - started - chaos_s
        counts = ready_counts()
        print(f"objects converged: {sum(counts.values())}/{total} ({dict(counts)}), "
              f"{settled_s:.0f}s after the chaos stopped")
        for kind in KINDS:
            for o in objects(cp, kind):
                if not is_ready(o):
                    ready = next((c for c in (o.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"), {})
                    print(f"  not Ready: {kind} {o['metadata']['name']}: {ready.get('reason')}: {ready.get('message')}")

        calls = [c for c in admin.requests(since=mark) if sub.lower() in c["path"].lower()]
        accepted = [c for c in calls if c["status"] < 400 and c["method"] != "GET"]
        per_target = Counter(t for c in accepted for t in write_targets(c))
        duplicates = Counter()
        for (kind, _), n in per_target.items():
            duplicates[kind] += n - 1
        print("duplicate writes per kind (accepted writes beyond one per target):")
        for kind in sorted({k for k, _ in per_target}):
            print(f"  {kind:<24} {duplicates[kind]:>4}   (targets {sum(1 for k, _ in per_target if k == kind)})")

        connections = {c["name"]: c for c in admin.connections(target)}
        outside = sum(1 for c in connections.values()
                      if c.get("status") == "Approved" and "foreign" in (c.get("privateEndpointId") or "").lower())
        print(f"approvals outside policy: {outside} (foreign connection is "
              f"{connections.get(foreign.get('name', 'foreign-connection'), {}).get('status')})")
        foreign_deletes = [c for c in calls if c["method"] == "DELETE" and c["path"].lower().rstrip("/").endswith("/handmade")]
        print(f"foreign DELETEs: {len(foreign_deletes)}")
        reads = sum(1 for c in calls if c["method"] == "GET")
        writes = sum(1 for c in calls if c["method"] != "GET")
        faults = sum(1 for c in calls if c.get("fault"))
        print(f"ARM reads: {reads}, writes: {writes} (accepted {len(accepted)}), faults injected: {faults}")

        ok = converged and sum(duplicates.values()) == 0 and outside == 0 and not foreign_deletes
        print("RESULT:", "ok" if ok else "NOT ok")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

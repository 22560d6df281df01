"""Restart and memory at full size, without waiting for Azure: N objects that already look converged.

    python -m tests.bench.bench_restart                       # 100 workspaces x 10 rules = 1,100 objects (make bench)
    python -m tests.bench.bench_restart --full                # 1,000 x 10 = 11,000 objects

Converging 11,000 objects through one subscription takes ARM's budget about half an hour (bench_scale measures
that). This benchmark skips it: it creates the objects and writes each one's status as the operator leaves a
converged object (Ready for its generation, kopf's diff base recorded), then starts ONE operator process over them,
as after a rollout, with the drift interval set to a day so that the figures are the operator's own, not Azure's.

Printed: objects; time from process start to the liveness endpoint; a rule changed right after start: seconds until
that change reached Azure (its PUT), which is "the first object handled"; RSS and peak RSS after one and two
minutes, and per object above a process that watches nothing; CPU; Kubernetes writes by the operator (audit log) and
ARM requests in the window. Figures, not verdicts. `--restarts N` starts the operator N times over the same objects;
`BENCH_PYSPY=/path/to/py-spy` (with `BENCH_KEEP=1`) profiles the first 45 s of each start.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import kopf  # noqa: E402

from tests.bench import bench_scale  # noqa: E402
from tests.bench.bench_scale import NAMESPACE, Audit, Run, Sampler, apply, manifests  # noqa: E402


def converged_status(obj: dict, created: dict) -> dict:
    """The status the operator leaves on a converged object, with kopf's diff base, so a new process resumes it."""
    meta = created["metadata"]
    gen = meta.get("generation", 1)
    now = "2026-01-01T00:00:00Z"
    ready = {"type": "Ready", "status": "True", "reason": "Ready", "message": "seeded as converged",
             "observedGeneration": gen, "lastTransitionTime": now}
    status: dict = {"observedGeneration": gen, "conditions": [ready]}
    if obj["kind"] == "OutboundRule":
        status.update(created=True, ruleStatus="Active", category="UserDefined")
    else:
        status.update(isolationMode="AllowOnlyApprovedOutbound", managedNetworkStatus="Active")
    storage = kopf.StatusDiffBaseStorage(field="status.kopf.last-handled-configuration")
    body = kopf.Body(created)
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=storage.build(body=body))
    status["kopf"] = patch["status"]["kopf"]
    return status


def seed(run: Run, objs: list[dict], threads: int = 16) -> float:
    from kubernetes import client, config

    api = client.CustomObjectsApi(config.new_client_from_config(str(run.cp.kubeconfig)))
    plural = {"OutboundRule": "outboundrules", "PromptFlowWorkspace": "promptflowworkspaces"}
    started = time.monotonic()

    def one(obj: dict) -> None:
        name, kind = obj["metadata"]["name"], obj["kind"]
        created = api.get_namespaced_custom_object("netiso.promptflow.dev", "v1alpha1", NAMESPACE, plural[kind], name)
        api.patch_namespaced_custom_object_status("netiso.promptflow.dev", "v1alpha1", NAMESPACE, plural[kind], name,
                                                  {"status": converged_status(obj, created)})

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, objs))
    return time.monotonic() - started


def restart(run: Run, args: argparse.Namespace, admin, objects: int, base: float, attempt: int) -> None:
    """Start one operator over the converged objects, change one rule right away, and watch the window."""
    started = run.start_operator()
    assert run.proc is not None and run.op is not None
    booted = run.op.booted_at - started
    if os.environ.get("BENCH_PYSPY"):  # a py-spy binary: profile the first 45 s (collapsed stacks in the workdir)
        out = run.workdir / f"restart-{attempt}.pyspy.txt"
        subprocess.Popen([os.environ["BENCH_PYSPY"], "record", "-d", "45", "-r", "50", "-f", "raw", "-o", str(out),
                          "-p", str(run.proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seq = admin.last_request_seq()
    cpu0 = run.proc.cpu_seconds()
    rule, ws = "pf-0001-r02", "ws-0001"
    changed_at = time.time()
    run.cp.kubectl("patch", "outboundrule", rule, "-n", NAMESPACE, "--type=merge",
                   "-p", json.dumps({"spec": {"fqdn": f"after-restart-{attempt}.example.com"}}))
    reached = None
    with Sampler(run.proc) as sampler:
        deadline = time.time() + args.window
        while time.time() < deadline:
            if reached is None:
                reached = next((c["time"] for c in admin.requests(since=seq) if c["method"] != "GET"
                                and f"/workspaces/{ws}/" in c["path"].lower()), None)
            time.sleep(0.5)
        rss_end, peak = run.proc.rss_mb(), max(run.proc.peak_rss_mb(), sampler.max_rss)
    cpu = (run.proc.cpu_seconds() - cpu0) / max(time.time() - started, 1e-9)
    time.sleep(2.0)
    calls = admin.requests(since=seq)
    # The changed rule's own status and its Event (named <rule>.<hash>, handlers/announce.py) are expected.
    writes = [w for w in run.audit.operator_writes(started, time.time())
              if (w.get("objectRef") or {}).get("name", "").split(".")[0] != rule]
    print(f"  liveness endpoint answered {booted:.1f} s after process start")
    gate = re.findall(r"handlers start \(([\d.]+) s after start\)", run.op.log_path.read_text(errors="replace"))
    print(f"  first handler (kopf's index gate open) {float(gate[-1]):.1f} s after the operator's modules loaded"
          if gate else "  the index gate did not open in the window")
    print(f"  a rule changed right after start reached Azure {reached - changed_at:.1f} s after the change"
          if reached else "  a rule changed right after start did not reach Azure within the window")
    print(f"  RSS after {args.window:.0f} s: {rss_end:.0f} MB, peak {peak:.0f} MB; with no objects {base:.0f} MB: "
          f"{(rss_end - base) * 1024 / objects:.1f} KB per object")
    marks = [5, 10, 15, 20, 30, 60, args.window]
    timeline = [next((mb for t, mb in sampler.rss if t - started >= m), None) for m in marks]
    print("  RSS after start: " + ", ".join(f"{m:.0f} s {mb:.0f} MB" for m, mb in zip(marks, timeline) if mb))
    print(f"  CPU since start {cpu:.3f} cores")
    print(f"  Kubernetes writes by the operator (besides the changed rule's): {len(writes)}")
    for what, n in Audit.describe(writes).most_common(5):
        print(f"    {n:8d}  {what}")
    print(f"  ARM requests in the window: {len(calls)}")
    for route, n in Counter(f"{c['method']} {c.get('route') or '?'}" for c in calls).most_common(6):
        print(f"    {n:8d}  {route}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """This benchmark's options, over bench_scale's defaults (its Run reads those: tests/unit/test_bench_args.py)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspaces", type=int, default=100)
    ap.add_argument("--full", action="store_true", help="1,000 workspaces x 10 rules = 11,000 objects")
    ap.add_argument("--rules", type=int, default=10)
    ap.add_argument("--window", type=float, default=120.0, help="seconds to watch the restarted process")
    ap.add_argument("--restarts", type=int, default=1, help="operator starts over the same seeded objects")
    ap.add_argument("--operator-env", action="append", default=[], metavar="NAME=VALUE",
                    help="extra environment of the operator process")
    args = ap.parse_args(argv)
    for k, v in vars(bench_scale.parser().parse_args([])).items():
        if not hasattr(args, k):
            setattr(args, k, v)
    if args.full:
        args.workspaces, args.rules = 1000, 10
    # The day-long drift interval keeps Azure out of the window.
    args.drift_interval, args.timeout = 86400.0, 900.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-restart-"))
    run = Run(args, workdir)
    try:
        run.start()
        admin = run.sim.admin
        sub, rg = "9c1b6d2e-0000-4000-8000-000000000001", "rg-restart"
        admin.seed_subscription(sub)
        admin.seed_resource_group(sub, rg)
        targets = [(f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/oai{n}",
                    "account") for n in range(args.targets)]
        objs = [o for g in manifests(sub, rg, args.workspaces, args.rules, targets) for o in g]
        for o in objs:  # as the operator leaves them: its finalizer in place
            o["metadata"]["finalizers"] = ["netiso.promptflow.dev/finalizer"]
        for i in range(args.workspaces):
            admin.seed_workspace(sub, rg, f"ws-{i:04d}", isolation_mode="AllowOnlyApprovedOutbound")
        # The base: the same process over an empty namespace, so the per-object cost is what objects add.
        run.start_operator()
        time.sleep(20)
        assert run.proc is not None
        base = run.proc.rss_mb()
        run.op.stop()
        print(f"bench_restart: {len(objs)} objects ({args.workspaces} workspaces x {args.rules} rules) seeded as converged")
        t = time.monotonic()
        for n in range(0, len(objs), 2000):
            apply(run.cp, workdir, objs[n:n + 2000], f"chunk-{n}")
        print(f"  created in {time.monotonic() - t:.0f} s; status written in {seed(run, objs):.0f} s")

        for attempt in range(args.restarts):
            if attempt:
                run.op.stop()
                print(f"  restart {attempt + 1} of {args.restarts}:")
            restart(run, args, admin, len(objs), base, attempt)
    finally:
        run.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Scale: many workspaces and rules in one operator process; memory, CPU, writes, reads, connections, logs, restart.

    python -m tests.bench.bench_scale                            # small: 10 workspaces x 10 rules (110 objects)
    python -m tests.bench.bench_scale --workspaces 100           # 1,100 objects
    python -m tests.bench.bench_scale --full                     # 1,000 x 10 = 11,000 objects, all at once and in
                                                                 # batches, 60 s drift interval (needs a big machine)

Runs the real thing: etcd + kube-apiserver (with an audit log, to count the operator's Kubernetes writes), the Azure
simulator answering every ARM request after `--latency` seconds, and ONE operator process at its deployment log
level (INFO, no --verbose). Every workspace lives in one subscription; each gets `--rules` OutboundRules of which 2
are PrivateEndpoint rules to targets shared by all workspaces (`--targets` distinct ones).

Printed, per apply mode (all at once / in batches / every object created before the operator starts):
- objects and converge time (apply start -> every object Ready for its generation);
- RSS and peak RSS of the operator process (/proc/<pid>/status VmRSS, VmHWM), CPU cores while converging;
- API server connections at peak: the operator's ESTABLISHED TCP sockets to the API server port (its fds' inodes
  matched in /proc/<pid>/net/tcp);
then, at steady state, per drift interval: ARM reads and writes (simulator request log), Kubernetes writes by the
operator (audit log: create/update/patch/delete not made by kubectl), CPU cores, log bytes; metric series (total and
per object, from /metrics); event -> first ARM request latency (one rule's spec patched `--patches` times: p50,
p95, max); and after a restart of the operator: time to the first handler (first ARM request), Azure and Kubernetes
writes during the first drift interval.

Figures, not verdicts: exit status is 0 unless the run itself fails (nothing here asserts the machine's speed).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.sim import Simulator  # noqa: E402
from tests.support import procstat  # noqa: E402
from tests.support.controlplane import ControlPlane  # noqa: E402
from tests.support.operator_process import OperatorProcess  # noqa: E402
from tests.support.tenancy import grant  # noqa: E402

API = "netiso.promptflow.dev/v1alpha1"
NAMESPACE = "bench-scale"
PAGE = os.sysconf("SC_PAGE_SIZE")
# Kubernetes writes worth counting; reads are not audited (they would swamp the log at this size).
AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: {level}
    verbs: ["create", "update", "patch", "delete"]
  - level: None
"""
TARGET_KINDS = (("Microsoft.CognitiveServices/accounts", "oai", "account"),
                ("Microsoft.Search/searchServices", "srch", "searchService"),
                ("Microsoft.Storage/storageAccounts", "st", "blob"),
                ("Microsoft.KeyVault/vaults", "kv", "vault"))


# --- the operator process, from /proc ---------------------------------------------------------------------------------


class Proc:
    def __init__(self, pid: int, apiserver_port: int) -> None:
        self.pid, self.port = pid, apiserver_port

    def _status(self) -> dict[str, str]:
        out = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            k, _, v = line.partition(":")
            out[k] = v.strip()
        return out

    def rss_mb(self) -> float:
        return int(self._status()["VmRSS"].split()[0]) / 1024

    def peak_rss_mb(self) -> float:
        return int(self._status()["VmHWM"].split()[0]) / 1024

    def cpu_seconds(self) -> float:
        return procstat.cpu_seconds(self.pid)

    def apiserver_connections(self) -> int:
        """ESTABLISHED TCP sockets of this process whose remote port is the API server's."""
        inodes = set()
        fd_dir = Path(f"/proc/{self.pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        n = 0
        for table in ("tcp", "tcp6"):
            try:
                lines = Path(f"/proc/{self.pid}/net/{table}").read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                cols = line.split()
                remote_port = int(cols[2].rsplit(":", 1)[1], 16)
                if cols[3] == "01" and remote_port == self.port and cols[9] in inodes:
                    n += 1
        return n


class Sampler:
    """Samples the operator every `period` seconds in a thread: peak connections, peak RSS."""

    def __init__(self, proc: Proc, period: float = 0.5) -> None:
        self.proc, self.period = proc, period
        self.max_conns, self.max_rss = 0, 0.0
        self.rss: list[tuple[float, float]] = []  # (time.time(), MB): where the peak falls
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.max_conns = max(self.max_conns, self.proc.apiserver_connections())
                rss = self.proc.rss_mb()
                self.max_rss = max(self.max_rss, rss)
                self.rss.append((time.time(), rss))
            except (OSError, KeyError, ValueError):
                pass
            self._stop.wait(self.period)


# --- Kubernetes writes, from the audit log ----------------------------------------------------------------------------


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Audit:
    def __init__(self, path: Path) -> None:
        self.path = path

    def events(self, since: float, until: float | None = None) -> list[dict]:
        out = []
        if not self.path.exists():
            return out
        with open(self.path) as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                t = _ts(e["stageTimestamp"])
                if t >= since and (until is None or t < until):
                    out.append(e)
        return out

    def operator_writes(self, since: float, until: float | None = None) -> list[dict]:
        """The operator's writes: everything not sent by kubectl (the bench) or the API server itself."""
        return [e for e in self.events(since, until)
                if not (e.get("userAgent") or "").startswith(("kubectl", "kube-apiserver"))
                and (e.get("user") or {}).get("username") == "admin"]

    @staticmethod
    def describe(events: list[dict]) -> Counter:
        c: Counter = Counter()
        for e in events:
            ref = e.get("objectRef") or {}
            sub = f"/{ref['subresource']}" if ref.get("subresource") else ""
            c[f"{e['verb']} {ref.get('resource', '?')}{sub}"] += 1
        return c


# --- objects ----------------------------------------------------------------------------------------------------------


def manifests(sub: str, rg: str, workspaces: int, rules: int, targets: list[tuple[str, str]]) -> list[list[dict]]:
    """Per workspace: [workspace, rule, rule, ...]; rules 0 and 1 are PrivateEndpoint, the others FQDN."""
    out = []
    for i in range(workspaces):
        ws = f"pf-{i:04d}"
        group = [{"apiVersion": API, "kind": "PromptFlowWorkspace", "metadata": {"name": ws, "namespace": NAMESPACE},
                  "spec": {"azure": {"subscriptionId": sub, "resourceGroup": rg, "workspaceName": f"ws-{i:04d}"},
                           "network": {"mode": "ManagedVirtualNetwork", "isolationMode": "AllowOnlyApprovedOutbound",
                                       "provision": {"enabled": True}}}}]
        for j in range(rules):
            spec: dict = {"workspaceRef": {"name": ws}}
            if j < 2:
                rid, sub_target = targets[(i * 2 + j) % len(targets)]
                spec.update(type="PrivateEndpoint", privateEndpoint={"serviceResourceId": rid, "subresourceTarget": sub_target})
            else:
                spec.update(type="FQDN", fqdn=f"host{j}.ws{i}.example.com")
            group.append({"apiVersion": API, "kind": "OutboundRule", "metadata": {"name": f"{ws}-r{j:02d}",
                          "namespace": NAMESPACE}, "spec": spec})
        out.append(group)
    return out


ONE_READY = ('{.metadata.generation}{" "}{.status.conditions[?(@.type=="Ready")].status}{" "}'
             '{.status.conditions[?(@.type=="Ready")].observedGeneration}')
READY_JSONPATH = '{range .items[*]}' + ONE_READY + '{" "}{.kind}{"\\n"}{end}'
# A LIST of 11,000 objects costs the API server (on the operator's cores) about a second: polled no more often.
POLL_S = 5.0


def count_ready(cp: ControlPlane, by_kind: Counter | None = None) -> tuple[int, int]:
    """(objects, Ready for their generation); `by_kind` gets the Ready ones per kind."""
    res = cp.kubectl("get", "promptflowworkspaces,outboundrules", "-n", NAMESPACE, "-o", f"jsonpath={READY_JSONPATH}",
                     timeout=300, check=False)
    if res.returncode != 0:  # a busy API server may time a LIST out: that is a figure too, not the end of the run
        print(f"  (the API server did not answer a LIST: {res.stderr.strip()[:160]})")
        return -1, 0
    total = ready = 0
    for line in res.stdout.splitlines():
        parts = line.split()
        if not parts:
            continue
        total += 1
        if len(parts) == 4 and parts[1] == "True" and parts[0] == parts[2]:
            ready += 1
            if by_kind is not None:
                by_kind[parts[3]] += 1
    return total, ready


def apply(cp: ControlPlane, workdir: Path, objs: list[dict], name: str) -> None:
    path = workdir / f"{name}.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    cp.kubectl("create", "-f", str(path), timeout=1800)


# --- figures ----------------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def scrape_series(url: str, namespace: str) -> tuple[int, int, Counter]:
    """(all promptflow_netiso_ series, those naming an object of `namespace`, those by metric name)."""
    with urllib.request.urlopen(url, timeout=30) as r:
        text = r.read().decode()
    lines = [ln for ln in text.splitlines() if ln.startswith("promptflow_netiso_")]
    ours = [ln for ln in lines if f'namespace="{namespace}"' in ln]
    by_name = Counter(ln.split("{", 1)[0].split(" ", 1)[0] + ("{kind=" + ln.split('kind="', 1)[1].split('"', 1)[0] + "}"
                                                            if 'kind="' in ln else "") for ln in ours)
    return len(lines), len(ours), by_name


def log_bytes(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


class Run:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args, self.workdir = args, workdir
        self.audit_path = workdir / "audit.log"
        policy = workdir / "audit-policy.yaml"
        # BENCH_AUDIT_LEVEL=Request keeps the bodies, to see what a write changed.
        policy.write_text(AUDIT_POLICY.replace("{level}", os.environ.get("BENCH_AUDIT_LEVEL", "Metadata")))
        self.cp = ControlPlane(workdir / "control-plane", log=lambda *_: None, apiserver_args=(
            f"--audit-policy-file={policy}", f"--audit-log-path={self.audit_path}", "--audit-log-format=json",
            "--audit-log-mode=batch", "--audit-log-batch-max-wait=1s"))
        self.audit = Audit(self.audit_path)
        self.sim = Simulator(request_log_size=2_000_000)
        self.op: OperatorProcess | None = None
        self.proc: Proc | None = None

    def start(self) -> None:
        self.cp.start()
        self.sim.start_in_thread()
        self.cp.kubectl("create", "namespace", NAMESPACE)
        grant(self.cp, NAMESPACE)  # secure by default: the benchmark's namespace is granted every scope
        admin = self.sim.admin
        admin.config(provision_duration_s=1, lro_duration_s=self.args.lro)
        if self.args.throttle == "off":  # an endpoint that neither throttles nor counts (not ARM: see azure/limits.py)
            admin.config(throttle=None)
        if self.args.latency > 0:
            admin.faults(".", "slow", rate=1.0, delay_s=self.args.latency)

    def start_operator(self) -> float:
        if self.op is not None:
            self.op.stop()
        env = {**self.cp.env(), **self.sim.env(), "PROMPTFLOW_NETISO_DRIFT_INTERVAL": str(self.args.drift_interval),
               **dict(kv.split("=", 1) for kv in self.args.operator_env)}
        self.op = OperatorProcess(env, self.workdir, verbose=False)
        started = time.time()
        self.op.start(timeout=300)
        self.op.booted_at = time.time()  # healthy: Python and kopf are up, the handlers can start
        self.proc = Proc(self.op.proc.pid, int(self.cp.server.rsplit(":", 1)[1]))
        return started

    def stop(self) -> None:
        if self.op is not None:
            self.op.stop()
        self.sim.stop_thread()
        self.cp.stop()

    def finish(self) -> None:
        """Stop everything; remove the working directory unless BENCH_KEEP is set."""
        self.stop()
        if os.environ.get("BENCH_KEEP") is None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            print(f"(kept {self.workdir})")

    def seed(self, sub: str, rg: str) -> list[tuple[str, str]]:
        admin = self.sim.admin
        self.sub, self.rg = sub, rg
        for i in range(self.args.workspaces):
            admin.seed_workspace(sub, rg, f"ws-{i:04d}")
        targets = []
        for i in range(self.args.targets):
            provider, prefix, subresource = TARGET_KINDS[i % len(TARGET_KINDS)]
            rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{provider}/{prefix}{i}shared"
            admin.seed_target(rid)
            targets.append((rid, subresource))
        return targets

    def converge(self, groups: list[list[dict]], mode: str, started_at: float) -> dict:
        """From the apply (or, with every object created beforehand, from the operator's process start) until every
        object is Ready."""
        assert self.proc is not None
        objects = sum(len(g) for g in groups)
        cpu0, t0, seq = self.proc.cpu_seconds(), time.monotonic(), self.sim.admin.last_request_seq()
        if mode == "precreated":
            t0 -= time.time() - started_at
            cpu0 = 0.0  # the process's whole life
        applied_at: list[float] = []

        def apply_all() -> None:
            if mode == "all":
                apply(self.cp, self.workdir, [o for g in groups for o in g], "all")
            elif mode == "batches":
                per = max(1, self.args.batch_workspaces)
                for n, start in enumerate(range(0, len(groups), per)):
                    apply(self.cp, self.workdir, [o for g in groups[start:start + per] for o in g], f"batch-{n}")
                    time.sleep(self.args.batch_gap)
            applied_at.append(time.monotonic() - t0)

        # Polled while kubectl creates the objects (one request each, in turn: minutes at 11,000 on a busy API
        # server), so the Ready marks show the operator, not the end of the apply.
        with Sampler(self.proc) as sampler, concurrent.futures.ThreadPoolExecutor(1) as pool:
            applying = pool.submit(apply_all)
            deadline = t0 + self.args.timeout
            ready, kinds_done, progress = 0, {}, []
            while time.monotonic() < deadline:
                by_kind: Counter = Counter()
                total, ready = count_ready(self.cp, by_kind)
                now = time.monotonic() - t0
                progress.append((now, ready))
                for kind, wanted in (("PromptFlowWorkspace", len(groups)), ("OutboundRule", objects - len(groups))):
                    if by_kind[kind] >= wanted and kind not in kinds_done:
                        kinds_done[kind] = now
                if applying.done():
                    applying.result()  # kubectl's failure, if any
                if total == objects and ready == objects:
                    break
                time.sleep(POLL_S)
            else:
                raise SystemExit(f"timed out after {self.args.timeout:.0f}s: {ready}/{objects} Ready")
            elapsed = time.monotonic() - t0
            cpu = self.proc.cpu_seconds() - cpu0
        calls = self.sim.admin.requests(since=seq)
        wall_t0 = time.time() - (time.monotonic() - t0)
        timeline = [(at - wall_t0, mb) for at, mb in sampler.rss]
        return {"objects": objects, "converge_s": elapsed, "applied_s": applied_at[0], "cpu_cores": cpu / elapsed,
                "rss_timeline": timeline,
                "kinds_done": kinds_done,
                "progress": progress,
                "arm_requests": len(calls), "arm_429": sum(1 for c in calls if c.get("status") == 429),
                "arm_routes": Counter(f"{c['method']} {c.get('route') or '?'}" for c in calls),
                "rss_mb": self.proc.rss_mb(), "peak_rss_mb": max(self.proc.peak_rss_mb(), sampler.max_rss),
                "apiserver_conns_peak": sampler.max_conns}

    def steady(self, objects: int, intervals: int) -> dict:
        """Counts over `intervals` whole drift intervals, once the first drift checks after convergence have run."""
        assert self.proc is not None and self.op is not None
        admin, interval = self.sim.admin, self.args.drift_interval
        # Every object's first drift check (initial delay 0.5..1 interval) is behind us, and so is kopf's one-off
        # touch of a rule whose waiting timer was stopping when it turned Ready (it re-checks after 60 s).
        time.sleep(max(interval, self.args.settle))
        seq, t0, cpu0, log0 = admin.last_request_seq(), time.time(), self.proc.cpu_seconds(), log_bytes(self.op.log_path)
        conns = 0
        end = t0 + intervals * interval
        while time.time() < end:
            conns = max(conns, self.proc.apiserver_connections())
            time.sleep(min(1.0, max(0.0, end - time.time())))
        t1 = time.time()
        time.sleep(2.0)  # let the audit batch (1 s) reach the file
        calls = admin.requests(since=seq)
        writes = self.audit.operator_writes(t0, t1)
        total, ours, by_name = scrape_series(self.op.metrics_url, NAMESPACE)
        arm_reads = sum(1 for c in calls if c["method"] == "GET")
        ws = admin.workspace(f"/subscriptions/{self.sub}/resourceGroups/{self.rg}/providers/"
                             "Microsoft.MachineLearningServices/workspaces/ws-0000")
        size = max(1, int(admin.config().get("pageSize") or 1))
        pages = max(1, -(-len(ws["body"]["properties"]["managedNetwork"].get("outboundRules") or {}) // size))
        routes = Counter(f"{c['method']} {c.get('route') or '?'}" for c in calls)
        rule_pages = sum(1 for c in calls if c.get("route") == "ml.rules.list")
        return {"intervals": intervals, "arm_reads": arm_reads / intervals, "pages_per_list": pages,
                "arm_429": sum(1 for c in calls if c.get("status") == 429) / intervals,
                "arm_read_ops": (arm_reads - rule_pages + rule_pages / pages) / intervals, "arm_writes": (len(calls) - arm_reads) / intervals,
                "arm_routes": {k: v / intervals for k, v in routes.items()},
                "k8s_writes": len(writes) / intervals, "k8s_write_kinds": Audit.describe(writes),
                "cpu_cores": (self.proc.cpu_seconds() - cpu0) / (t1 - t0),
                "log_bytes": (log_bytes(self.op.log_path) - log0) / intervals,
                "series_total": total, "series_objects": ours, "series_per_object": ours / max(objects, 1), "series_by_name": by_name,
                "rss_mb": self.proc.rss_mb(), "peak_rss_mb": self.proc.peak_rss_mb(), "apiserver_conns": conns}

    def latency(self, patches: int) -> dict:
        """Patch one FQDN rule's destination back and forth; per patch: audit time of the write -> first ARM request
        on its workspace (simulator log time, which is after the simulator's own latency: subtracted)."""
        admin = self.sim.admin
        rule, ws = "pf-0000-r02", "ws-0000"
        out = []
        for n in range(patches):
            seq = admin.last_request_seq()
            host = f"host{n % 2}.latency.example.com"
            before = time.time()
            self.cp.kubectl("patch", "outboundrule", rule, "-n", NAMESPACE, "--type=merge",
                            "-p", json.dumps({"spec": {"fqdn": host}}))
            first = None
            deadline = time.monotonic() + 30
            while first is None and time.monotonic() < deadline:
                for c in admin.requests(since=seq):
                    if f"/workspaces/{ws}/" in c["path"].lower() or c["path"].lower().endswith(f"/workspaces/{ws}"):
                        first = c
                        break
                time.sleep(0.05)
            if first is None:
                raise SystemExit("no ARM request within 30 s of a patch")
            time.sleep(1.5)  # let the audit batch reach the file
            patched = [e for e in self.audit.events(before - 1) if e["verb"] == "patch"
                       and (e.get("objectRef") or {}).get("name") == rule and (e.get("userAgent") or "").startswith("kubectl")]
            t_patch = _ts(patched[-1]["stageTimestamp"]) if patched else before
            out.append(max(0.0, first["time"] - self.args.latency - t_patch))
            self._wait_rule_ready(rule)
        return {"n": len(out), "p50": percentile(out, 0.5), "p95": percentile(out, 0.95), "max": max(out)}

    def _wait_rule_ready(self, rule: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            res = self.cp.kubectl("get", "outboundrule", rule, "-n", NAMESPACE, "-o", f"jsonpath={ONE_READY}")
            parts = res.stdout.split()
            if len(parts) == 3 and parts[1] == "True" and parts[0] == parts[2]:
                return
            time.sleep(0.1)
        raise SystemExit(f"rule {rule} not Ready within 60 s of a patch")

    def restart(self) -> dict:
        """Stop the operator (SIGTERM, like a rollout) and start it over the converged objects. As soon as the new
        process answers its liveness probe, one rule's spec is changed: how long until that change reaches Azure is
        what a person editing during a rollout sees (the converged objects themselves are left to their drift checks)."""
        admin = self.sim.admin
        self.op.stop()
        seq = admin.last_request_seq()  # the old process's requests are behind us
        started = self.start_operator()
        assert self.proc is not None and self.op is not None
        cpu0 = self.proc.cpu_seconds()
        rule, ws = "pf-0001-r02", "ws-0001"
        patched_at = time.time()
        self.cp.kubectl("patch", "outboundrule", rule, "-n", NAMESPACE, "--type=merge",
                        "-p", json.dumps({"spec": {"fqdn": "after-restart.latency.example.com"}}))
        first = change = None
        deadline = time.monotonic() + self.args.timeout
        while (first is None or change is None) and time.monotonic() < deadline:
            calls = admin.requests(since=seq)
            first = calls[0]["time"] if calls else None
            change = next((c["time"] for c in calls if c["time"] >= patched_at and f"/workspaces/{ws}/" in c["path"].lower()
                           and c["method"] != "GET"), None)
            time.sleep(0.2)
        window_end = started + self.args.drift_interval
        time.sleep(max(0.0, window_end - time.time()) + 2.0)
        calls = [c for c in admin.requests(since=seq) if c["time"] < window_end]
        # The changed rule's own status and its Event (named <rule>.<hash>, handlers/announce.py) are expected.
        writes = [w for w in self.audit.operator_writes(started, window_end)
                  if (w.get("objectRef") or {}).get("name", "").split(".")[0] != rule]
        booted = self.op.booted_at
        return {"first_handler_s": (first - started) if first else float("nan"),
                "first_after_ready_s": (first - booted) if first else float("nan"),
                "change_s": (change - patched_at) if change else float("nan"),
                "change_after_start_s": (change - started) if change else float("nan"),
                "arm_reads": sum(1 for c in calls if c["method"] == "GET"),
                "arm_writes": sum(1 for c in calls if c["method"] != "GET" and f"/workspaces/{ws}/" not in c["path"].lower()),
                "arm_429": sum(1 for c in calls if c.get("status") == 429),
                "k8s_writes": len(writes), "k8s_write_kinds": Audit.describe(writes),
                "cpu_cores": (self.proc.cpu_seconds() - cpu0) / max(time.time() - started, 1e-9),
                "rss_mb": self.proc.rss_mb()}


def show_converge(title: str, c: dict) -> None:
    print(f"\n{title}")
    print(f"  objects                  {c['objects']}")
    print(f"  converge time            {c['converge_s']:.1f} s (polled every {POLL_S:g} s)")
    if c.get("created_before_s") is not None:
        print(f"    every object created before the operator started (kubectl took {c['created_before_s']:.0f} s); "
              f"timed from the operator's process start")
    else:
        print(f"    kubectl created every object by {c['applied_s']:.0f} s")
    for kind, at in c["kinds_done"].items():
        print(f"    every {kind} Ready at {at:.0f} s")
    marks = {}
    for at, ready in c["progress"]:
        for share in (0.25, 0.5, 0.75, 0.9):
            if share not in marks and ready >= share * c["objects"]:
                marks[share] = at
    print("    Ready objects: " + ", ".join(f"{share:.0%} at {at:.0f} s" for share, at in marks.items()))
    print(f"  RSS after / peak         {c['rss_mb']:.0f} MB / {c['peak_rss_mb']:.0f} MB")
    if c.get("rss_timeline"):
        top_at, top = max(c["rss_timeline"], key=lambda s: s[1])
        near = [min(c["rss_timeline"], key=lambda s: abs(s[0] - at)) for at in marks.values()]
        print(f"    sampled peak {top:.0f} MB at {top_at:.0f} s; at the Ready marks: "
              + ", ".join(f"{mb:.0f} MB at {at:.0f} s" for at, mb in near))
    print(f"  CPU while converging     {c['cpu_cores']:.2f} cores")
    print(f"  ARM requests (429s)      {c['arm_requests']} ({c['arm_429']})")
    for route, n in c["arm_routes"].most_common(8):
        print(f"    {n:8d}  {route}")
    print(f"  API server conns, peak   {c['apiserver_conns_peak']}")


def show_steady(s: dict, workspaces: int, interval: float) -> None:
    print(f"\nsteady state, per drift interval ({interval:g} s, {s['intervals']} intervals):")
    print(f"  ARM reads                {s['arm_reads']:.1f} requests ({s['arm_reads'] / workspaces:.2f} per workspace); "
          f"{s['arm_read_ops']:.1f} reads counting a paged rule LIST ({s['pages_per_list']} pages) once "
          f"({s['arm_read_ops'] / workspaces:.2f} per workspace)")
    print(f"  ARM writes               {s['arm_writes']:.1f}")
    print(f"  ARM answers 429          {s['arm_429']:.1f}")
    for route, n in sorted(s["arm_routes"].items(), key=lambda kv: -kv[1]):
        print(f"    {n:8.1f}  {route}")
    print(f"  Kubernetes writes        {s['k8s_writes']:.1f}")
    for what, n in s["k8s_write_kinds"].most_common():
        print(f"    {n / s['intervals']:8.1f}  {what}")
    print(f"  CPU                      {s['cpu_cores']:.3f} cores")
    print(f"  log bytes                {s['log_bytes']:.0f}")
    print(f"  RSS / peak               {s['rss_mb']:.0f} MB / {s['peak_rss_mb']:.0f} MB")
    print(f"  API server conns         {s['apiserver_conns']}")
    print(f"  metric series            {s['series_total']} ({s['series_objects']} naming objects: "
          f"{s['series_per_object']:.2f} per object)")
    for name, n in sorted(s["series_by_name"].items()):
        print(f"    {n:8d}  {name}")


def parser() -> argparse.ArgumentParser:
    """The options (bench_restart starts from their defaults)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspaces", type=int, default=10)
    ap.add_argument("--rules", type=int, default=10, help="OutboundRules per workspace (2 of them PrivateEndpoint)")
    ap.add_argument("--targets", type=int, default=4, help="distinct PrivateEndpoint targets shared by all workspaces")
    ap.add_argument("--drift-interval", type=float, default=15.0)
    ap.add_argument("--intervals", type=int, default=2, help="drift intervals to count at steady state")
    ap.add_argument("--settle", type=float, default=65.0, help="seconds after converging before counting")
    ap.add_argument("--latency", type=float, default=0.02, help="seconds the simulator takes per ARM request")
    ap.add_argument("--lro", type=float, default=0.5, help="seconds a long-running operation runs in the simulator")
    ap.add_argument("--throttle", choices=["arm", "off"], default="arm",
                    help="arm: the simulator throttles as ARM does and reports what is left; off: neither")
    ap.add_argument("--mode", choices=["all", "batches", "precreated", "both"], default="all",
                    help="all: one kubectl create while the operator runs; batches: several; precreated: every "
                         "object created before the operator starts (its own converge, without kubectl's pace)")
    ap.add_argument("--batch-workspaces", type=int, default=10, help="workspaces (with their rules) per batch")
    ap.add_argument("--batch-gap", type=float, default=2.0, help="seconds between batches")
    ap.add_argument("--patches", type=int, default=20, help="patches of one rule for the event -> ARM latency")
    ap.add_argument("--no-restart", action="store_true")
    ap.add_argument("--operator-env", action="append", default=[], metavar="NAME=VALUE",
                    help="extra environment of the operator process (e.g. MALLOC_ARENA_MAX=2)")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--full", action="store_true", help="1,000 workspaces x 10 rules, both modes, 60 s interval")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.full:
        args.workspaces, args.rules, args.drift_interval, args.mode = 1000, 10, 60.0, "both"
        args.batch_workspaces, args.timeout = 100, 3600

    modes = ["all", "batches"] if args.mode == "both" else [args.mode]
    print(f"bench_scale: {args.workspaces} workspaces x {args.rules} rules (2 PrivateEndpoint, {args.targets} shared "
          f"targets), drift interval {args.drift_interval:g} s, ARM latency {args.latency * 1000:.0f} ms, "
          f"ARM throttling {'as ARM' if args.throttle == 'arm' else 'off, no remaining counts'}, modes {', '.join(modes)}")
    for mode in modes:
        workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
        run = Run(args, workdir)
        try:
            run.start()
            sub, rg = str(uuid.uuid4()), f"rg-scale-{uuid.uuid4().hex[:6]}"
            targets = run.seed(sub, rg)
            groups = manifests(sub, rg, args.workspaces, args.rules, targets)
            created_before = None
            if mode == "precreated":
                t = time.monotonic()
                apply(run.cp, workdir, [o for g in groups for o in g], "all")
                created_before = time.monotonic() - t
            c = run.converge(groups, mode, started_at=run.start_operator())
            c["created_before_s"] = created_before
            how = {"all": "applied all at once", "precreated": "every object created before the operator started",
                   "batches": f"applied in batches of {args.batch_workspaces} workspaces"}[mode]
            show_converge(f"converge from cold, {how}:", c)
            s = run.steady(c["objects"], args.intervals)
            show_steady(s, args.workspaces, args.drift_interval)
            if mode == modes[0] and args.patches:
                lat = run.latency(args.patches)
                print(f"\nevent -> first ARM request ({lat['n']} patches of one rule, simulator latency subtracted): "
                      f"p50 {lat['p50'] * 1000:.0f} ms  p95 {lat['p95'] * 1000:.0f} ms  max {lat['max'] * 1000:.0f} ms")
            if not args.no_restart and mode == modes[-1]:
                r = run.restart()
                print(f"\nrestart over {c['objects']} converged objects:")
                print(f"  a rule changed right after start reached Azure {r['change_s']:.1f} s after the change "
                      f"({r['change_after_start_s']:.1f} s after process start)")
                print(f"  first ARM request after start  {r['first_handler_s']:.1f} s "
                      f"({r['first_after_ready_s']:.1f} s after the liveness endpoint answered)")
                print(f"  in the first drift interval, besides that change: ARM reads {r['arm_reads']} "
                      f"({r['arm_429']} answered 429), ARM writes {r['arm_writes']}, Kubernetes writes {r['k8s_writes']}")
                for what, n in r["k8s_write_kinds"].most_common():
                    print(f"    {n:8d}  {what}")
                print(f"  CPU since start {r['cpu_cores']:.2f} cores, RSS {r['rss_mb']:.0f} MB")
        finally:
            run.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())

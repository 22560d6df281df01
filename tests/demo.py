"""The main job, locally: a real control plane, the Azure simulator, the operator, and the samples converging.

    make demo                      # runs until Ctrl-C, leaves .demo/kubeconfig for kubectl
    python -m tests.demo --exit-when-converged   # what the e2e test of the demo runs

What is seeded in the simulator is derived from crds/samples/, so the samples and the demo cannot drift apart.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import sys
import time
from pathlib import Path

import yaml

from tests.sim import Simulator
from tests.support.stack import LocalStack
from tests.support.controlplane import REPO
from tests.support.kube import Kube, is_ready

SAMPLES = REPO / "crds" / "samples"
NAMESPACE = "promptflow-demo"
DEMO_ENV = {  # quicker loops than production so the story fits in a minute
    "PROMPTFLOW_NETISO_DRIFT_INTERVAL": "10",
    "PROMPTFLOW_NETISO_SLOW_RETRY": "10",
    "PROMPTFLOW_NETISO_APPROVAL_PENDING_INTERVAL": "2",
}


def say(msg: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def load_samples() -> list[dict]:
    docs = []
    for path in sorted(SAMPLES.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def seed(sim: Simulator, docs: list[dict]) -> None:
    """Create in the simulator the Azure resources the samples point at."""
    admin = sim.admin
    for d in docs:
        spec = d.get("spec", {})
        if d["kind"] == "PromptFlowWorkspace":
            a = spec["azure"]
            body = admin.seed_workspace(a["subscriptionId"], a["resourceGroup"], a["workspaceName"])
            if (spec.get("network") or {}).get("mode") == "BringYourOwnVirtualNetwork":
                seed_own_network(admin, spec, body["id"])
            else:
                say(f"simulator: workspace {a['workspaceName']} (isolation Disabled, managed network not provisioned)")
        elif d["kind"] == "OutboundRule" and spec.get("type") == "PrivateEndpoint":
            target = spec["privateEndpoint"]["serviceResourceId"]
            # The stuck case from Azure's guidance: the connection stays Pending until someone approves it.
            admin.seed_target(target, pe_behaviour="pending")
            say(f"simulator: target {target.rsplit('/', 1)[-1]} (its private endpoint connections stay Pending)")
        elif d["kind"] == "PrivateEndpointApproval":
            for t in spec.get("targets", []):
                admin.seed_target(t["resourceId"], pe_behaviour="pending")


def seed_own_network(admin, spec: dict, workspace_id: str) -> None:
    """The customer's side of a bring-your-own-VNet sample: the VNet with a private-endpoint subnet and an AKS
    subnet, the workspace's Approved private endpoint there, and the AKS cluster (without the Azure ML extension,
    unless the sample does not ask the operator to install it)."""
    vnet, aks = spec["network"]["virtualNetworkId"], spec["deploymentTarget"]["aksClusterId"]
    admin.seed_vnet(vnet, ["10.20.0.0/16"], subnets=[{"name": "pe", "addressPrefix": "10.20.0.0/24"},
                                                     {"name": "aks", "addressPrefix": "10.20.4.0/22"}])
    pe = f"{vnet.split('/providers/')[0]}/providers/Microsoft.Network/privateEndpoints/pe-{workspace_id.rsplit('/', 1)[-1]}"
    admin.seed_private_endpoint(pe, f"{vnet}/subnets/pe", workspace_id)
    admin.seed_aks(aks, f"{vnet}/subnets/aks")
    installs = ((spec["deploymentTarget"].get("extension") or {}).get("install"))
    if not installs:
        admin.seed_extension(aks)
    say(f"simulator: workspace {workspace_id.rsplit('/', 1)[-1]} in VNet {vnet.rsplit('/', 1)[-1]} (Approved private "
        f"endpoint), AKS {aks.rsplit('/', 1)[-1]} in the same VNet"
        + (", Azure ML extension not installed yet" if installs else ""))


def converged(kube: Kube, docs: list[dict]) -> bool:
    for d in docs:
        obj = kube.get(d["kind"], NAMESPACE, d["metadata"]["name"])
        if obj is None or not is_ready(obj):
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exit-when-converged", action="store_true", help="stop once every sample is Ready (for tests)")
    ap.add_argument("--timeout", type=float, default=300, help="give up after this many seconds (default 300)")
    ap.add_argument("--workdir", default=str(REPO / ".demo"))
    args = ap.parse_args(argv)

    workdir = Path(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))

    docs = load_samples()
    stack = LocalStack(workdir, DEMO_ENV, log=say)
    try:
        say("starting etcd + kube-apiserver, the Azure simulator (ARM + Entra ID) and the operator")
        stack.start()
        cp, kube, sim, op = stack.cp, stack.kube, stack.sim, stack.op
        say(f"simulator on {sim.url}; operator log {op.log_path}, metrics {op.metrics_url}")
        seed(sim, docs)
        cp.kubectl("create", "namespace", NAMESPACE)
        cp.kubectl("apply", "-n", NAMESPACE, "-f", str(SAMPLES))
        say(f"applied {len(docs)} sample objects from crds/samples/ into namespace {NAMESPACE}")

        started, last, done = time.monotonic(), "", False
        while not stop["now"]:
            table = cp.kubectl("get", "promptflow", "-n", NAMESPACE, check=False).stdout.strip()
            shape = re.sub(r"\s+\S+$", "", table, flags=re.M)  # ignore the AGE column ticking
            if shape != last:
                print(table + "\n", flush=True)
                last = shape
            if not done and converged(kube, docs):
                done = True
                say(f"converged in {time.monotonic() - started:.0f}s: every sample is Ready")
                writes = [r for r in sim.admin.requests() if r["method"] in ("PUT", "PATCH", "POST", "DELETE")]
                say(f"Azure writes the operator made: {len(writes)}")
                if args.exit_when_converged:
                    return 0
                say(f"explore:  export KUBECONFIG={cp.kubeconfig}; kubectl get promptflow -A; kubectl describe pfws -n {NAMESPACE}")
                say("Ctrl-C stops everything")
            if time.monotonic() - started > args.timeout and not done:
                say(f"not converged after {args.timeout:.0f}s; operator log: {op.log_path}")
                return 1
            time.sleep(1)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        say("stopping")
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())

"""What one status write of each of our objects costs the API server: its CRD's validation runs on every write.

    python -m tests.bench.bench_crd_cost                          # 300 status patches per sample object
    python -m tests.bench.bench_crd_cost --crds /tmp/old-crds     # the same against other CRDs (an older commit's)

The operator writes an object's status several times while converging it, and the API server validates the whole
object each time (its CEL rules too, re-planned on each evaluation for cost tracking), so in a large converge the API
server's CPU, not the operator's, sets the pace (docs/scale.md). This starts etcd + kube-apiserver, applies the CRDs
and the samples (crds/samples: a PrivateEndpoint rule, FQDN rules, a workspace), then sends status patches to each
sample object and prints the kube-apiserver's CPU time per patch (from /proc), with the wall time. Figures, not
verdicts; run it on a quiet machine and compare two CRD sets on the same day.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file (`make bench`): make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.controlplane import CRDS, ControlPlane  # noqa: E402
from tests.support.procstat import cpu_seconds  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "crds" / "samples"
OBJECTS = [  # (sample file, plural): one of each shape the operator writes status to at scale
    ("outboundrule-azure-openai.yaml", "outboundrules"),
    ("outboundrule-openai-api.yaml", "outboundrules"),
    ("promptflowworkspace.yaml", "promptflowworkspaces"),
]
NAMESPACE = "bench-crd-cost"
WARM_UP = 50


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patches", type=int, default=300, help="status patches per sample object")
    parser.add_argument("--crds", type=Path, default=CRDS, help="directory of CRD manifests to apply")
    args = parser.parse_args()

    from kubernetes import client, config

    with ControlPlane(crds=args.crds, log=lambda *_: None) as cp:
        cp.apply_crds()
        apiserver = cp.pid("kube-apiserver")
        cp.kubectl("create", "namespace", NAMESPACE)
        config.load_kube_config(str(cp.kubeconfig))
        api = client.CustomObjectsApi()
        print(f"bench_crd_cost: CRDs from {args.crds}, {args.patches} status patches per object")
        for sample, plural in OBJECTS:
            cp.kubectl("apply", "-n", NAMESPACE, "-f", str(SAMPLES / sample))
            name = cp.kubectl("create", "--dry-run=client", "-o", "jsonpath={.metadata.name}", "-f",
                              str(SAMPLES / sample)).stdout
            def patch(generation: int) -> None:  # a different value each time: a no-op patch skips the update
                api.patch_namespaced_custom_object_status("netiso.promptflow.dev", "v1alpha1", NAMESPACE, plural,
                                                          name, {"status": {"observedGeneration": generation}})

            for i in range(WARM_UP):  # not counted: the first writes of a kind warm the API server's caches
                patch(-1 - i)
            cpu, started = cpu_seconds(apiserver), time.monotonic()
            for i in range(args.patches):
                patch(i + 1)
            cpu, wall = cpu_seconds(apiserver) - cpu, time.monotonic() - started
            print(f"  {sample:34} kube-apiserver CPU {cpu / args.patches * 1000:5.2f} ms per status patch "
                  f"(wall {wall / args.patches * 1000:5.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""kopf's peering CRDs (kopf.dev/v1 ClusterKopfPeering and KopfPeering), shipped with ours so that several replicas
elect one active operator: each replica keeps its record (priority, lifetime) in the peering object's status; a
replica that sees a live peer of higher priority pauses (no handlers, no timers) until that peer's record expires.
The shape is kopf's own (docs: "Peering"): a status kopf writes freely, nothing else."""

from __future__ import annotations

PEERING_GROUP = "kopf.dev"
PEERING_NAME = "promptflow-netiso"  # the peering object the deployment's replicas share (--peering)


def _crd(kind: str, plural: str, scope: str) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        # Labelled like ours: shipped with the operator, and never pruned by Argo CD (deploy/kustomization.yaml).
        # Other kopf operators in the cluster may share these CRDs; the same definition applied twice is harmless.
        "metadata": {"name": f"{plural}.{PEERING_GROUP}",
                     "labels": {"app.kubernetes.io/name": "promptflow-netiso", "app.kubernetes.io/part-of": "promptflow-netiso"}},
        "spec": {
            "scope": scope,
            "group": PEERING_GROUP,
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "kopf peering: which operator replicas are alive, and their priorities.",
                    "properties": {"status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }},
            }],
        },
    }


def peering_crds() -> dict[str, dict]:
    """File name -> manifest."""
    return {
        f"{PEERING_GROUP}_clusterkopfpeerings.yaml": _crd("ClusterKopfPeering", "clusterkopfpeerings", "Cluster"),
        f"{PEERING_GROUP}_kopfpeerings.yaml": _crd("KopfPeering", "kopfpeerings", "Namespaced"),
    }

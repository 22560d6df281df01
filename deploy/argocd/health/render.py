"""Writes ../argocd-cm-health.yaml from health.lua (one script, three kinds). Run: python deploy/argocd/health/render.py
A unit test fails when the committed file differs."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = ("PromptFlowWorkspace", "OutboundRule", "PrivateEndpointApproval")
GROUP = "netiso.promptflow.dev"
OUT = HERE.parent / "argocd-cm-health.yaml"


def render() -> str:
    script = (HERE / "health.lua").read_text()
    body = "".join("    " + line if line.strip() else "\n" for line in script.splitlines(keepends=True))
    lines = [
        "# Argo CD health checks for promptflow-netiso (generated from health/health.lua by health/render.py).",
        "# Merge into Argo CD's argocd-cm, e.g. with kustomize in your Argo CD installation:",
        "#   patches: [{path: argocd-cm-health.yaml}]",
        "# or: kubectl -n argocd patch configmap argocd-cm --patch-file deploy/argocd/argocd-cm-health.yaml",
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        "  name: argocd-cm",
        "  namespace: argocd",
        "data:",
    ]
    for kind in KINDS:
        lines.append(f"  resource.customizations.health.{GROUP}_{kind}: |")
        lines.append(body.rstrip("\n"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")

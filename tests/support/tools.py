"""Finds the real binaries the tests drive (etcd, kube-apiserver, kubectl, helm, kubeconform, promtool, prometheus,
luahealth and kstatus).

Look-up order per tool: TEST_ASSET_<NAME> (envtest convention), KUBEBUILDER_ASSETS/<name>, the per-machine cache that
scripts/build-tools.sh fills, then PATH. A missing tool is a test failure with the command that provides it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CACHE_BIN = Path(
    os.environ.get("PROMPTFLOW_NETISO_TOOLS", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "promptflow-netiso" / "tools")
) / "bin"

_HOW = {
    "etcd": "bash scripts/build-tools.sh etcd",
    "kube-apiserver": "bash scripts/build-tools.sh kube-apiserver",
    "helm": "bash scripts/build-tools.sh helm",
    "kubeconform": "bash scripts/build-tools.sh kubeconform",
    "promtool": "bash scripts/build-tools.sh prometheus  (built from its Go module, no root needed)",
    "prometheus": "bash scripts/build-tools.sh prometheus  (built from its Go module, no root needed)",
    "luahealth": "bash scripts/build-tools.sh luahealth  (gopher-lua, Argo CD's Lua interpreter)",
    "kstatus": "bash scripts/build-tools.sh kstatus  (sigs.k8s.io/cli-utils/pkg/kstatus)",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
}


class MissingTool(RuntimeError):
    pass


def tool_path(name: str) -> str:
    env = os.environ.get("TEST_ASSET_" + name.upper().replace("-", "_"))
    candidates = [env] if env else []
    if os.environ.get("KUBEBUILDER_ASSETS"):
        candidates.append(os.path.join(os.environ["KUBEBUILDER_ASSETS"], name))
    candidates.append(str(CACHE_BIN / name))
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    found = shutil.which(name)
    if found:
        return found
    raise MissingTool(f"{name} not found (looked in TEST_ASSET_*, KUBEBUILDER_ASSETS, {CACHE_BIN}, PATH); provide it with: {_HOW.get(name, 'install ' + name)}")

"""What Argo CD and Flux would say about an object, computed by their real code: our Argo CD health script run in
gopher-lua (Argo CD's interpreter) and kstatus (the library behind Flux's health checks), both built from their Go
modules by scripts/build-tools.sh."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from .controlplane import REPO
from .tools import tool_path

HEALTH_DIR = REPO / "deploy" / "argocd" / "health"
HEALTH_LUA = HEALTH_DIR / "health.lua"
HEALTH_TABLE = HEALTH_DIR / "health_test.yaml"


def _run(argv: list[str], obj: dict) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(obj, f)
        path = f.name
    try:
        res = subprocess.run([*argv, path], capture_output=True, text=True, timeout=60)
    finally:
        Path(path).unlink(missing_ok=True)
    if res.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({res.returncode}): {res.stderr}")
    return json.loads(res.stdout)


def argocd_health(obj: dict, script: Path = HEALTH_LUA) -> dict:
    """{"status": Healthy|Progressing|Degraded|Suspended, "message": ...}"""
    return _run([tool_path("luahealth"), str(script)], obj)


def kstatus(obj: dict) -> dict:
    """{"status": InProgress|Current|Failed|Terminating|..., "message": ..., "conditions": [...]}"""
    return _run([tool_path("kstatus")], obj)

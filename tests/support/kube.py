"""Small helpers over the real kubectl for e2e tests: apply, get, wait, events."""

from __future__ import annotations

import json
import time
from typing import Callable

from .controlplane import ControlPlane


class Kube:
    def __init__(self, cp: ControlPlane):
        self.cp = cp

    def apply(self, manifest: str, namespace: str | None = None) -> None:
        args = ["apply", "-f", "-"] + (["-n", namespace] if namespace else [])
        self.cp.kubectl(*args, input=manifest)

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        res = self.cp.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
        if res.returncode != 0:
            if "NotFound" in res.stderr:
                return None
            raise AssertionError(res.stderr)
        return json.loads(res.stdout)

    def delete(self, kind: str, namespace: str, name: str, wait: bool = False) -> None:
        self.cp.kubectl("delete", kind, name, "-n", namespace, f"--wait={'true' if wait else 'false'}", "--ignore-not-found")

    def wait_for(self, kind: str, namespace: str, name: str, predicate: Callable[[dict], bool], timeout: float = 60, what: str = "") -> dict:
        """Poll until predicate(obj) is true; on timeout fail with the last object seen (status is what a person reads)."""
        deadline = time.monotonic() + timeout
        obj = None
        while time.monotonic() < deadline:
            obj = self.get(kind, namespace, name)
            if obj is not None:
                try:
                    if predicate(obj):
                        return obj
                except (KeyError, TypeError, IndexError):
                    pass
            time.sleep(0.25)
        status = json.dumps((obj or {}).get("status"), indent=1)[:4000]
        raise AssertionError(f"timed out after {timeout}s waiting for {kind} {namespace}/{name} {what}; status:\n{status}")

    def wait_gone(self, kind: str, namespace: str, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get(kind, namespace, name) is None:
                return
            time.sleep(0.25)
        raise AssertionError(f"{kind} {namespace}/{name} still exists after {timeout}s")

    def events(self, namespace: str, name: str | None = None) -> list[dict]:
        selector = ["--field-selector", f"involvedObject.name={name}"] if name else []
        res = self.cp.kubectl("get", "events", "-n", namespace, "-o", "json", *selector)
        return json.loads(res.stdout)["items"]


def condition(obj: dict, type_: str) -> dict | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def is_ready(obj: dict) -> bool:
    c = condition(obj, "Ready")
    return bool(c and c["status"] == "True" and c.get("observedGeneration") == obj["metadata"]["generation"])

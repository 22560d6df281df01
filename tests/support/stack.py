"""The whole local story in one object: a real control plane, the Azure simulator and the operator process.

Used by the demo and the benchmarks (the pytest fixtures compose the same parts session-wide).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from tests.sim import Simulator

from .controlplane import ControlPlane
from .kube import Kube
from .operator_process import OperatorProcess
from .tenancy import grant


class LocalStack:
    def __init__(self, workdir: Path, operator_env: dict[str, str] | None = None, *, namespace: str | None = None, log=print,
                 remove_workdir: bool = False):
        self.workdir = Path(workdir)
        self.operator_env = dict(operator_env or {})
        self.namespace = namespace
        self.cp = ControlPlane(self.workdir / "control-plane", log=log)
        self.kube = Kube(self.cp)
        self.sim = Simulator()
        self.op: OperatorProcess | None = None
        self.remove_workdir = remove_workdir

    @property
    def admin(self):
        return self.sim.admin

    def start(self) -> "LocalStack":
        self.cp.start()
        self.sim.start_in_thread()
        self.start_operator()
        if self.namespace:
            self.cp.kubectl("create", "namespace", self.namespace)
            grant(self.cp, self.namespace)  # secure by default: the workload's namespace is granted every scope
        return self

    def start_operator(self, **env_overrides: str) -> OperatorProcess:
        """(Re)start the operator; overrides change its settings from now on (e.g. a benchmark's second phase)."""
        if self.op:
            self.op.stop()
        self.operator_env.update(env_overrides)
        self.op = OperatorProcess({**self.cp.env(), **self.sim.env(), **self.operator_env}, self.workdir)
        return self.op.start()

    def stop(self) -> None:
        if self.op:
            self.op.stop()
        self.sim.stop_thread()
        self.cp.stop()
        if self.remove_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "LocalStack":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


def wait(what: str, check, timeout: float, poll: float = 0.5):
    """Poll `check` until it returns something truthy (returned); a benchmark that never gets there stops, saying what."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(poll)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting {what}")

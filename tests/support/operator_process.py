"""Runs the real operator (`python -m promptflow_netiso run`) as a subprocess against a control plane and the sim."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .controlplane import free_port


class OperatorProcess:
    def __init__(self, env: dict[str, str], logdir: Path, extra_args: tuple[str, ...] = (),
                 namespaces: tuple[str, ...] | None = None, verbose: bool = True):
        self.env = {**os.environ, **env}
        self.metrics_port = int(self.env.get("PROMPTFLOW_NETISO_METRICS_PORT") or free_port())
        self.env["PROMPTFLOW_NETISO_METRICS_PORT"] = str(self.metrics_port)
        self.health_port = free_port()
        self.logdir = logdir
        self.args = extra_args
        # None: every namespace; otherwise kopf namespace patterns (globs), e.g. ("t-*",).
        self.scope = ["--all-namespaces"] if namespaces is None else [f"--namespace={n}" for n in namespaces]
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.verbose = verbose  # tests want DEBUG logs; a benchmark measures what a deployment logs (INFO)

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def log_path(self) -> Path:
        return self.logdir / "operator.log"

    def start(self, timeout: float = 60) -> "OperatorProcess":
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"\n===== operator start #{self.starts} =====\n".encode())
        log.flush()
        argv = [sys.executable, "-m", "promptflow_netiso", "run", *self.scope, "--standalone",
                f"--liveness=http://127.0.0.1:{self.health_port}/healthz",
                *(["--verbose"] if self.verbose else []), *self.args]
        self.proc = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_healthy(timeout)
        return self

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, kill: bool = True) -> None:
        """Kill (default: SIGKILL, like a crashed pod) and start again."""
        self.stop(kill=kill)
        self.start()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def scrape(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as r:
            return r.read().decode()

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"operator exited with {self.proc.returncode}:\n{self.logs()[-4000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"operator not healthy after {timeout}s:\n{self.logs()[-4000:]}")

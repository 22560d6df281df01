"""A real Prometheus server for tests: scrapes given targets, evaluates given rules, answers its HTTP API.

The alert rules come from their single source, deploy/monitoring/prometheusrule.yaml (a PrometheusRule);
`write_rules_file` turns its `spec` into the plain rules file Prometheus and promtool read, optionally with
every `for` shortened so a test can watch an alert fire without waiting half an hour.

Everything that waits is async: the Azure simulator may share the test's event loop, and a blocking
sleep here would freeze it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from .controlplane import REPO, free_port
from .tools import tool_path

RULES_SOURCE = REPO / "deploy" / "monitoring" / "prometheusrule.yaml"
OPERATOR_JOB = "promptflow-netiso"  # the job label the alerts expect (see deploy/monitoring/servicemonitor.yaml)


def load_rule_groups(source: Path = RULES_SOURCE) -> dict[str, Any]:
    """The PrometheusRule's spec, which is exactly a Prometheus rules file ({"groups": [...]})."""
    doc = yaml.safe_load(source.read_text())
    if doc.get("kind") != "PrometheusRule":
        raise ValueError(f"{source} is not a PrometheusRule")
    return doc["spec"]


def write_rules_file(
    dest: Path, *, source: Path = RULES_SOURCE, for_: str | None = None, interval: str | None = None
) -> Path:
    """Write the rules as a plain rules file; `for_` replaces every alert's `for`, `interval` every group's."""
    groups = copy.deepcopy(load_rule_groups(source))
    for group in groups["groups"]:
        if interval is not None:
            group["interval"] = interval
        for rule in group["rules"]:
            if for_ is not None and "alert" in rule:
                rule["for"] = for_
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(groups, sort_keys=False))
    return dest


class PrometheusError(RuntimeError):
    pass


class Prometheus:
    """`async with Prometheus(workdir, targets=["127.0.0.1:8080"], rules_files=[...]) as prom: ...`"""

    def __init__(
        self,
        workdir: Path,
        targets: list[str],
        rules_files: list[Path] = (),
        *,
        job: str = OPERATOR_JOB,
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        honor_labels: bool = True,
        extra_labels: Mapping[str, str] | None = None,
    ):
        self.dir = Path(workdir)
        self.targets = list(targets)
        self.rules_files = [Path(p) for p in rules_files]
        self.job = job
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.honor_labels = honor_labels  # as the ServiceMonitor does: keep the objects' `namespace` label
        self.extra_labels = dict(extra_labels or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def log_path(self) -> Path:
        return self.dir / "prometheus.log"

    def config(self) -> dict[str, Any]:
        static = {"targets": self.targets}
        if self.extra_labels:
            static["labels"] = self.extra_labels
        return {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.evaluation_interval},
            "rule_files": [str(p.resolve()) for p in self.rules_files],
            "scrape_configs": [
                {
                    "job_name": self.job,
                    "honor_labels": self.honor_labels,
                    "scrape_timeout": self.scrape_interval,
                    "static_configs": [static],
                }
            ],
        }

    async def start(self, timeout: float = 60) -> "Prometheus":
        binary = tool_path("prometheus")  # a missing binary fails here with how to get it
        self.dir.mkdir(parents=True, exist_ok=True)
        config_path = self.dir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        log = open(self.log_path, "ab")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        await self._wait(self._ready, timeout, "Prometheus to answer /-/ready")
        return self

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()

    async def __aenter__(self) -> "Prometheus":
        try:
            return await self.start()
        except BaseException:
            await self.stop()
            raise

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # --- HTTP API ------------------------------------------------------------------------------------
    async def api(self, path: str, **params: str) -> Any:
        assert self._session is not None, "Prometheus is not started"
        async with self._session.get(f"{self.url}/api/v1/{path}", params=params) as resp:
            body = await resp.json(content_type=None)
        if body.get("status") != "success":
            raise PrometheusError(f"GET /api/v1/{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query: [{"metric": {...}, "value": [ts, "v"]}, ...]."""
        data = await self.api("query", query=expr)
        return data["result"]

    async def alerts(self, alertname: str | None = None, labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Active alerts (pending or firing), optionally of one name and carrying the given labels."""
        found = (await self.api("alerts"))["alerts"]
        return [
            a for a in found
            if (alertname is None or a["labels"].get("alertname") == alertname)
            and all(a["labels"].get(k) == v for k, v in (labels or {}).items())
        ]

    async def scrape_targets(self) -> list[dict[str, Any]]:
        return (await self.api("targets"))["activeTargets"]

    # --- waiting -------------------------------------------------------------------------------------
    async def wait_for_scrape(self, timeout: float = 60) -> None:
        async def all_up() -> bool:
            targets = await self.scrape_targets()
            return bool(targets) and all(t["health"] == "up" for t in targets)

        await self._wait(all_up, timeout, f"every target of job {self.job} to be scraped successfully")

    async def wait_for_alert(
        self, alertname: str, labels: Mapping[str, str] | None = None, *, state: str = "firing", timeout: float = 60
    ) -> dict[str, Any]:
        """The first alert of that name and labels in `state` ("pending" or "firing")."""
        found: list[dict[str, Any]] = []

        async def in_state() -> bool:
            found[:] = [a for a in await self.alerts(alertname, labels) if a["state"] == state]
            return bool(found)

        await self._wait(in_state, timeout, f"alert {alertname} {dict(labels or {})} to be {state}")
        return found[0]

    async def wait_for_alert_gone(
        self, alertname: str, labels: Mapping[str, str] | None = None, *, timeout: float = 60
    ) -> None:
        async def gone() -> bool:
            return not await self.alerts(alertname, labels)

        await self._wait(gone, timeout, f"alert {alertname} {dict(labels or {})} to resolve")

    async def _ready(self) -> bool:
        assert self._session is not None
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
            async with self._session.get(f"{self.url}/-/ready") as resp:
                return resp.status == 200
        return False

    async def _wait(self, check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is not None and self._proc.returncode is not None:
                raise PrometheusError(f"prometheus exited ({self._proc.returncode}) while waiting for {what}\n{self._log_tail()}")
            if await check():
                return
            if time.monotonic() > deadline:
                raise PrometheusError(f"timed out after {timeout}s waiting for {what}\n{self._log_tail()}")
            await asyncio.sleep(0.25)

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no prometheus log)"

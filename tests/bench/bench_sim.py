"""How many simple ARM GETs per second the Azure simulator serves on loopback.

    .venv/bin/python tests/bench/bench_sim.py [--seconds 10] [--connections 16]

Two GETs are measured: a resource group (a small body) and an AllowOnlyApprovedOutbound workspace (about 4 KB with
its Required rules: the operator's most frequent call).

The simulator runs in its own process (`python -m tests.sim --no-throttle`), so the figure is the server's and not
the load generator's; the server's CPU time is read from /proc to report GETs per server-CPU-second as well
(what one core sustains). Requests go over HTTPS keep-alive with a real bearer token, through the full pipeline
(authentication, routing, api-version check, fault check, request log).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.sim.admin import SimAdmin  # noqa: E402
from tests.support.procstat import cpu_seconds  # noqa: E402

SUB = "b3c4d5e6-0000-4000-8000-0000000be9c4"


async def _token(session: aiohttp.ClientSession, env: dict[str, str], secret: str) -> str:
    url = f"{env['AZURE_AUTHORITY_HOST']}/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token"
    form = {"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"], "client_secret": secret,
            "scope": env["PROMPTFLOW_NETISO_ARM_ENDPOINT"] + "/.default"}
    async with session.post(url, data=form) as resp:
        resp.raise_for_status()
        return (await resp.json())["access_token"]


async def _worker(session: aiohttp.ClientSession, url: str, headers: dict[str, str], stop_at: float, counts: list[int]) -> None:
    while time.monotonic() < stop_at:
        async with session.get(url, headers=headers) as resp:
            await resp.read()
            counts[0 if resp.status == 200 else 1] += 1


async def _measure(session: aiohttp.ClientSession, url: str, headers: dict[str, str], pid: int, seconds: float,
                   connections: int) -> dict[str, float]:
    warm = [0, 0]
    await asyncio.gather(*(_worker(session, url, headers, time.monotonic() + 1.0, warm) for _ in range(connections)))
    counts = [0, 0]
    cpu_before, started = cpu_seconds(pid), time.monotonic()
    await asyncio.gather(*(_worker(session, url, headers, started + seconds, counts) for _ in range(connections)))
    elapsed, cpu = time.monotonic() - started, cpu_seconds(pid) - cpu_before
    return {"gets": counts[0], "errors": counts[1], "seconds": elapsed, "gets_per_s": counts[0] / elapsed,
            "server_cpu_s": cpu, "gets_per_server_cpu_s": counts[0] / cpu if cpu else float("nan")}


async def run(seconds: float, connections: int) -> dict[str, dict[str, float]]:
    env_vars = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.sim", "--port", "0", "--no-throttle",
                                                "--auth", "client-secret", cwd=REPO, env=env_vars,
                                                stdout=asyncio.subprocess.PIPE)
    try:
        env = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        url_base = env["PROMPTFLOW_NETISO_ARM_ENDPOINT"]
        admin = SimAdmin(url_base, env["SSL_CERT_FILE"])
        ws = await asyncio.to_thread(admin.seed_workspace, SUB, "rg-bench", "wsbench",
                                     isolation_mode="AllowOnlyApprovedOutbound", provisioned=True)
        urls = {"resource group": f"{url_base}/subscriptions/{SUB}/resourceGroups/rg-bench?api-version=2024-03-01",
                "workspace": f"{url_base}{ws['id']}?api-version=2025-12-01"}
        ctx = ssl.create_default_context(cafile=env["SSL_CERT_FILE"])
        connector = aiohttp.TCPConnector(ssl=ctx, limit=connections)
        async with aiohttp.ClientSession(connector=connector) as session:
            headers = {"Authorization": "Bearer " + await _token(session, env, env["AZURE_CLIENT_SECRET"])}
            return {name: await _measure(session, url, headers, proc.pid, seconds, connections)
                    for name, url in urls.items()}
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    results = asyncio.run(run(args.seconds, args.connections))
    for name, r in results.items():
        print(f"simulator, {name} GET: {r['gets_per_s']:.0f}/s over {r['seconds']:.1f}s ({r['gets']} ok, "
              f"{r['errors']} errors, {args.connections} keep-alive HTTPS connections); "
              f"{r['gets_per_server_cpu_s']:.0f} per server CPU-second")
    return 0 if all(r["errors"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

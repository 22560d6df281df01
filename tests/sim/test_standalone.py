"""`python -m tests.sim`: env JSON on the first stdout line, serves until SIGTERM, state and CA survive restarts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from .admin import SimAdmin

REPO = Path(__file__).resolve().parents[2]
SUB = "4e5f6a7b-1111-4222-8333-999988887777"


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.sim", "--port", "0", *args, cwd=REPO, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    if not line:
        raise AssertionError((await proc.stderr.read()).decode())
    return proc, json.loads(line)


async def _stop(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), 60)


async def test_standalone_prints_env_and_keeps_state_across_restarts(tmp_path):
    state, ca_dir = tmp_path / "state.json", tmp_path / "ca"
    proc, env = await _start("--state-file", str(state), "--ca-dir", str(ca_dir), "--auth", "client-secret")
    try:
        assert env["AZURE_CLOUD"] == "Custom"
        assert env["PROMPTFLOW_NETISO_ARM_ENDPOINT"] == env["AZURE_AUTHORITY_HOST"]
        assert env["AZURE_CLIENT_SECRET"] and "AZURE_FEDERATED_TOKEN_FILE" not in env
        assert env["SSL_CERT_FILE"] == env["REQUESTS_CA_BUNDLE"]
        admin = SimAdmin(env["PROMPTFLOW_NETISO_ARM_ENDPOINT"], env["SSL_CERT_FILE"])  # the bundle trusts the sim
        ws = await asyncio.to_thread(admin.seed_workspace, SUB, "rg-demo", "wsdemo", isolation_mode="AllowInternetOutbound")
    finally:
        assert await _stop(proc) == 0
    assert "wsdemo" in state.read_text()

    proc, env_again = await _start("--state-file", str(state), "--ca-dir", str(ca_dir))
    try:
        assert env_again["SSL_CERT_FILE"] == env["SSL_CERT_FILE"]  # same CA, same path: clients keep trusting it
        assert Path(env_again["AZURE_FEDERATED_TOKEN_FILE"]).is_file()
        admin = SimAdmin(env_again["PROMPTFLOW_NETISO_ARM_ENDPOINT"], env_again["SSL_CERT_FILE"])
        restored = await asyncio.to_thread(admin.workspace, ws["id"])
    finally:
        assert await _stop(proc) == 0
    network = restored["body"]["properties"]["managedNetwork"]
    assert network["isolationMode"] == "AllowInternetOutbound"
    assert network["networkId"] == ws["properties"]["managedNetwork"]["networkId"]

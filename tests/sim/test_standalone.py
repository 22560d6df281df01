"""`python -m tests.sim`: env JSON on the first stdout line, serves until SIGTERM, state and CA survive restarts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import sys
from pathlib import Path

import aiohttp

from .admin import SimAdmin

REPO = Path(__file__).resolve().parents[2]
SUB = "4e5f6a7b-1111-4222-8333-999988887777"


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.sim", *args, cwd=REPO, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    if not line:
        raise AssertionError((await proc.stderr.read()).decode())
    return proc, json.loads(line)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session(env: dict[str, str]) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=env["SSL_CERT_FILE"])))


async def _token(env: dict[str, str]) -> str:
    form = {"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"],
            "client_secret": env["AZURE_CLIENT_SECRET"], "scope": env["PROMPTFLOW_NETISO_ARM_ENDPOINT"] + "/.default"}
    async with _session(env) as session:
        async with session.post(f"{env['AZURE_AUTHORITY_HOST']}/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token", data=form) as resp:
            assert resp.status == 200, await resp.text()
            return (await resp.json())["access_token"]


async def _get(env: dict[str, str], resource_id: str, token: str) -> int:
    url = f"{env['PROMPTFLOW_NETISO_ARM_ENDPOINT']}{resource_id}?api-version=2025-12-01"
    async with _session(env) as session:
        async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
            return resp.status


async def _stop(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), 60)


async def test_standalone_prints_env_and_keeps_state_across_restarts(tmp_path):
    state, ca_dir = tmp_path / "state.json", tmp_path / "ca"
    port = _free_port()  # the same address before and after the restart, as a demo would use
    common = ("--port", str(port), "--state-file", str(state), "--ca-dir", str(ca_dir))
    proc, env = await _start(*common, "--auth", "client-secret")
    try:
        assert env["AZURE_CLOUD"] == "Custom"
        assert env["PROMPTFLOW_NETISO_ARM_ENDPOINT"] == env["AZURE_AUTHORITY_HOST"]
        assert env["AZURE_CLIENT_SECRET"] and "AZURE_FEDERATED_TOKEN_FILE" not in env
        assert env["SSL_CERT_FILE"] == env["REQUESTS_CA_BUNDLE"]
        admin = SimAdmin(env["PROMPTFLOW_NETISO_ARM_ENDPOINT"], env["SSL_CERT_FILE"])  # the bundle trusts the sim
        ws = await asyncio.to_thread(admin.seed_workspace, SUB, "rg-demo", "wsdemo", isolation_mode="AllowInternetOutbound")
        token = await _token(env)
    finally:
        assert await _stop(proc) == 0
    assert "wsdemo" in state.read_text()

    proc, env_again = await _start(*common)
    try:
        assert env_again["SSL_CERT_FILE"] == env["SSL_CERT_FILE"]  # same CA, same path: clients keep trusting it
        assert Path(env_again["AZURE_FEDERATED_TOKEN_FILE"]).is_file()
        admin = SimAdmin(env_again["PROMPTFLOW_NETISO_ARM_ENDPOINT"], env_again["SSL_CERT_FILE"])
        restored = await asyncio.to_thread(admin.workspace, ws["id"])
        status = await _get(env_again, ws["id"], token)  # a token issued before the restart still works
    finally:
        assert await _stop(proc) == 0
    assert status == 200
    network = restored["body"]["properties"]["managedNetwork"]
    assert network["isolationMode"] == "AllowInternetOutbound"
    assert network["networkId"] == ws["properties"]["managedNetwork"]["networkId"]

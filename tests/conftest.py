"""Fixtures shared by every test layer: a real control plane, the Azure simulator, the running operator."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.support.controlplane import ControlPlane
from tests.support.kube import Kube
from tests.support.operator_process import OperatorProcess
from tests.support.tenancy import grant

pytest_plugins = ["tests.sim.fixtures"]


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory):
    cp = ControlPlane(tmp_path_factory.mktemp("control-plane"))
    cp.start()
    yield cp
    cp.stop()


@pytest.fixture(scope="session")
def kube(control_plane) -> Kube:
    return Kube(control_plane)


# The test operator watches only namespaces named WATCHED_PREFIX*: API-only tests (CRD validation, deploy
# manifests) use `unwatched_namespace` so no reconcile changes the objects they inspect.
WATCHED_PREFIX = "t-"


def _fresh_namespace(control_plane, request, prefix: str):
    base = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:40].strip("-")
    name = f"{prefix}{base}-{uuid.uuid4().hex[:5]}"
    control_plane.kubectl("create", "namespace", name)
    # Secure by default: a namespace reaches nothing in Azure until granted. Tests use fresh subscriptions, so their
    # namespaces are granted every scope; tests/e2e/test_tenancy.py grants narrowly (docs/tenancy.md).
    grant(control_plane, name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def namespace(control_plane, request) -> str:
    """A fresh namespace the test operator watches."""
    yield from _fresh_namespace(control_plane, request, WATCHED_PREFIX)


@pytest.fixture
def unwatched_namespace(control_plane, request) -> str:
    """A fresh namespace no operator watches: what the API server alone does with objects."""
    yield from _fresh_namespace(control_plane, request, "u-")


# Fast loops for tests; production defaults are minutes (settings.py).
OPERATOR_TEST_ENV = {
    "PROMPTFLOW_NETISO_DRIFT_INTERVAL": "2",
    "PROMPTFLOW_NETISO_SLOW_RETRY": "3",
    "PROMPTFLOW_NETISO_TRANSIENT_RETRY": "1",
    "PROMPTFLOW_NETISO_DEPENDENCY_WAIT": "1",
    "PROMPTFLOW_NETISO_APPROVAL_PENDING_INTERVAL": "1",
    "PROMPTFLOW_NETISO_APPROVAL_SETTLED_INTERVAL": "5",
}


@pytest.fixture(scope="session")
def operator(control_plane, azure_sim, tmp_path_factory):
    env = {**control_plane.env(), **azure_sim.env(), **OPERATOR_TEST_ENV}
    proc = OperatorProcess(env, tmp_path_factory.mktemp("operator"), namespaces=(WATCHED_PREFIX + "*",))
    proc.start()
    yield proc
    proc.stop()
    if os.environ.get("PROMPTFLOW_NETISO_SHOW_OPERATOR_LOG"):
        print(proc.logs()[-20000:])

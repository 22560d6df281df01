"""Pytest fixtures: `azure_sim` (session-scoped simulator on its own thread) and `sim_admin`.

The lead wires these in with `pytest_plugins = ["tests.sim.fixtures"]` in tests/conftest.py. Tests share the
simulator and isolate themselves with fresh subscription / resource-group names (`unique_names()`).
"""

from __future__ import annotations

import os
import re
from typing import Iterator

import pytest

from .admin import SimAdmin, unique_names
from .server import Simulator

__all__ = ["azure_sim", "sim_admin", "sim_names", "unique_names"]


@pytest.fixture(scope="session")
def azure_sim() -> Iterator[Simulator]:
    seed = int(os.environ.get("PROMPTFLOW_NETISO_SIM_SEED", "0"))
    sim = Simulator(seed=seed).start_in_thread()
    try:
        yield sim
    finally:
        sim.stop_thread()


@pytest.fixture
def sim_admin(azure_sim: Simulator) -> SimAdmin:
    return azure_sim.admin


@pytest.fixture
def sim_names(request) -> tuple[str, str]:
    """(subscription id, resource group) nobody else uses."""
    return unique_names(re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower())[:16].strip("-"))

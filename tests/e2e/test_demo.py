"""The README's first command works: the demo converges every sample on a fresh control plane and simulator."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.controlplane import REPO

pytestmark = pytest.mark.e2e


def test_demo_converges_every_sample(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "tests.demo", "--exit-when-converged", "--timeout", "240", "--workdir", str(tmp_path / "demo")],
        cwd=REPO, capture_output=True, text=True, timeout=400,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    assert "converged in" in out and "every sample is Ready" in out
    # The stuck private endpoint from the samples ends Approved, visible on the rule itself.
    assert "Approved" in out

"""The Argo CD health checks in deploy/argocd, run by gopher-lua (Argo CD's interpreter) against objects the real
operator wrote in e2e runs (deploy/argocd/health/testdata, one file per state, Argo CD's own layout:
health_test.yaml lists input and expected status), and the same objects read by kstatus (Flux, cli-utils)."""

from __future__ import annotations

import importlib.util

import pytest
import yaml

from tests.support.health import HEALTH_DIR, HEALTH_TABLE, argocd_health, kstatus

TABLE = yaml.safe_load(HEALTH_TABLE.read_text())["tests"]


def _render_module():
    spec = importlib.util.spec_from_file_location("render", HEALTH_DIR / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_argocd_cm_patch_carries_health_lua_for_every_kind():
    render = _render_module()
    assert render.OUT.read_text() == render.render(), "regenerate with: python deploy/argocd/health/render.py"
    data = yaml.safe_load(render.OUT.read_text())["data"]
    script = (HEALTH_DIR / "health.lua").read_text()
    assert data == {f"resource.customizations.health.netiso.promptflow.dev_{k}": script for k in render.KINDS}


def test_every_state_and_kind_has_a_case():
    states = {(yaml.safe_load((HEALTH_DIR / t["inputPath"]).read_text())["kind"], t["healthStatus"]["status"])
              for t in TABLE}
    for kind in ("PromptFlowWorkspace", "OutboundRule", "PrivateEndpointApproval"):
        assert (kind, "Healthy") in states
    assert {s for _, s in states} == {"Healthy", "Progressing", "Degraded", "Suspended"}


@pytest.mark.parametrize("case", TABLE, ids=[t["inputPath"].split("/")[-1] for t in TABLE])
def test_health_script_in_gopher_lua(case):
    obj = yaml.safe_load((HEALTH_DIR / case["inputPath"]).read_text())
    assert argocd_health(obj) == case["healthStatus"]


@pytest.mark.parametrize("case", [t for t in TABLE if "kstatus" in t],
                         ids=[t["inputPath"].split("/")[-1] for t in TABLE if "kstatus" in t])
def test_kstatus_reads_the_same_objects(case):
    obj = yaml.safe_load((HEALTH_DIR / case["inputPath"]).read_text())
    got = kstatus(obj)
    assert got["status"] == case["kstatus"]["status"]
    if "reason" in case["kstatus"]:
        assert got["conditions"][0]["reason"] == case["kstatus"]["reason"]


def test_a_script_error_is_a_failure_not_a_guess(tmp_path):
    broken = tmp_path / "broken.lua"
    broken.write_text("return obj.status.nothing.here")
    with pytest.raises(AssertionError, match="script error"):
        argocd_health({"metadata": {}}, script=broken)

"""The BYO compute attach (PUT) and detach (DELETE) recorded before they were sent, settled after a crash: the
operator keeps ownership of a compute it attached, never claims one it did not, and never sends a write twice.
Pure, no I/O."""

from __future__ import annotations

import pytest

from promptflow_netiso.planning import byo_network as byo
from promptflow_netiso.planning import compute_intent as ci
from promptflow_netiso.planning.intent import Outcome, PendingWrite

from .test_byo_network import AKS, BASE, Compute, observed, spec

WS = f"{BASE}/Microsoft.MachineLearningServices/workspaces/ws"
TARGET = ci.compute_target(WS, "promptflow-aks")


def put(namespace: str = "default", cluster: str = AKS, target: str = TARGET) -> PendingWrite:
    return PendingWrite("PUT", target, ci.compute_hash("Kubernetes", cluster, namespace), "2026-11-30T12:00:00Z",
                        event_reason="ComputeAttached", event_message="attached")


OTHER_AKS = f"{BASE}/Microsoft.ContainerService/managedClusters/elsewhere"


@pytest.mark.parametrize("pending, compute, readable, outcome, ours, events", [
    (None, Compute(), True, None, False, ()),
    # Azure holds what we sent (any provisioning state, any letter case): ours, announced once.
    (put(), Compute(), True, Outcome.LANDED, True, (("ComputeAttached", "attached"),)),
    (put(), Compute(provisioning_state="Creating", resource_id=AKS.upper()), True, Outcome.LANDED, True,
     (("ComputeAttached", "attached"),)),
    # No compute: the PUT never landed (Azure creates the resource when it accepts the PUT).
    (put(), None, True, Outcome.NOT_LANDED, False, ()),
    # A compute that differs (another cluster or namespace) is not ours.
    (put(), Compute(resource_id=OTHER_AKS), True, Outcome.NOT_LANDED, False, ()),
    (put(namespace="promptflow"), Compute(namespace="default"), True, Outcome.NOT_LANDED, False, ()),
    # Unreadable: kept for a run that can read it.
    (put(), None, False, Outcome.RUNNING, False, ()),
    # A record for another compute name (the spec changed since) cannot be judged from this read.
    (put(target=ci.compute_target(WS, "old-name")), Compute(), True, Outcome.NOT_LANDED, False, ()),
])
def test_settle_a_recorded_attach(pending, compute, readable, outcome, ours, events):
    s = ci.settle(pending, target=TARGET.upper(), compute=compute, readable=readable)
    assert (s.outcome, s.ours, s.events) == (outcome, ours, events)
    assert (s.keep is not None) == (outcome is Outcome.RUNNING)


def test_a_landed_attach_makes_the_compute_ours_for_the_planner_and_clears_the_record():
    status = {"deploymentTarget": {"computeName": "promptflow-aks", "computeAttachedByOperator": False,
                                   "pendingWrite": put().to_status()}}
    settled = ci.settle(ci.pending_of(status), target=TARGET, compute=Compute(provisioning_state="Creating"))
    folded = ci.with_ownership(status, settled)
    assert folded["deploymentTarget"]["computeAttachedByOperator"] is True
    assert folded["deploymentTarget"]["pendingWrite"] is None
    assert status["deploymentTarget"]["pendingWrite"] is not None  # the input is not changed
    plan = byo.plan(spec(), observed(compute=Compute(provisioning_state="Creating")), manage=True,
                    previous=byo.Previous.from_status(folded))
    assert plan.actions == () and plan.follow  # followed by reading the compute, never PUT again
    assert plan.record["computeAttachedByOperator"] is True and plan.record["pendingWrite"] is None


def test_an_attach_that_did_not_land_leaves_ownership_as_it_was():
    status = {"deploymentTarget": {"computeAttachedByOperator": False, "pendingWrite": put().to_status()}}
    folded = ci.with_ownership(status, ci.settle(ci.pending_of(status), target=TARGET,
                                                  compute=Compute(resource_id=OTHER_AKS)))
    assert folded["deploymentTarget"] == {"computeAttachedByOperator": False, "pendingWrite": None}
    plan = byo.plan(spec(), observed(compute=Compute(resource_id=OTHER_AKS)), manage=True,
                    previous=byo.Previous.from_status(folded))
    assert plan.actions == () and plan.condition("ComputeAttached")["reason"] == byo.REASON_COMPUTE_TAKEN


def test_an_unreadable_compute_keeps_the_record_in_the_plan():
    status = {"deploymentTarget": {"pendingWrite": put().to_status()}}
    folded = ci.with_ownership(status, ci.settle(ci.pending_of(status), target=TARGET, compute=None, readable=False))
    obs = observed(compute=None)
    obs.compute_error = byo.ReadError("InternalServerError", "InternalServerError: try again", passing=True)
    plan = byo.plan(spec(), obs, manage=True, previous=byo.Previous.from_status(folded))
    assert plan.actions == () and plan.record["pendingWrite"] == put().to_status()


def test_the_hash_covers_only_what_the_operator_sends():
    assert ci.observed_hash(Compute(provisioning_state="Failed", errors=("x",))) == ci.compute_hash("kubernetes", AKS, None)
    assert ci.observed_hash(None) is None
    assert ci.compute_hash("Kubernetes", AKS, "default") != ci.compute_hash("Kubernetes", AKS, "promptflow")


def detach() -> PendingWrite:
    return PendingWrite("DELETE", TARGET, "", "t", event_reason="ComputeDetached", event_message="detached")


@pytest.mark.parametrize("compute, outcome", [
    (None, Outcome.LANDED),  # gone: announce once, send nothing
    (Compute(provisioning_state="Deleting"), Outcome.RUNNING),  # still running: wait, no second DELETE
    (Compute(provisioning_state="Succeeded"), Outcome.NOT_LANDED),  # never landed: send it
])
def test_settle_a_recorded_detach(compute, outcome):
    s = ci.settle_detach(detach(), compute)
    assert s.outcome is outcome
    assert s.events == ((("ComputeDetached", "detached"),) if outcome is Outcome.LANDED else ())


def test_a_ready_workspace_with_a_compute_attach_in_flight_is_not_left_to_the_drift_check_after_a_restart():
    from promptflow_netiso.handlers.common import converged

    ready = {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True", "observedGeneration": 1}]}
    assert converged(ready, {"generation": 1})
    assert not converged({**ready, "deploymentTarget": {"pendingWrite": put().to_status()}}, {"generation": 1})

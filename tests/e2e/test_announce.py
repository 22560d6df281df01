"""The Event of a landed write against a real API server: posted before its record is cleared, under a name taken from
the record, so two processes that both saw the write land (one killed before the status patch, then its successor)
leave one Event, and the next write of the same object gets an Event of its own."""

from __future__ import annotations

import pytest

from promptflow_netiso.handlers import announce as announcing
from promptflow_netiso.handlers import kube_client
from promptflow_netiso.planning.intent import PendingWrite

pytestmark = pytest.mark.e2e

TARGET = ("/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/"
          "Microsoft.MachineLearningServices/workspaces/w/outboundRules/aoai")


@pytest.fixture
def in_process_client(control_plane, monkeypatch):
    """The operator's own client code, in this process, pointed at the test control plane."""
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(control_plane.kubeconfig), client_configuration=cfg)
    monkeypatch.setattr(kube_client, "_client", client.ApiClient(cfg))
    monkeypatch.setattr(announcing, "_core", None)


def _body(namespace: str, uid: str) -> dict:
    return {"apiVersion": "netiso.promptflow.dev/v1alpha1", "kind": "OutboundRule",
            "metadata": {"name": "aoai", "namespace": namespace, "uid": uid}}


async def test_a_landed_write_announced_by_two_processes_leaves_one_event(in_process_client, kube, namespace):
    body = _body(namespace, "0b7e0c44-1c5e-4f0e-9d57-5a3f5f9b0001")
    put = PendingWrite("PUT", TARGET, "hash-1", "2026-11-30T10:00:00Z", None, "Created", "created rule 'aoai'")
    await announcing.announce(body, put, "Normal", put.event_reason, put.event_message)
    # The successor of a process killed before its status patch: the record in status says POST (it went in a batch)
    # and carries the poll URL; it is the same write.
    batched = PendingWrite("POST", TARGET.upper(), "hash-1", "2026-11-30T10:00:00Z", "https://op", "Created",
                           "created rule 'aoai'")
    await announcing.announce(body, batched, "Normal", batched.event_reason, batched.event_message)
    created = [e for e in kube.events(namespace, "aoai") if e["reason"] == "Created"]
    assert len(created) == 1, created
    assert created[0]["message"] == "created rule 'aoai'" and created[0]["type"] == "Normal"
    assert created[0]["involvedObject"]["kind"] == "OutboundRule"
    assert created[0]["source"]["component"] == announcing.EVENT_SOURCE

    # A later write of the same rule (same body, new record) is news: an Event of its own.
    again = PendingWrite("PUT", TARGET, "hash-1", "2026-11-30T11:00:00Z", None, "Created", "created rule 'aoai'")
    await announcing.announce(body, again, "Normal", again.event_reason, again.event_message)
    assert [e["reason"] for e in kube.events(namespace, "aoai")].count("Created") == 2

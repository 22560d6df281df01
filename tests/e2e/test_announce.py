"""The Event of a landed write against a real API server: posted before its record is cleared, under a name taken from
the record, so two processes that both saw the write land (one killed before the status patch, then its successor)
leave one Event, and the next write of the same object gets an Event of its own. Also the status records written
ahead of kopf's patch. Both go over kopf's session in a running operator, and over the kubernetes client on a thread
where there are no kopf credentials: each test runs both ways."""

from __future__ import annotations

import contextlib

import kopf
import pytest
import yaml
from kopf._cogs.clients import auth
from kopf._cogs.structs import credentials

from promptflow_netiso.handlers import announce as announcing
from promptflow_netiso.handlers import kube_client, kube_writes, status_patch
from promptflow_netiso.planning.intent import PendingWrite

pytestmark = pytest.mark.e2e

TARGET = ("/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/"
          "Microsoft.MachineLearningServices/workspaces/w/outboundRules/aoai")


@contextlib.asynccontextmanager
async def _kopf_credentials(control_plane):
    """kopf's credentials in this task's context, as in every task of a running operator."""
    cfg = yaml.safe_load(control_plane.kubeconfig.read_text())
    cluster, user = cfg["clusters"][0]["cluster"], cfg["users"][0]["user"]
    vault = credentials.Vault()
    await vault.populate({"test": credentials.ConnectionInfo(
        server=cluster["server"], ca_data=cluster["certificate-authority-data"],
        certificate_data=user["client-certificate-data"], private_key_data=user["client-key-data"])})
    token = auth.vault_var.set(vault)
    try:
        yield
    finally:
        auth.vault_var.reset(token)
        await vault.close()


@pytest.fixture(params=["kopf session", "kubernetes client"])
def operator_client(request, control_plane, monkeypatch):
    """The operator's own client code, in this process, pointed at the test control plane. With kopf's session, the
    kubernetes client is made unusable: a write that went that way fails the test."""
    from kubernetes import client, config

    monkeypatch.setattr(announcing, "_core", None)
    monkeypatch.setattr(status_patch, "_custom_objects", None)
    if request.param == "kopf session":
        async def no_client():
            raise AssertionError("the kubernetes client was used where kopf's session should be")
        monkeypatch.setattr(kube_client, "api_client", no_client)
        monkeypatch.setattr(kube_writes, "_settings", kopf.OperatorSettings())
        return lambda: _kopf_credentials(control_plane)
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(control_plane.kubeconfig), client_configuration=cfg)
    monkeypatch.setattr(kube_client, "_client", client.ApiClient(cfg))
    return contextlib.nullcontext


def _body(namespace: str, uid: str) -> dict:
    return {"apiVersion": "netiso.promptflow.dev/v1alpha1", "kind": "OutboundRule",
            "metadata": {"name": "aoai", "namespace": namespace, "uid": uid}}


async def test_a_landed_write_announced_by_two_processes_leaves_one_event(operator_client, kube, unwatched_namespace):
    async with operator_client():
        await _announce_twice_then_again(kube, unwatched_namespace)


async def _announce_twice_then_again(kube, namespace: str) -> None:
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


RULE = """apiVersion: netiso.promptflow.dev/v1alpha1
kind: OutboundRule
metadata:
  name: pinecone
spec:
  workspaceRef:
    name: promptflow
  type: FQDN
  fqdn: "*.svc.pinecone.io"
"""


async def test_a_status_record_lands_before_the_call_returns_and_a_missing_object_is_named(
        operator_client, kube, unwatched_namespace):
    kube.apply(RULE, unwatched_namespace)
    record = {"pendingWrite": {"operation": "PUT", "target": TARGET, "bodyHash": "hash-1"}}
    async with operator_client():
        await status_patch.patch_status("outboundrules", unwatched_namespace, "pinecone", record)
        with pytest.raises(status_patch.StatusPatchError, match="not found"):
            await status_patch.patch_status("outboundrules", unwatched_namespace, "gone", record)
    status = kube.get("outboundrule", unwatched_namespace, "pinecone")["status"]
    assert status["pendingWrite"]["bodyHash"] == "hash-1", status

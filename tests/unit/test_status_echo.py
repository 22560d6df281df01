"""Status this process wrote is forgotten once the watch brings it back, even when no handler runs for that event.

A rule's last status write (its outcome) and a workspace's come back as a status-only watch event, which starts no
handler; only the indexes see it. Before, their entries in the per-object store stayed for good: about a quarter of
the objects after a cold converge, each with its lock, event and the conditions written (issue 13's memory).
"""

import kopf

from promptflow_netiso.handlers import outbound_rule
from promptflow_netiso.handlers.object_state import STATES

WRITTEN = {"ruleStatus": "Active", "created": True,
           "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "observedGeneration": 1}]}


def _body(kind: str, uid: str, status: dict) -> kopf.Body:
    spec = {"workspaceRef": {"name": "ws"}, "type": "FQDN", "fqdn": "api.example.com"} if kind == "rule" else {}
    return kopf.Body({"apiVersion": "netiso.promptflow.dev/v1alpha1", "kind": kind,
                      "metadata": {"name": "o", "namespace": "t-ns", "uid": uid, "generation": 1},
                      "spec": spec, "status": status})


async def test_the_rules_index_forgets_a_rules_own_write_once_the_body_shows_it():
    STATES.remember("rule-1", WRITTEN)
    await outbound_rule.rules_by_workspace(namespace="t-ns", name="o", uid="rule-1",
                                           body=_body("rule", "rule-1", {"observedGeneration": 1}))
    assert STATES.peek("rule-1").written == WRITTEN, "an older body: what was written is still ahead of it"
    await outbound_rule.rules_by_workspace(namespace="t-ns", name="o", uid="rule-1",
                                           body=_body("rule", "rule-1", {"observedGeneration": 1, **WRITTEN}))
    assert STATES.peek("rule-1") is None, "the body shows the write: no entry left"


async def test_the_workspace_index_forgets_a_workspaces_own_write_once_the_body_shows_it():
    written = {"managedNetworkStatus": "Active", "conditions": WRITTEN["conditions"]}
    STATES.remember("ws-1", written)
    body = _body("PromptFlowWorkspace", "ws-1", dict(written))
    await outbound_rule.outbound_rule_workspaces(namespace="t-ns", name="o", spec=body.spec, status=body.status,
                                                 meta=body.meta)
    assert STATES.peek("ws-1") is None

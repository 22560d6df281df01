"""PrivateEndpointApproval end to end: a real kube-apiserver, the Azure simulator over HTTPS, the operator process.

What a user notices: a connection stuck Pending gets approved (after the minimum time, and the OutboundRule shows
it), on every provider kind; foreign requesters are left alone; Observe mode writes nothing; a target the operator
may not write on asks for a person instead of hammering Azure; a restart mid-approval neither loses nor repeats the
approval. Azure writes are counted in the simulator's request log.

Operator loops in tests (tests/conftest.py): pending interval 1 s, settled interval 5 s, slow retry 3 s.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
import yaml

from tests.support.kube import condition

pytestmark = pytest.mark.e2e

API = "netiso.promptflow.dev/v1alpha1"
KIND = "privateendpointapproval"
MS_SUB = "6a1c5f0e-3b7d-4c2a-9e8f-0d4b2a7c91e3"  # where the simulator puts managed-network private endpoints
APPROVER = "b556d68e-0be0-4f35-a333-ad7ee1ce17ea"  # Azure AI Enterprise Network Connection Approver


# --- helpers -----------------------------------------------------------------------------------------------------------


def arm(sub: str, rg: str, provider_type: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{provider_type}/{name}"


def customer_pe(sub: str, name: str) -> str:
    return arm(sub, "rg-network", "Microsoft.Network/privateEndpoints", name)


def short() -> str:
    return uuid.uuid4().hex[:6]


def approval(name: str, targets: list[str], allow: dict, *, mode: str = "Approve", min_pending: int = 0,
             workspace: str | None = None) -> str:
    spec = {"targets": [{"resourceId": t} for t in targets], "allow": allow, "mode": mode,
            "minPendingSeconds": min_pending}
    if workspace:
        spec["workspaceRef"] = {"name": workspace}
    return yaml.safe_dump({"apiVersion": API, "kind": "PrivateEndpointApproval", "metadata": {"name": name},
                           "spec": spec})


def entry(obj: dict, name: str) -> dict | None:
    for e in (obj.get("status") or {}).get("connections") or []:
        if e["name"].lower() == name.lower():
            return e
    return None


def decided(name: str, decision: str):
    return lambda obj: (entry(obj, name) or {}).get("decision") == decision


def writes_to(sim_admin, target: str, since: int, connection: str | None = None) -> list[dict]:
    """Non-GET requests the operator sent to the target's private endpoint connections after `since`."""
    needle = (target + "/privateEndpointConnections/" + (connection or "")).lower()
    return [r for r in sim_admin.requests(since=since) if r["method"] != "GET" and needle in r["path"].lower()]


def reads_of(sim_admin, target: str, since: int) -> list[dict]:
    needle = (target + "/privateEndpointConnections").lower()
    return [r for r in sim_admin.requests(since=since)
            if r["method"] == "GET" and r["path"].lower().rstrip("/").endswith(needle)]


def sim_connection(sim_admin, target: str, name: str) -> dict:
    return next(c for c in sim_admin.connections(target) if c["name"].lower() == name.lower())


def events(kube, namespace: str, name: str, reason: str | None = None) -> list[dict]:
    return [e for e in kube.events(namespace, name) if reason is None or e["reason"] == reason]


def next_check(kube, namespace: str, name: str, after: dict, timeout: float = 60) -> dict:
    """Wait until the operator has looked at Azure again (status.lastCheck moved on)."""
    seen = after["status"]["lastCheck"]
    return kube.wait_for(KIND, namespace, name, lambda o: o["status"]["lastCheck"] != seen, timeout,
                         what="to check its targets again")


# --- the managed network's own request, end to end -------------------------------------------------------------------


def test_openai_connection_stuck_pending_is_approved_after_the_minimum_time(kube, namespace, sim_admin, operator,
                                                                            sim_names):
    sub, rg = sim_names
    ws_name, account = f"ws-{short()}", f"oai-{short()}"
    openai = arm(sub, rg, "Microsoft.CognitiveServices/accounts", account)
    sim_admin.seed_workspace(sub, rg, ws_name)
    sim_admin.seed_target(openai, pe_behaviour="pending")  # Azure's auto-approval never comes
    since = sim_admin.last_request_seq()
    kube.apply(yaml.safe_dump({"apiVersion": API, "kind": "PromptFlowWorkspace", "metadata": {"name": "pf"}, "spec": {
        "azure": {"subscriptionId": sub, "resourceGroup": rg, "workspaceName": ws_name},
        "network": {"mode": "ManagedVirtualNetwork", "isolationMode": "AllowOnlyApprovedOutbound",
                    "provision": {"enabled": True}}}}), namespace)
    kube.apply(yaml.safe_dump({"apiVersion": API, "kind": "OutboundRule", "metadata": {"name": "aoai"}, "spec": {
        "workspaceRef": {"name": "pf"}, "type": "PrivateEndpoint",
        "privateEndpoint": {"serviceResourceId": openai, "subresourceTarget": "account"}}}), namespace)
    # The managed network's subscription is declared (Observe mode shows it); the workspace narrows it to its own.
    kube.apply(approval("aoai-approvals", [openai], {"subscriptionIds": [MS_SUB], "workspaceManagedNetwork": True},
                        min_pending=4, workspace="pf"), namespace)

    rule = kube.wait_for("outboundrule", namespace, "aoai",
                         lambda o: o["status"]["privateEndpointConnection"]["state"] == "Approved", timeout=180,
                         what="to show its private endpoint connection Approved")
    conn_name = rule["status"]["privateEndpointConnection"]["name"]
    conn = sim_connection(sim_admin, openai, conn_name)
    assert conn["privateEndpointId"].lower().startswith(f"/subscriptions/{MS_SUB}/")  # a managed-network endpoint
    assert conn["description"].startswith("[pfn-")  # attribution first: it survives any truncation
    assert f"PrivateEndpointApproval {namespace}/aoai-approvals" in conn["description"]
    [put] = writes_to(sim_admin, openai, since, conn_name)
    assert put["method"] == "PUT"
    assert put["time"] - conn["createdAt"] >= 4, "approved before it had been Pending for minPendingSeconds"

    pea = kube.wait_for(KIND, namespace, "aoai-approvals", decided(conn_name, "Approved"), 30)
    e = entry(pea, conn_name)
    assert e["state"] == "Approved" and e["approvedAt"] and e["firstSeenPending"]
    assert f"allowed subscription {MS_SUB}" in e["reason"] and "workspace pf's managed network" in e["reason"]
    assert e["requesterSubscription"] == MS_SUB
    assert pea["status"]["approvedCount"] == 1
    assert condition(pea, "Ready")["status"] == "True"
    [event] = events(kube, namespace, "aoai-approvals", "Approved")
    for part in (conn_name, openai, conn["privateEndpointId"], f"PrivateEndpointApproval {namespace}/aoai-approvals"):
        assert part in event["message"]
    # The workspace's own connection is never announced as NotAllowed on the way (it waited for the workspace).
    assert events(kube, namespace, "aoai-approvals", "NotAllowed") == []
    [audit] = pea["status"]["audit"]
    assert audit["connection"] == conn_name and audit["requester"] == conn["privateEndpointId"]
    assert re.search(r'AUDIT promptflow_netiso.audit .*"action": "approve".*' + re.escape(conn_name), operator.logs())


def approver_role_puts(sim_admin, target: str, since: int) -> list[dict]:
    return [r for r in sim_admin.requests(since=since) if r["method"] == "PUT"
            and r["path"].lower().startswith(target.lower() + "/providers/microsoft.authorization/roleassignments/")]


@pytest.mark.parametrize("setting", [{"approverRole": {"assign": True}}, {"privateEndpointApproval": {"auto": True}}],
                         ids=["approverRole", "legacy-auto"])
def test_approver_role_lets_azure_approve_with_no_operator_approval(kube, namespace, sim_admin, operator, sim_names,
                                                                    setting):
    sub, rg = sim_names
    ws_name = f"ws-{short()}"
    search = arm(sub, rg, "Microsoft.Search/searchServices", f"srch-{short()}")
    ws = sim_admin.seed_workspace(sub, rg, ws_name)
    sim_admin.seed_target(search, pe_behaviour="pending")  # without the role: stuck
    since = sim_admin.last_request_seq()
    kube.apply(yaml.safe_dump({"apiVersion": API, "kind": "PromptFlowWorkspace", "metadata": {"name": "pf"}, "spec": {
        "azure": {"subscriptionId": sub, "resourceGroup": rg, "workspaceName": ws_name},
        "network": {"mode": "ManagedVirtualNetwork", "isolationMode": "AllowInternetOutbound",
                    "provision": {"enabled": True}}, **setting}}), namespace)
    kube.apply(yaml.safe_dump({"apiVersion": API, "kind": "OutboundRule", "metadata": {"name": "search"}, "spec": {
        "workspaceRef": {"name": "pf"}, "type": "PrivateEndpoint",
        "privateEndpoint": {"serviceResourceId": search, "subresourceTarget": "searchService"}}}), namespace)

    rule = kube.wait_for("outboundrule", namespace, "search",
                         lambda o: o["status"]["privateEndpointConnection"]["state"] == "Approved", timeout=180,
                         what="to show its private endpoint connection Approved")
    assert condition(rule, "Ready")["status"] == "True"
    requests = sim_admin.requests(since=since)
    # Azure approved it: the operator sent no approval, only the role assignment on the target, before the rule.
    assert writes_to(sim_admin, search, since) == []
    role_puts = approver_role_puts(sim_admin, search, since)
    assert [r["status"] for r in role_puts] == [201]  # one assignment, under a deterministic name
    rule_puts = [r for r in requests if r["method"] == "PUT" and r["path"].lower().endswith("/outboundrules/search")]
    assert rule_puts and role_puts[0]["seq"] < rule_puts[0]["seq"], "the rule was written before its target's role"
    granted = sim_admin.role_assignments(search, ws["identity"]["principalId"])
    assert [a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1] for a in granted] == [APPROVER]
    pf = kube.wait_for("promptflowworkspace", namespace, "pf",
                       lambda o: condition(o, "ApproverRoleAssigned")["status"] == "True", 60)
    assert any(r["scope"].lower() == search.lower() and r["createdByOperator"]
               for r in pf["status"]["roleAssignments"])
    assert kube.get(KIND, namespace, "pf-auto") is None  # no operator-side approval policy any more


def test_without_the_role_the_pending_rule_names_the_missing_role(kube, namespace, sim_admin, operator, sim_names):
    sub, rg = sim_names
    ws_name = f"ws-{short()}"
    vault = arm(sub, rg, "Microsoft.KeyVault/vaults", f"kv-{short()}")
    sim_admin.seed_workspace(sub, rg, ws_name)
    sim_admin.seed_target(vault, pe_behaviour="pending")
    kube.apply(yaml.safe_dump({"apiVersion": API, "kind": "PromptFlowWorkspace", "metadata": {"name": "pf"}, "spec": {
        "azure": {"subscriptionId": sub, "resourceGroup": rg, "workspaceName": ws_name},
        "network": {"mode": "ManagedVirtualNetwork", "isolationMode": "AllowInternetOutbound",
                    "provision": {"enabled": True}}}}), namespace)
    kube.apply(yaml.safe_dump({"apiVersion": API, "kind": "OutboundRule", "metadata": {"name": "kv-rule"}, "spec": {
        "workspaceRef": {"name": "pf"}, "type": "PrivateEndpoint",
        "privateEndpoint": {"serviceResourceId": vault, "subresourceTarget": "vault"}}}), namespace)

    rule = kube.wait_for("outboundrule", namespace, "kv-rule",
                         lambda o: condition(o, "Ready")["reason"] == "PrivateEndpointPending", timeout=180,
                         what="to report its connection Pending")
    message = condition(rule, "Ready")["message"]
    assert "lacks Azure AI Enterprise Network Connection Approver" in message and vault.rsplit("/", 1)[-1] in message
    assert "approverRole.assign" in message


# --- the other providers, and who is allowed --------------------------------------------------------------------------


def test_search_and_storage_connections_are_approved_once(kube, namespace, sim_admin, operator, sim_names):
    sub, rg = sim_names
    customer = str(uuid.uuid4())
    search = arm(sub, rg, "Microsoft.Search/searchServices", f"srch-{short()}")
    storage = arm(sub, rg, "Microsoft.Storage/storageAccounts", f"st{short()}")
    for target in (search, storage):
        sim_admin.seed_target(target, pe_behaviour="pending")
    s = sim_admin.seed_connection(search, customer_pe(customer, "pe-search"))["name"]
    t = sim_admin.seed_connection(storage, customer_pe(customer, "pe-blob"))["name"]
    since = sim_admin.last_request_seq()
    kube.apply(approval("data", [search, storage], {"subscriptionIds": [customer.upper()]}), namespace)

    pea = kube.wait_for(KIND, namespace, "data", lambda o: decided(s, "Approved")(o) and decided(t, "Approved")(o),
                        90, what="to approve both connections")
    assert sim_connection(sim_admin, search, s)["status"] == "Approved"
    assert sim_connection(sim_admin, storage, t)["status"] == "Approved"
    assert [r["route"] for r in writes_to(sim_admin, search, since)] == ["pec.searchservices.put"]
    assert [r["route"] for r in writes_to(sim_admin, storage, since)] == ["pec.storageaccounts.put"]
    assert pea["status"]["approvedCount"] == 2 and pea["status"]["pendingCount"] == 0
    assert len(events(kube, namespace, "data", "Approved")) == 2

    # Nothing changed since: further checks read, never write.
    settled = sim_admin.last_request_seq()
    pea = next_check(kube, namespace, "data", pea)
    next_check(kube, namespace, "data", pea)
    assert writes_to(sim_admin, search, settled) == [] and writes_to(sim_admin, storage, settled) == []
    scrape = operator.scrape()
    assert re.search(rf'promptflow_netiso_private_endpoint_approvals_total\{{[^}}]*namespace="{namespace}"'
                     rf'[^}}]*target="{search.rsplit("/", 1)[1]}"[^}}]*\}} 1\.0', scrape)


def test_foreign_subscription_connection_on_the_same_target_stays_pending(kube, namespace, sim_admin, operator,
                                                                           sim_names):
    sub, rg = sim_names
    allowed, foreign = str(uuid.uuid4()), str(uuid.uuid4())
    openai = arm(sub, rg, "Microsoft.CognitiveServices/accounts", f"oai-{short()}")
    sim_admin.seed_target(openai, pe_behaviour="pending")
    ours = sim_admin.seed_connection(openai, customer_pe(allowed, "pe-ours"))["name"]
    theirs = sim_admin.seed_connection(openai, customer_pe(foreign, "pe-theirs"))["name"]
    since = sim_admin.last_request_seq()
    kube.apply(approval("aoai", [openai], {"subscriptionIds": [allowed]}), namespace)

    pea = kube.wait_for(KIND, namespace, "aoai", lambda o: decided(ours, "Approved")(o) and
                        decided(theirs, "NotAllowed")(o), 90, what="to approve ours and leave theirs")
    pea = next_check(kube, namespace, "aoai", pea)
    assert sim_connection(sim_admin, openai, theirs)["status"] == "Pending"
    assert writes_to(sim_admin, openai, since, theirs) == []
    assert foreign in entry(pea, theirs)["reason"]
    assert pea["status"]["pendingCount"] == 1
    assert len(events(kube, namespace, "aoai", "NotAllowed")) == 1  # reported once, not on every check


def test_observe_mode_writes_nothing_until_switched_to_approve(kube, namespace, sim_admin, operator, sim_names):
    sub, rg = sim_names
    customer = str(uuid.uuid4())
    vault = arm(sub, rg, "Microsoft.KeyVault/vaults", f"kv-{short()}")
    sim_admin.seed_target(vault, pe_behaviour="pending")
    name = sim_admin.seed_connection(vault, customer_pe(customer, "pe-kv"))["name"]
    since = sim_admin.last_request_seq()
    kube.apply(approval("kv", [vault], {"subscriptionIds": [customer]}, mode="Observe"), namespace)

    pea = kube.wait_for(KIND, namespace, "kv", decided(name, "WouldApprove"), 90, what="to report WouldApprove")
    pea = next_check(kube, namespace, "kv", pea)
    assert writes_to(sim_admin, vault, since) == []
    assert sim_connection(sim_admin, vault, name)["status"] == "Pending"
    assert condition(pea, "Ready")["reason"] == "Observing"
    assert entry(pea, name)["requesterSubscription"] == customer  # what a person pins in subscriptionIds
    assert len(events(kube, namespace, "kv", "WouldApprove")) == 1

    control_plane_patch(kube, namespace, "kv", {"spec": {"mode": "Approve"}})
    kube.wait_for(KIND, namespace, "kv", decided(name, "Approved"), 60, what="to approve once in Approve mode")
    assert [r["route"] for r in writes_to(sim_admin, vault, since)] == ["pec.vaults.put"]


def control_plane_patch(kube, namespace: str, name: str, patch: dict) -> None:
    kube.cp.kubectl("patch", KIND, name, "-n", namespace, "--type=merge", "-p", json.dumps(patch))


# --- a target that needs a person ------------------------------------------------------------------------------------


def test_forbidden_target_asks_for_a_person_without_a_retry_storm(kube, namespace, sim_admin, operator, sim_names):
    sub, rg = sim_names
    customer = str(uuid.uuid4())
    openai = arm(sub, rg, "Microsoft.CognitiveServices/accounts", f"oai-{short()}")
    sim_admin.seed_target(openai, pe_behaviour="pending")
    name = sim_admin.seed_connection(openai, customer_pe(customer, "pe-1"))["name"]
    sim_admin.deny(openai, ["*/privateEndpointConnections/write"])  # may read, may not approve
    since = sim_admin.last_request_seq()
    kube.apply(approval("aoai", [openai], {"subscriptionIds": [customer]}), namespace)

    pea = kube.wait_for(KIND, namespace, "aoai", lambda o: condition(o, "Ready")["reason"] == "ManualApprovalRequired",
                        90, what="to ask for a person")
    ready = condition(pea, "Ready")
    assert ready["status"] == "False" and "AuthorizationFailed" in ready["message"] and openai in ready["message"]
    assert entry(pea, name)["decision"] == "Waiting"
    first_403 = min(r["time"] for r in writes_to(sim_admin, openai, since))

    # Keep watching for a while: the operator re-tries once per slow retry (3 s), not on every 1 s check.
    time.sleep(7)
    puts = writes_to(sim_admin, openai, since)
    window = time.time() - first_403  # the simulator runs on this machine's clock
    assert len(puts) <= window / 3 + 1, f"{len(puts)} approval attempts in {window:.1f}s: a retry storm"
    assert all(r["status"] == 403 for r in puts)
    assert len(events(kube, namespace, "aoai", "ManualApprovalRequired")) == 1
    assert sim_connection(sim_admin, openai, name)["status"] == "Pending"

    # A person grants the right: picked up without touching the object.
    sim_admin.grant(openai)
    pea = kube.wait_for(KIND, namespace, "aoai", decided(name, "Approved"), 60, what="to approve once allowed")
    kube.wait_for(KIND, namespace, "aoai", lambda o: condition(o, "Ready")["status"] == "True", 30)


# --- restart in the middle of a long-running approval ----------------------------------------------------------------


def test_kill_during_a_long_running_approval_follows_it_and_never_sends_it_twice(kube, namespace, sim_admin, operator,
                                                                                sim_names):
    sub, rg = sim_names
    customer = str(uuid.uuid4())
    openai = arm(sub, rg, "Microsoft.CognitiveServices/accounts", f"oai-{short()}")
    sim_admin.seed_target(openai, pe_behaviour="pending")
    name = sim_admin.seed_connection(openai, customer_pe(customer, "pe-1"))["name"]
    # The approval PUT of this connection is long-running (202 + Location): keep it running for a while.
    sim_admin.faults(re.escape(f"/privateEndpointConnections/{name}"), "stuck-lro", method="PUT", count=1, stuck_s=8)
    since = sim_admin.last_request_seq()
    kube.apply(approval("aoai", [openai], {"subscriptionIds": [customer]}), namespace)

    # The poll URL is on record before anything waits on it; then the process dies (kill -9).
    recorded = kube.wait_for(KIND, namespace, "aoai",
                             lambda o: any(f.get("operationUrl") for f in o["status"].get("inFlight") or []), 90,
                             what="to record the approval's poll URL")
    [flight] = recorded["status"]["inFlight"]
    assert flight["name"].lower() == name.lower() and flight["startedAt"]
    operator.restart(kill=True)

    pea = kube.wait_for(KIND, namespace, "aoai", decided(name, "Approved"), 90, what="to record the approval")
    pea = next_check(kube, namespace, "aoai", pea)
    conn = sim_connection(sim_admin, openai, name)
    assert conn["status"] == "Approved" and f"PrivateEndpointApproval {namespace}/aoai" in conn["description"]
    assert pea["status"]["approvedCount"] == 1 and entry(pea, name)["approvedAt"]
    assert not pea["status"].get("inFlight")
    assert [r["method"] for r in writes_to(sim_admin, openai, since, name)] == ["PUT"]  # exactly one approval PUT
    recorded = events(kube, namespace, "aoai", "Approved")
    assert len(recorded) == 1, [e["message"] for e in recorded]
    audit = [line for line in operator.logs().splitlines() if '"action": "approve"' in line and name in line]
    assert len(audit) == 1, audit
    assert len(pea["status"]["audit"]) == 1


# --- attacks: a name is not evidence ---------------------------------------------------------------------------------


def test_an_endpoint_named_like_the_workspaces_stays_pending_under_every_policy_not_naming_its_subscription(
        kube, namespace, sim_admin, operator, sim_names):
    sub, rg = sim_names
    attacker = str(uuid.uuid4())  # a customer subscription, not the managed network's
    ws_name = f"ws-{short()}"
    openai = arm(sub, rg, "Microsoft.CognitiveServices/accounts", f"oai-{short()}")
    ws = sim_admin.seed_workspace(sub, rg, ws_name, isolation_mode="AllowInternetOutbound")
    suffix = ws["properties"]["managedNetwork"]["networkId"].replace("-", "")[:8]
    sim_admin.seed_target(openai, pe_behaviour="pending")
    # Created before the rule exists, named exactly like the endpoint the managed network will create for it.
    early = sim_admin.seed_connection(openai, customer_pe(attacker, f"aoai_{suffix}"))["name"]
    since = sim_admin.last_request_seq()
    kube.apply(yaml.safe_dump({"apiVersion": API, "kind": "PromptFlowWorkspace", "metadata": {"name": "pf"}, "spec": {
        "azure": {"subscriptionId": sub, "resourceGroup": rg, "workspaceName": ws_name},
        "network": {"mode": "ManagedVirtualNetwork", "isolationMode": "AllowInternetOutbound",
                    "provision": {"enabled": True}},
        "privateEndpointApproval": {"auto": True, "minPendingSeconds": 0}}}), namespace)
    pattern = f"/subscriptions/{MS_SUB}/resourceGroups/*/providers/Microsoft.Network/privateEndpoints/*"
    policies = {
        "narrowed": {"subscriptionIds": [MS_SUB], "workspaceManagedNetwork": True},
        "managed-sub": {"subscriptionIds": [MS_SUB]},
        "pattern": {"privateEndpointIdPatterns": [pattern]},
        "other-customer": {"subscriptionIds": [str(uuid.uuid4())], "workspaceManagedNetwork": True},
    }
    for pname, allow in policies.items():
        # minPendingSeconds gives Azure (the role) time to approve the real connection first, as in production.
        kube.apply(approval(pname, [openai], allow, workspace="pf", min_pending=60), namespace)
    kube.apply(yaml.safe_dump({"apiVersion": API, "kind": "OutboundRule", "metadata": {"name": "aoai"}, "spec": {
        "workspaceRef": {"name": "pf"}, "type": "PrivateEndpoint",
        "privateEndpoint": {"serviceResourceId": openai, "subresourceTarget": "account"}}}), namespace)

    rule = kube.wait_for("outboundrule", namespace, "aoai",
                         lambda o: o["status"]["privateEndpointConnection"]["state"] == "Approved", timeout=180,
                         what="to get its own connection approved (by Azure, through the role)")
    real = rule["status"]["privateEndpointConnection"]["name"]
    # A second lookalike, created once the rule exists.
    late = sim_admin.seed_connection(openai, customer_pe(attacker, f"aoai_{suffix}"), name=f"late-{short()}")["name"]
    for pname in policies:
        pea = kube.wait_for(KIND, namespace, pname, lambda o: decided(early, "NotAllowed")(o)
                            and decided(late, "NotAllowed")(o), 60, what="to refuse both lookalikes")
        pea = next_check(kube, namespace, pname, pea)
        assert entry(pea, early)["requesterSubscription"] == attacker
    for spoof in (early, late):
        assert sim_connection(sim_admin, openai, spoof)["status"] == "Pending"
        assert writes_to(sim_admin, openai, since, spoof) == []
    assert writes_to(sim_admin, openai, since, real) == []  # and the real one needed no operator approval either


@pytest.mark.parametrize("pattern", ["/subscriptions/*",
                                     "*/providers/Microsoft.Network/privateEndpoints/*",
                                     "/subscriptions/*/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe"])
def test_patterns_without_a_literal_subscription_are_refused_at_admission(control_plane, unwatched_namespace,
                                                                         pattern):
    manifest = approval("wide", [arm(str(uuid.uuid4()), "rg", "Microsoft.KeyVault/vaults", "kv")],
                        {"privateEndpointIdPatterns": [pattern]})
    res = control_plane.kubectl("apply", "-n", unwatched_namespace, "-f", "-", input=manifest, check=False)
    assert res.returncode != 0
    assert "spec.allow.privateEndpointIdPatterns[0]" in res.stderr
    assert "subscription GUID" in res.stderr


def test_a_policy_naming_only_the_workspace_is_refused_at_admission(control_plane, unwatched_namespace):
    manifest = approval("by-name", [arm(str(uuid.uuid4()), "rg", "Microsoft.KeyVault/vaults", "kv")],
                        {"workspaceManagedNetwork": True}, workspace="pf")
    res = control_plane.kubectl("apply", "-n", unwatched_namespace, "-f", "-", input=manifest, check=False)
    assert res.returncode != 0 and "spec.allow" in res.stderr and "subscriptionIds" in res.stderr

"""Tenancy end to end (docs/tenancy.md): two teams, each granted its own resource group by a cluster admin.

Every cross-tenant attempt is refused, at admission (the shipped ValidatingAdmissionPolicy, on the real API server)
or by the operator (objects admitted before a grant was narrowed, or a cluster without the policy), and the
simulator's request log shows zero Azure requests for it. With a per-namespace identity, each team reaches ARM only
as its own principal, and Azure RBAC bounds it too.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.sim.admin import unique_names
from tests.support.controlplane import REPO
from tests.support.kube import condition, is_ready
from tests.support.tenancy import grant, install_admission_policy, wait_admitted

pytestmark = pytest.mark.e2e

API = "netiso.promptflow.dev/v1alpha1"
WS, RULE, PEA = "PromptFlowWorkspace", "OutboundRule", "PrivateEndpointApproval"
WAIT = 120  # generous: the machine is shared; nothing here asserts how fast
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
BINDING = "promptflow-netiso-azure-scope"
IDENTITY_SA = "promptflow-azure"
TEAM_RULE = {"type": "FQDN", "category": "UserDefined", "destination": "team.example.com"}  # the ServiceAccount name the shipped RBAC lets the operator mint tokens for


class Team:
    """A namespace (watched by the test operator) and its own resource group with a workspace and an Azure OpenAI
    account, in a subscription shared with the other team."""

    def __init__(self, cp, admin, sub: str, label: str):
        self.ns = f"t-tenancy-{label}-{uuid.uuid4().hex[:5]}"
        self.sub, self.rg = sub, f"rg-{label}-{uuid.uuid4().hex[:6]}"
        self.ws_name = f"ws-{label}-{uuid.uuid4().hex[:6]}"
        # `team-rule`: a user-defined rule the team manages (what an `adopt` from another namespace would take over)
        self.ws_id = admin.seed_workspace(sub, self.rg, self.ws_name, isolation_mode="AllowOnlyApprovedOutbound",
                                          provisioned=True, rules={"team-rule": TEAM_RULE})["id"]
        self.rg_id = f"/subscriptions/{sub}/resourceGroups/{self.rg}"
        self.account = f"{self.rg_id}/providers/Microsoft.CognitiveServices/accounts/aoai-{label}"
        admin.seed_target(self.account, pe_behaviour="pending")
        cp.kubectl("create", "namespace", self.ns)

    def grant(self, cp, **kw) -> None:
        scopes = {"workspaces": [self.rg_id], "rule_targets": [self.rg_id], "approval_targets": [self.rg_id], **kw}
        grant(cp, self.ns, **scopes)

    def calls(self, admin, since: int) -> list[dict]:
        rg = f"/resourcegroups/{self.rg.lower()}/"
        return [r for r in admin.requests(since=since) if rg in r["path"].lower() + "/"]


def workspace(name: str, team: Team, *, case=str) -> dict:
    return {"apiVersion": API, "kind": WS, "metadata": {"name": name},
            "spec": {"azure": {"subscriptionId": team.sub, "resourceGroup": case(team.rg), "workspaceName": team.ws_name},
                     "network": {"isolationMode": "AllowOnlyApprovedOutbound"}, "storageRoles": {"assign": False}}}


def pe_rule(name: str, workspace_name: str, target: str, adopt: bool = False) -> dict:
    return {"apiVersion": API, "kind": RULE, "metadata": {"name": name},
            "spec": {"workspaceRef": {"name": workspace_name}, "type": "PrivateEndpoint", "adopt": adopt,
                     "privateEndpoint": {"serviceResourceId": target, "subresourceTarget": "account"}}}


def fqdn_rule(name: str, workspace_name: str, adopt: bool = False) -> dict:
    return {"apiVersion": API, "kind": RULE, "metadata": {"name": name},
            "spec": {"workspaceRef": {"name": workspace_name}, "type": "FQDN", "fqdn": "api.openai.com", "adopt": adopt}}


def approval(name: str, target: str) -> dict:
    return {"apiVersion": API, "kind": PEA, "metadata": {"name": name},
            "spec": {"targets": [{"resourceId": target}], "allow": {"subscriptionIds": [str(uuid.uuid4())]},
                     "mode": "Approve", "minPendingSeconds": 0}}


def create(cp, ns: str, obj: dict, check: bool = True):
    return cp.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(obj), check=check)


def refused(kube, kind: str, ns: str, name: str, reason: str = "ScopeNotGranted") -> dict:
    return kube.wait_for(kind, ns, name, lambda o: (condition(o, "Ready") or {}).get("reason") == reason, WAIT,
                         f"to be refused with {reason}")


def ready(kube, kind: str, ns: str, name: str) -> dict:
    return kube.wait_for(kind, ns, name, is_ready, WAIT, "to be Ready")


@pytest.fixture(scope="module")
def admission(control_plane):
    install_admission_policy(control_plane)
    yield


@pytest.fixture
def teams(control_plane, sim_admin, operator, admission):
    sub, _ = unique_names("tenancy")
    a, b = Team(control_plane, sim_admin, sub, "a"), Team(control_plane, sim_admin, sub, "b")
    a.grant(control_plane)
    b.grant(control_plane)
    yield a, b
    for t in (a, b):
        control_plane.kubectl("delete", "namespace", t.ns, "--wait=false", check=False)


def test_the_api_server_refuses_every_cross_tenant_object_naming_field_and_namespace(control_plane, sim_admin, teams):
    a, b = teams
    start = sim_admin.last_request_seq()
    attempts = [
        (workspace("steal", b), "spec.azure", b.ws_id),
        (pe_rule("to-b", "mine", b.account), "spec.privateEndpoint.serviceResourceId", b.account),
        (approval("approve-b", b.account), "spec.targets[].resourceId", b.account),
    ]
    for obj, field, what in attempts:
        res = create(control_plane, a.ns, obj, check=False)
        assert res.returncode != 0, f"{obj['kind']} naming team B's {what} was admitted"
        assert f"{field}: namespace {a.ns} is not granted {what}" in res.stderr, res.stderr
        assert "ValidatingAdmissionPolicy" in res.stderr and BINDING in res.stderr, res.stderr

    # A bring-your-own network names a VNet and an AKS cluster: they must lie in the namespace's workspaces scopes.
    byo = workspace("own-ws-foreign-vnet", a)
    byo["spec"]["network"] = {"mode": "BringYourOwnVirtualNetwork",
                              "virtualNetworkId": f"{b.rg_id}/providers/Microsoft.Network/virtualNetworks/vnet-b"}
    byo["spec"]["deploymentTarget"] = {"type": "Kubernetes", "extension": {"install": False},
                                       "aksClusterId": f"{a.rg_id}/providers/Microsoft.ContainerService/managedClusters/aks-a"}
    res = create(control_plane, a.ns, byo, check=False)
    assert res.returncode != 0, res.stdout
    assert f"namespace {a.ns} is not granted {b.rg_id}/providers/Microsoft.Network/virtualNetworks/vnet-b" in res.stderr, \
        res.stderr

    # ARM IDs are case-insensitive: the team's own resource group in other letters is still its own.
    create(control_plane, a.ns, workspace("mine", a, case=str.upper), check=True)
    # A namespace nobody granted anything reaches nothing (secure by default), whatever it names.
    bare = f"t-tenancy-bare-{uuid.uuid4().hex[:5]}"
    control_plane.kubectl("create", "namespace", bare)
    try:
        res = create(control_plane, bare, workspace("anything", a), check=False)
        assert res.returncode != 0 and "no params found" in res.stderr, res.stderr
    finally:
        control_plane.kubectl("delete", "namespace", bare, "--wait=false", check=False)
    # A spec change is checked like a create: team A's own workspace object cannot be pointed at team B.
    res = control_plane.kubectl("patch", "-n", a.ns, "pfws", "mine", "--type=merge", "-p",
                                json.dumps({"spec": {"azure": {"resourceGroup": b.rg}}}), check=False)
    assert res.returncode != 0 and ("is immutable" in res.stderr or "is not granted" in res.stderr), res.stderr

    assert b.calls(sim_admin, start) == [], "a refused object reached Azure"


def test_namespace_users_read_their_grant_but_cannot_write_it(control_plane, teams):
    a, _ = teams
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "deploy/base/user-roles.yaml"))
    user = f"alice-{uuid.uuid4().hex[:4]}"
    # (no controller-manager here to aggregate the viewer into `view`: bind it directly)
    for role in ("promptflow-netiso-editor", "promptflow-netiso-viewer", "edit"):
        control_plane.kubectl("create", "rolebinding", f"{user}-{role}", "-n", a.ns, f"--clusterrole={role}", f"--user={user}")

    def can(verb: str, resource: str) -> bool:
        res = control_plane.kubectl("auth", "can-i", verb, resource, "-n", a.ns, f"--as={user}", check=False)
        return res.stdout.strip() == "yes"

    assert can("create", "promptflowworkspaces.netiso.promptflow.dev")
    assert can("get", "azurescopegrants.netiso.promptflow.dev") and can("list", "azurescopegrants.netiso.promptflow.dev")
    for verb in ("create", "update", "patch", "delete"):
        assert not can(verb, "azurescopegrants.netiso.promptflow.dev"), f"an editor may {verb} the grant"
    table = control_plane.kubectl("get", "azurescopegrants", "-n", a.ns).stdout
    assert "WORKSPACES" in table and a.rg in table, table


def test_the_operator_refuses_what_admission_would_have_with_zero_azure_requests(control_plane, kube, sim_admin, teams):
    """A cluster without the policy (the binding removed): the operator alone keeps team A out of team B's Azure."""
    a, b = teams
    control_plane.kubectl("delete", "validatingadmissionpolicybinding", BINDING, "--ignore-not-found")
    try:
        # Wait until admission no longer applies the policy (its informer lags the delete).
        deadline = time.monotonic() + 90
        while (res := create(control_plane, a.ns, workspace("probe", b), check=False)).returncode != 0:
            assert time.monotonic() < deadline, f"the binding is still enforced: {res.stderr}"
            time.sleep(0.3)
        control_plane.kubectl("delete", "pfws", "probe", "-n", a.ns, "--wait=false")
        start = sim_admin.last_request_seq()
        create(control_plane, a.ns, workspace("steal", b))
        create(control_plane, a.ns, pe_rule("to-b", "mine", b.account))
        create(control_plane, a.ns, approval("approve-b", b.account))
        # adopt never crosses namespaces: B's rule, adopted through a workspace object naming B's workspace.
        create(control_plane, a.ns, fqdn_rule("team-rule", "steal", adopt=True))

        ws = refused(kube, WS, a.ns, "steal")
        assert f"spec.azure: namespace {a.ns} is not granted {b.ws_id}" in condition(ws, "Ready")["message"]
        rule = refused(kube, RULE, a.ns, "to-b")
        assert f"spec.privateEndpoint.serviceResourceId: namespace {a.ns} is not granted {b.account}" in \
            condition(rule, "Ready")["message"]
        pea = refused(kube, PEA, a.ns, "approve-b")
        assert f"spec.targets[].resourceId: namespace {a.ns} is not granted {b.account}" in condition(pea, "Ready")["message"]
        adopt = kube.wait_for(RULE, a.ns, "team-rule", lambda o: condition(o, "Ready") is not None, WAIT, "to report")
        assert not is_ready(adopt)
        for name in ("steal", "to-b", "approve-b"):
            assert "ScopeNotGranted" in [e["reason"] for e in kube.events(a.ns, name)]

        time.sleep(5)  # a few drift checks of every refused object (2 s in tests)
        assert b.calls(sim_admin, start) == [], "a refused object reached team B's Azure"
        assert not is_ready(kube.get(RULE, a.ns, "team-rule"))
        rules = sim_admin.workspace(b.ws_id)["body"]["properties"]["managedNetwork"]["outboundRules"]
        assert rules["team-rule"]["destination"] == TEAM_RULE["destination"]  # B's rule is still B's
    finally:
        install_admission_policy(control_plane)


def test_a_narrowed_grant_stops_azure_calls_for_objects_admitted_before(control_plane, kube, sim_admin, teams):
    a, _ = teams
    create(control_plane, a.ns, workspace("mine", a))
    ready(kube, WS, a.ns, "mine")
    grant(control_plane, a.ns, workspaces=[], rule_targets=[], approval_targets=[], wait=False)  # the admin narrows it
    obj = refused(kube, WS, a.ns, "mine")
    assert f"is not granted {a.ws_id}" in condition(obj, "Ready")["message"]
    start = sim_admin.last_request_seq()
    time.sleep(5)  # several drift checks
    assert a.calls(sim_admin, start) == []
    assert [e["reason"] for e in kube.events(a.ns, "mine")].count("ScopeNotGranted") == 1  # one Event, not one per check

    a.grant(control_plane)  # granted again: converges again, no edit of the object needed
    ready(kube, WS, a.ns, "mine")


def test_a_second_workspace_object_claiming_the_same_azure_workspace_is_a_conflict(control_plane, kube, sim_admin, teams):
    a, _ = teams
    create(control_plane, a.ns, workspace("first", a))
    ready(kube, WS, a.ns, "first")
    time.sleep(1.1)  # creationTimestamp has second precision: make "older" unambiguous
    start = sim_admin.last_request_seq()
    second = workspace("second", a)
    second["spec"]["network"]["isolationMode"] = "AllowInternetOutbound"  # would fight the first one
    create(control_plane, a.ns, second)
    obj = refused(kube, WS, a.ns, "second", reason="Conflict")
    assert f"already managed by PromptFlowWorkspace {a.ns}/first" in condition(obj, "Ready")["message"]
    assert "Conflict" in [e["reason"] for e in kube.events(a.ns, "second")]
    time.sleep(4)
    assert [r for r in a.calls(sim_admin, start) if r["method"] != "GET"] == [], "the second owner wrote to Azure"
    assert sim_admin.workspace(a.ws_id)["body"]["properties"]["managedNetwork"]["isolationMode"] == "AllowOnlyApprovedOutbound"
    assert is_ready(kube.get(WS, a.ns, "first"))

    kube.delete(WS, a.ns, "first", wait=True)  # the owner leaves: the other object takes over (and meets Azure's
    # one-way isolation ratchet: AllowOnlyApprovedOutbound cannot go back to AllowInternetOutbound)
    kube.wait_for(WS, a.ns, "second", lambda o: (condition(o, "Ready") or {}).get("reason") not in (None, "Conflict"),
                  WAIT, "to take over")


# --- per-namespace identity ----------------------------------------------------------------------------------------------


def _kube_issuer(control_plane) -> tuple[str, dict]:
    discovery = json.loads(control_plane.kubectl("get", "--raw", "/.well-known/openid-configuration").stdout)
    jwks = json.loads(control_plane.kubectl("get", "--raw", "/openid/v1/jwks").stdout)
    return discovery["issuer"], jwks


def _identity(control_plane, sim_admin, team: Team, issuer: str, role_scope: str | None = None) -> dict:
    """An Entra app whose federated credential trusts the team's ServiceAccount, authorized by Azure RBAC alone."""
    app = sim_admin.register_client(federated=[{"issuer": issuer, "subject": f"system:serviceaccount:{team.ns}:{IDENTITY_SA}"}],
                                    rbac=True)
    app["assignment"] = sim_admin.seed_role_assignment(role_scope or team.rg_id, OWNER, app["objectId"])["id"]
    return app


def test_each_namespace_reaches_azure_only_as_its_own_identity(control_plane, kube, sim_admin, teams):
    a, b = teams
    issuer, jwks = _kube_issuer(control_plane)
    sim_admin.trust_issuer(issuer, jwks)  # Entra ID verifies the API server's signatures with its published keys
    apps = {}
    for team in (a, b):
        apps[team.ns] = _identity(control_plane, sim_admin, team, issuer)
        control_plane.kubectl("create", "serviceaccount", IDENTITY_SA, "-n", team.ns)
        team.grant(control_plane, identity={"serviceAccountName": IDENTITY_SA, "clientId": apps[team.ns]["clientId"]})
    start = sim_admin.last_request_seq()
    for team in (a, b):
        create(control_plane, team.ns, workspace("ws", team))
        create(control_plane, team.ns, fqdn_rule("openai", "ws"))
    for team in (a, b):
        ready(kube, WS, team.ns, "ws")
        ready(kube, RULE, team.ns, "openai")
    for team in (a, b):
        principals = {r["principal"] for r in team.calls(sim_admin, start)}
        assert principals == {apps[team.ns]["objectId"]}, f"{team.ns} reached ARM as {principals}"

    # Team A's role is removed in Azure: its objects say so, verbatim; team B is unaffected.
    sim_admin.delete_role_assignment(apps[a.ns]["assignment"])
    obj = kube.wait_for(WS, a.ns, "ws", lambda o: "AuthorizationFailed" in (condition(o, "Ready") or {}).get("message", ""),
                        WAIT, "to report AuthorizationFailed")
    ready_a = condition(obj, "Ready")
    assert ready_a["status"] == "False"
    assert (f"AuthorizationFailed: The client '{apps[a.ns]['objectId']}' with object id '{apps[a.ns]['objectId']}' "
            f"does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/read' "
            f"over scope '{a.ws_id}'") in ready_a["message"]
    mark = sim_admin.last_request_seq()
    time.sleep(4)  # drift checks of both teams
    assert is_ready(kube.get(WS, b.ns, "ws"))
    b_calls = b.calls(sim_admin, mark)
    assert b_calls and all(r["status"] < 400 for r in b_calls), b_calls


def test_an_identity_that_does_not_trust_the_namespace_is_refused_by_entra(control_plane, kube, sim_admin, teams):
    """An admin who names team A's identity in team B's grant gets Entra ID's refusal, verbatim: the federated
    credential trusts team A's ServiceAccount only."""
    a, b = teams
    issuer, jwks = _kube_issuer(control_plane)
    sim_admin.trust_issuer(issuer, jwks)
    app_a = _identity(control_plane, sim_admin, a, issuer, role_scope=f"/subscriptions/{a.sub}")
    control_plane.kubectl("create", "serviceaccount", IDENTITY_SA, "-n", b.ns)
    b.grant(control_plane, identity={"serviceAccountName": IDENTITY_SA, "clientId": app_a["clientId"]})
    start = sim_admin.last_request_seq()
    create(control_plane, b.ns, workspace("ws", b))
    obj = kube.wait_for(WS, b.ns, "ws", lambda o: "AADSTS70021" in (condition(o, "Ready") or {}).get("message", ""),
                        WAIT, "to report Entra ID's refusal")
    message = condition(obj, "Ready")["message"]
    assert f"Assertion Subject: 'system:serviceaccount:{b.ns}:{IDENTITY_SA}'" in message
    assert b.calls(sim_admin, start) == []  # never reached ARM

"""OutboundRule end to end: a real kube-apiserver, the Azure simulator behind the real SDK pipelines, and the operator
as a subprocess. Claims are checked where a person would check them: the objects' status (what `kubectl get pfor`
shows), their Events, and the simulator's request log (which Azure calls were made, and how many).

Each test uses its own subscription and resource group, so the shared simulator's log can be filtered per test.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.sim.admin import SeededWorkspace
from tests.sim.arm_client import call
from tests.sim.helpers import ML_API, ml_client
from tests.support.kube import condition, is_ready

pytestmark = pytest.mark.e2e

API = "netiso.promptflow.dev/v1alpha1"
RULE, WS = "OutboundRule", "PromptFlowWorkspace"
POLICY = "netiso.promptflow.dev/reconcile-policy"
WAIT = 120  # generous: the machine is shared; nothing here asserts how fast
APPROVED = "AllowOnlyApprovedOutbound"


class Azure(SeededWorkspace):
    """A provisioned AllowOnlyApprovedOutbound workspace by default, plus rule-specific views."""

    def __init__(self, admin, prefix: str, isolation: str = APPROVED, provisioned: bool = True, **seed):
        super().__init__(admin, prefix, isolation_mode=isolation, provisioned=provisioned, **seed)

    def target(self, name: str, behaviour: str = "auto-approve", approve_after_s: float = 0.5) -> str:
        rid = f"/subscriptions/{self.sub}/resourceGroups/{self.rg}/providers/Microsoft.CognitiveServices/accounts/{name}"
        self.admin.seed_target(rid, pe_behaviour=behaviour, approve_after_s=approve_after_s)
        return rid

    def rule_writes(self, since: int | None = None) -> list[dict]:
        """Rule PUT/DELETEs and batchOutboundRules POSTs (whose log entry names the rules it carried)."""
        return [r for r in self.calls(since) if r["method"] != "GET"
                and ("/outboundrules/" in r["path"].lower() or r["path"].lower().endswith("/batchoutboundrules"))]

    def batch_posts(self, since: int | None = None) -> list[dict]:
        return [r for r in self.rule_writes(since) if r["method"] == "POST"]

    def rules(self) -> dict[str, dict]:
        """Azure's outbound rules of the workspace, by lower-cased name."""
        mn = self.admin.workspace(self.ws_id)["body"]["properties"]["managedNetwork"]
        return {k.lower(): v for k, v in (mn.get("outboundRules") or {}).items()}


def puts_by_rule(writes: list[dict]) -> dict[str, int]:
    """Accepted creates/updates per rule: a rule PUT, or a batchOutboundRules POST that carried the rule."""
    out: dict[str, int] = {}
    for r in writes:
        if r["status"] >= 400:
            continue
        if r["method"] == "PUT":
            names = [r["path"].rstrip("/").rsplit("/", 1)[-1]]
        elif r["method"] == "POST":
            names = r.get("rules") or []
        else:
            continue
        for name in names:
            out[name.lower()] = out.get(name.lower(), 0) + 1
    return out


def workspace_manifest(name: str, az: Azure, isolation: str = APPROVED) -> str:
    spec = {"azure": {"subscriptionId": az.sub, "resourceGroup": az.rg, "workspaceName": az.ws_name},
            "network": {"mode": "ManagedVirtualNetwork", "isolationMode": isolation},
            "storageRoles": {"assign": False}}
    return json.dumps({"apiVersion": API, "kind": WS, "metadata": {"name": name}, "spec": spec})


def rule_manifest(name: str, workspace: str = "pf", annotations: dict | None = None, **spec) -> dict:
    meta: dict = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": API, "kind": RULE, "metadata": meta, "spec": {"workspaceRef": {"name": workspace}, **spec}}


def fqdn(name: str, host: str, **kw) -> dict:
    return rule_manifest(name, type="FQDN", fqdn=host, **kw)


def apply(kube, ns: str, *objs: dict) -> None:
    kube.apply(json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}), ns)


def ready_workspace(kube, ns: str, az: Azure, name: str = "pf", isolation: str = APPROVED) -> dict:
    kube.apply(workspace_manifest(name, az, isolation), ns)
    return kube.wait_for(WS, ns, name, is_ready, WAIT, "to be Ready")


def ready_rule(kube, ns: str, name: str) -> dict:
    return kube.wait_for(RULE, ns, name, is_ready, WAIT, "to be Ready")


def reasons(kube, ns: str, name: str) -> list[str]:
    return [e["reason"] for e in kube.events(ns, name)]


def ready_reason(obj: dict) -> str | None:
    c = condition(obj, "Ready")
    return c["reason"] if c else None


# --- each rule type: created, changed, deleted ----------------------------------------------------------------------


def test_each_rule_type_is_created_changed_and_deleted_with_one_write_each(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "types")
    aoai = az.target("aoai-types")
    ready_workspace(kube, namespace, az)
    az.mark()

    rules = [
        fqdn("openai", "api.openai.com"),
        rule_manifest("monitor", type="ServiceTag",
                      serviceTag={"serviceTag": "AzureMonitor", "protocol": "TCP", "portRanges": "443"}),
        rule_manifest("aoai", type="PrivateEndpoint", privateEndpoint={"serviceResourceId": aoai, "subresourceTarget": "account"}),
    ]
    apply(kube, namespace, *rules)
    got = {r["metadata"]["name"]: ready_rule(kube, namespace, r["metadata"]["name"]) for r in rules}

    assert {n: (o["status"]["ruleStatus"], o["status"]["category"]) for n, o in got.items()} == {
        "openai": ("Active", "UserDefined"), "monitor": ("Active", "UserDefined"), "aoai": ("Active", "UserDefined")}
    assert got["openai"]["status"]["destination"] == "api.openai.com"
    assert got["monitor"]["status"]["destination"] == "AzureMonitor TCP/443 Allow"
    assert got["aoai"]["status"]["destination"] == "aoai-types/account"
    assert got["aoai"]["status"]["privateEndpointConnection"]["state"] == "Approved"
    in_azure = az.rules()
    assert in_azure["openai"]["destination"] == "api.openai.com" and in_azure["openai"]["category"] == "UserDefined"
    assert in_azure["monitor"]["destination"]["serviceTag"] == "AzureMonitor"
    assert in_azure["aoai"]["destination"]["serviceResourceId"].lower() == aoai.lower()
    assert puts_by_rule(az.rule_writes()) == {"openai": 1, "monitor": 1, "aoai": 1}
    for name in got:
        assert reasons(kube, namespace, name).count("Created") == 1

    # Change each: exactly one more PUT per rule, Azure follows, status follows the new generation.
    az.mark()
    apply(kube, namespace,
          fqdn("openai", "api.pinecone.io"),
          rule_manifest("monitor", type="ServiceTag",
                        serviceTag={"serviceTag": "AzureMonitor", "protocol": "TCP", "portRanges": "443,8443"}),
          rule_manifest("aoai", type="PrivateEndpoint",
                        privateEndpoint={"serviceResourceId": aoai, "subresourceTarget": "account", "sparkEnabled": True}))
    for name in got:
        kube.wait_for(RULE, namespace, name, lambda o: is_ready(o) and o["metadata"]["generation"] == 2, WAIT, "to apply the change")
    in_azure = az.rules()
    assert in_azure["openai"]["destination"] == "api.pinecone.io"
    assert in_azure["monitor"]["destination"]["portRanges"] == "443,8443"
    assert in_azure["aoai"]["destination"]["sparkEnabled"] is True
    assert puts_by_rule(az.rule_writes()) == {"openai": 1, "monitor": 1, "aoai": 1}
    assert kube.get(RULE, namespace, "openai")["status"]["destination"] == "api.pinecone.io"
    assert "Updated" in reasons(kube, namespace, "monitor")

    # Delete each: the Azure rule goes (long-running DELETE followed to the end) before the object does.
    az.mark()
    for name in got:
        kube.delete(RULE, namespace, name)
    for name in got:
        kube.wait_gone(RULE, namespace, name, WAIT)
    assert not ({"openai", "monitor", "aoai"} & set(az.rules()))
    deletes = [r for r in az.rule_writes() if r["method"] == "DELETE" and r["status"] < 400]
    assert sorted(r["path"].rsplit("/", 1)[-1].lower() for r in deletes) == ["aoai", "monitor", "openai"]


# --- many rules on one workspace -------------------------------------------------------------------------------------


def test_fifty_rules_applied_together_converge_in_a_few_batch_operations_and_no_error_on_the_way(
        operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "fifty")
    ready_workspace(kube, namespace, az)
    system_before = {k: v for k, v in az.rules().items() if v["category"] != "UserDefined"}
    az.mark()

    names = [f"host-{i:02d}" for i in range(50)]
    apply(kube, namespace, *[fqdn(n, f"{n}.example.com") for n in names])

    seen_reasons: set[str] = set()
    deadline = time.monotonic() + 4 * WAIT
    while time.monotonic() < deadline:
        items = json.loads(kube.cp.kubectl("get", "outboundrules", "-n", namespace, "-o", "json").stdout)["items"]
        for o in items:
            for c in (o.get("status") or {}).get("conditions") or []:
                if c["status"] != "True" and c["type"] != "NoEffect":
                    seen_reasons.add(f"{c['type']}={c['status']}/{c['reason']}")
        if len(items) == 50 and all(is_ready(o) for o in items):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"50 rules did not converge; not-True conditions seen: {sorted(seen_reasons)}")

    assert seen_reasons == set(), "no error (or waiting) condition along the way"
    writes = az.rule_writes()
    assert puts_by_rule(writes) == {n: 1 for n in names}, "each rule written exactly once"
    posts = az.batch_posts()
    puts = [r for r in writes if r["method"] == "PUT"]
    # The first arrival goes alone, at once (a PUT); the rest coalesce into batchOutboundRules POSTs while it runs.
    assert len(posts) >= 1 and len(posts) + len(puts) <= len(names) // 5, \
        f"coalesced: {len(posts)} POSTs and {len(puts)} PUTs for {len(names)} rules"
    for name in names[:3]:
        assert reasons(kube, namespace, name).count("Created") == 1
    assert [r for r in az.calls() if r["status"] == 409] == [], "writes to one managed network are serialized"
    assert [r for r in writes if "__sys" in r["path"].lower()] == [], "system rules are never written"
    assert {k: v for k, v in az.rules().items() if v["category"] != "UserDefined"} == system_before
    warnings = [e for e in kube.events(namespace) if e["type"] == "Warning" and e["involvedObject"]["kind"] == RULE]
    assert warnings == []

    # Steady state: every rule Ready, nothing more is written (drift checks read, never write).
    az.mark()
    time.sleep(8)
    assert az.rule_writes() == [], "zero rule PUTs/POSTs once converged"


def test_converged_rules_cost_no_writes_and_no_per_rule_reads(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "converged")
    ready_workspace(kube, namespace, az)
    names = [f"idle-{i:02d}" for i in range(20)]
    apply(kube, namespace, *[fqdn(n, f"{n}.example.com") for n in names])
    for n in names:
        ready_rule(kube, namespace, n)

    # Wait until every rule has been compared with Azure twice more by its drift timer (each comparison stamps the
    # rule's last-drift-check metric), then look at what that cost.
    checked = {n: kube.get(RULE, namespace, n)["metadata"]["resourceVersion"] for n in names}
    start = az.mark()
    for _ in range(2):
        before = _drift_stamps(operator, namespace)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            now = _drift_stamps(operator, namespace)
            if all(now.get(n, 0) > before.get(n, 0) for n in names):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"drift checks did not run for every rule: {before} -> {now}")
    calls = az.calls(start)
    pages = [r for r in calls if r["method"] == "GET" and r["path"].lower().endswith("/outboundrules")]
    lists = len(pages) / _pages_per_list(sim_admin, az)  # the simulator pages the LIST: one GET per page
    assert 0 < lists < len(names), "two drift rounds of every rule cost fewer LISTs than there are rules"
    assert [r for r in calls if r["method"] != "GET"] == [], "a converged workspace gets no write"
    assert [r for r in calls if r["method"] == "GET" and "/outboundrules/" in r["path"].lower()] == [], \
        "one LIST per workspace serves every rule: no GET per rule"
    # Nothing changed, so no status write either: the objects are untouched.
    assert {n: kube.get(RULE, namespace, n)["metadata"]["resourceVersion"] for n in names} == checked


def _pages_per_list(admin, az: Azure) -> int:
    size = max(1, int(admin.config()["pageSize"]))
    return max(1, -(-len(az.rules()) // size))


def _drift_stamps(operator, namespace: str) -> dict[str, float]:
    """name -> promptflow_netiso_last_drift_check_timestamp_seconds of this namespace's OutboundRules."""
    out = {}
    for line in operator.scrape().splitlines():
        if (line.startswith("promptflow_netiso_last_drift_check_timestamp_seconds{") and 'kind="OutboundRule"' in line
                and f'namespace="{namespace}"' in line):
            labels, value = line.rsplit(" ", 1)
            name = labels.split('name="', 1)[1].split('"', 1)[0]
            out[name] = float(value)
    return out


def test_managed_network_busy_with_another_operation_is_a_wait_not_an_error(operator, kube, namespace, sim_admin, azure_sim):
    az = Azure(sim_admin, "busy")
    ready_workspace(kube, namespace, az)
    # Somebody else's rule PUT whose long-running operation does not end: the managed network answers 409 to others.
    sim_admin.faults(r"^ml\.rule\.put$", "stuck-lro", count=1)
    asyncio.run(_put_by_hand(azure_sim, az, "byhand", "portal.example.com"))
    assert sim_admin.workspace(az.ws_id)["busyOperation"]
    az.mark()

    apply(kube, namespace, fqdn("queued", "api.openai.com"))
    obj = kube.wait_for(RULE, namespace, "queued", lambda o: ready_reason(o) == "WaitingForManagedNetwork", WAIT, "to wait")
    assert condition(obj, "Applied")["status"] == "Unknown"  # a wait, not a failure
    assert [r for r in az.calls() if r["status"] == 409], "Azure did answer 409"

    sim_admin.complete_operations()
    ready_rule(kube, namespace, "queued")
    assert az.rules()["queued"]["destination"] == "api.openai.com"
    assert [e["reason"] for e in kube.events(namespace, "queued") if e["type"] != "Normal"] == []


async def _put_by_hand(sim, az: Azure, name: str, host: str) -> None:
    path = (f"/subscriptions/{az.sub}/resourceGroups/{az.rg}/providers/Microsoft.MachineLearningServices/workspaces/"
            f"{az.ws_name}/outboundRules/{name}?api-version={ML_API}")
    async with ml_client(sim) as client:
        await call(client, "PUT", sim.url + path, {"properties": {"type": "FQDN", "category": "UserDefined", "destination": host}})


# --- ownership ---------------------------------------------------------------------------------------------------------


def test_hand_made_rule_is_refused_until_adopted_and_system_rules_are_never_touched(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "owner", rules={"handmade": {"type": "FQDN", "category": "UserDefined", "destination": "old.example.com"}})
    ready_workspace(kube, namespace, az)
    az.mark()

    apply(kube, namespace, fqdn("handmade", "new.example.com"))
    obj = kube.wait_for(RULE, namespace, "handmade", lambda o: ready_reason(o) == "RuleNotOwned", WAIT, "to be refused")
    assert "spec.adopt" in condition(obj, "Ready")["message"]
    assert condition(obj, "Applied")["status"] == "False"
    assert az.rules()["handmade"]["destination"] == "old.example.com"
    assert az.rule_writes() == []
    assert "RuleNotOwned" in reasons(kube, namespace, "handmade")

    apply(kube, namespace, fqdn("handmade", "new.example.com", adopt=True))
    ready_rule(kube, namespace, "handmade")
    assert az.rules()["handmade"]["destination"] == "new.example.com"
    assert puts_by_rule(az.rule_writes()) == {"handmade": 1}
    assert "Adopted" in reasons(kube, namespace, "handmade")
    assert [r for r in az.rule_writes() if "__sys" in r["path"].lower()] == []


# --- dependencies --------------------------------------------------------------------------------------------------------


def test_rule_waits_for_its_workspace_and_proceeds_when_it_is_ready(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "waits")
    apply(kube, namespace, fqdn("early", "api.openai.com", workspace="later"))
    obj = kube.wait_for(RULE, namespace, "early", lambda o: ready_reason(o) == "WorkspaceNotFound", WAIT, "to wait")
    assert condition(obj, "WorkspaceReady")["status"] == "False"
    assert condition(obj, "Applied")["status"] == "Unknown"  # waiting, not failing
    assert "later" in condition(obj, "Ready")["message"]
    assert az.calls() == []  # no Azure call while the workspace is missing

    ready_workspace(kube, namespace, az, name="later")
    ready_rule(kube, namespace, "early")
    assert az.rules()["early"]["destination"] == "api.openai.com"
    assert puts_by_rule(az.rule_writes()) == {"early": 1}
    assert not any(e["type"] == "Warning" for e in kube.events(namespace, "early"))


def test_fqdn_rule_under_internet_outbound_is_applied_with_a_no_effect_warning(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "noeffect", isolation="AllowInternetOutbound")
    ready_workspace(kube, namespace, az, isolation="AllowInternetOutbound")
    apply(kube, namespace, fqdn("serpapi", "serpapi.com"))
    obj = ready_rule(kube, namespace, "serpapi")
    no_effect = condition(obj, "NoEffect")
    assert (no_effect["status"], no_effect["reason"]) == ("True", "AllowInternetOutbound")
    assert "no effect under AllowInternetOutbound" in no_effect["message"]
    assert az.rules()["serpapi"]["destination"] == "serpapi.com"
    assert "NoEffect" in reasons(kube, namespace, "serpapi")


# --- drift ----------------------------------------------------------------------------------------------------------------


def test_rule_removed_or_changed_in_the_portal_is_restored_with_an_event(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "drift")
    ready_workspace(kube, namespace, az)
    apply(kube, namespace, fqdn("pinecone", "controller.pinecone.io"))
    ready_rule(kube, namespace, "pinecone")

    az.mark()
    sim_admin.set_workspace(az.ws_id, remove_rules=["pinecone"])
    kube.wait_for(RULE, namespace, "pinecone", lambda o: "DriftRestored" in reasons(kube, namespace, "pinecone"), WAIT,
                  "to restore the removed rule")
    assert az.rules()["pinecone"]["destination"] == "controller.pinecone.io"

    sim_admin.set_workspace(az.ws_id, add_rules={"pinecone": {"type": "FQDN", "destination": "evil.example.com"}})
    kube.wait_for(RULE, namespace, "pinecone", lambda o: "DriftCorrected" in reasons(kube, namespace, "pinecone"), WAIT,
                  "to correct the changed rule")
    assert az.rules()["pinecone"]["destination"] == "controller.pinecone.io"
    assert puts_by_rule(az.rule_writes()) == {"pinecone": 2}
    ready_rule(kube, namespace, "pinecone")


# --- private endpoint connection state ----------------------------------------------------------------------------------


def test_private_endpoint_rule_shows_pending_then_approved(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "pending")
    aoai = az.target("aoai-stuck", behaviour="pending")
    ready_workspace(kube, namespace, az)
    apply(kube, namespace, rule_manifest("aoai", type="PrivateEndpoint",
                                         privateEndpoint={"serviceResourceId": aoai, "subresourceTarget": "account"}))

    obj = kube.wait_for(RULE, namespace, "aoai", lambda o: ready_reason(o) == "PrivateEndpointPending", WAIT, "to show Pending")
    pec = obj["status"]["privateEndpointConnection"]
    assert pec["state"] == "Pending" and pec["target"].lower() == aoai.lower()
    assert "aoai" in pec["privateEndpointId"].rsplit("/", 1)[-1]
    assert obj["status"]["ruleStatus"] == "Active"
    columns = kube.cp.kubectl("get", "pfor", "aoai", "-n", namespace).stdout
    assert "Pending" in columns  # "stuck in pending" is visible with kubectl get

    (conn,) = sim_admin.connections(aoai)
    assert conn["name"] == pec["name"]
    sim_admin.set_connection_state(aoai, conn["name"], "Approved", "approved by the account owner")
    obj = ready_rule(kube, namespace, "aoai")
    assert obj["status"]["privateEndpointConnection"]["state"] == "Approved"


def test_failed_rule_shows_azures_error_verbatim_and_recovers_once_fixed_in_azure(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "failed")
    missing = f"/subscriptions/{az.sub}/resourceGroups/{az.rg}/providers/Microsoft.CognitiveServices/accounts/later"
    ready_workspace(kube, namespace, az)
    apply(kube, namespace, rule_manifest("to-later", type="PrivateEndpoint",
                                         privateEndpoint={"serviceResourceId": missing, "subresourceTarget": "account"}))
    # The operator re-applies a Failed rule at each drift check, so Azure's error comes and goes; wait for a moment
    # where the object and Azure show it together.
    def failed_verbatim(o: dict) -> bool:
        azure_error = az.rules().get("to-later", {}).get("errorInformation")
        return ready_reason(o) == "RuleFailed" and bool(azure_error) and o["status"]["errorInformation"] == azure_error

    obj = kube.wait_for(RULE, namespace, "to-later", failed_verbatim, WAIT, "to fail with Azure's error verbatim")
    azure_error = obj["status"]["errorInformation"]
    assert obj["status"]["ruleStatus"] == "Failed"
    assert azure_error in condition(obj, "Ready")["message"]

    # The fix happens in Azure (the target now exists); the object is not touched. Re-applying makes Azure retry.
    az.target("later")
    obj = ready_rule(kube, namespace, "to-later")
    assert obj["status"]["ruleStatus"] == "Active" and obj["status"].get("errorInformation") is None
    assert "Reapplied" in reasons(kube, namespace, "to-later")


def test_skip_policy_reports_and_writes_nothing(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "skip")
    ready_workspace(kube, namespace, az)
    az.mark()
    apply(kube, namespace, fqdn("observed", "api.openai.com", annotations={POLICY: "skip"}))
    obj = kube.wait_for(RULE, namespace, "observed", lambda o: ready_reason(o) == "ReconcileSkipped", WAIT, "to report")
    assert condition(obj, "Applied")["status"] == "False"
    assert "observed" not in az.rules() and az.rule_writes() == []


def test_operator_restart_keeps_ownership_and_writes_nothing_for_converged_rules(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "restart")
    ready_workspace(kube, namespace, az)
    apply(kube, namespace, fqdn("stays", "stays.example.com"), fqdn("portal-gone", "gone.example.com"))
    ready_rule(kube, namespace, "stays")
    ready_rule(kube, namespace, "portal-gone")
    az.mark()

    operator.restart()  # SIGKILL, like a crashed pod: in-memory state is lost, status is what remains
    sim_admin.set_workspace(az.ws_id, remove_rules=["portal-gone"])
    kube.wait_for(RULE, namespace, "portal-gone", lambda o: "DriftRestored" in reasons(kube, namespace, "portal-gone"), WAIT,
                  "to restore the rule after the restart (ownership came from status)")
    assert puts_by_rule(az.rule_writes()) == {"portal-gone": 1}, "resume wrote nothing for the converged rule"
    assert "stays" in az.rules()


# --- deletion ---------------------------------------------------------------------------------------------------------------


def test_deleting_the_workspace_object_first_does_not_orphan_its_rules(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "orphan")
    ready_workspace(kube, namespace, az)
    apply(kube, namespace, fqdn("serp", "serpapi.com"))
    ready_rule(kube, namespace, "serp")

    kube.delete(WS, namespace, "pf")
    kube.wait_gone(WS, namespace, "pf", WAIT)
    az.mark()
    kube.delete(RULE, namespace, "serp")
    kube.wait_gone(RULE, namespace, "serp", WAIT)
    assert "serp" not in az.rules()
    assert [r["method"] for r in az.rule_writes()] == ["DELETE"]


def test_detach_on_delete_leaves_the_rule_in_azure(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "detach")
    ready_workspace(kube, namespace, az)
    apply(kube, namespace, fqdn("keep", "keep.example.com", annotations={POLICY: "detach-on-delete"}))
    ready_rule(kube, namespace, "keep")
    az.mark()
    kube.delete(RULE, namespace, "keep")
    kube.wait_gone(RULE, namespace, "keep", WAIT)
    assert az.rules()["keep"]["destination"] == "keep.example.com"
    assert az.rule_writes() == []

"""Admission completes the contract, on the real kube-apiserver: no silent typos whatever the client sends, private
endpoint targets and sub-resources Azure accepts, and edits Azure cannot follow refused with the reason why."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from promptflow_netiso.model.private_link import GROUP_IDS

from tests.e2e.test_crds import AOAI, API, DELETE, FQDN_RULE, PE_RULE, RG_ID, SUB, TAG_RULE, WORKSPACE, WS_BYO, apply, get, variant

pytestmark = pytest.mark.e2e

PLURAL = {"PromptFlowWorkspace": "promptflowworkspaces", "OutboundRule": "outboundrules",
          "PrivateEndpointApproval": "privateendpointapprovals"}
APPROVAL = {"apiVersion": API, "kind": "PrivateEndpointApproval", "metadata": {"name": "approve"},
            "spec": {"workspaceRef": {"name": "ws"}, "targets": [{"resourceId": AOAI}],
                     "allow": {"subscriptionIds": [SUB], "workspaceManagedNetwork": True}, "mode": "Approve"}}


@pytest.fixture
def namespace(unwatched_namespace):
    return unwatched_namespace


def named(obj: dict) -> dict:
    return variant(obj, {"metadata.name": f"{obj['metadata']['name']}-{uuid.uuid4().hex[:5]}"})


def raw_create(cp, namespace: str, obj: dict, check: bool = False):
    """A POST with no fieldValidation parameter at all, as client libraries and many GitOps tools send it."""
    path = f"/apis/{API}/namespaces/{namespace}/{PLURAL[obj['kind']]}"
    return cp.kubectl("create", "--raw", path, "-f", "-", input=json.dumps(obj), check=check)


def refused_eventually(send, timeout: float = 30.0):
    """ValidatingAdmissionPolicies take effect a moment after they are created (the API server compiles them)."""
    deadline = time.monotonic() + timeout
    while True:
        res = send()
        if res.returncode != 0 or time.monotonic() > deadline:
            return res
        time.sleep(0.5)


# --- no silent typos -------------------------------------------------------------------------------------------------
TYPOS = [
    # The issue's examples: each would silently weaken what the user asked for if the field were dropped.
    ("network-isolation", WORKSPACE, {"spec.network.isolation": "AllowOnlyApprovedOutbound"},
     "spec.network: unknown field(s) isolation"),
    ("approval-enabled", WORKSPACE, {"spec.privateEndpointApproval": {"enabled": True}},
     "spec.privateEndpointApproval: unknown field(s) enabled"),
    ("workspace-ref-namespace", FQDN_RULE, {"spec.workspaceRef.namespace": "other"},
     "spec.workspaceRef: unknown field(s) namespace"),
    ("top-of-spec", FQDN_RULE, {"spec.fqdns": ["api.openai.com"]}, "spec: unknown field(s) fqdns"),
    ("in-a-list-item", APPROVAL, {"spec.targets": [{"resourceId": AOAI, "subresource": "account"}]},
     "spec.targets[]: unknown field(s) subresource"),
    ("service-tag", TAG_RULE, {"spec.serviceTag.ports": "443"}, "spec.serviceTag: unknown field(s) ports"),
]


@pytest.mark.parametrize("base,changes,message", [pytest.param(*t[1:], id=t[0]) for t in TYPOS])
def test_a_raw_post_without_field_validation_is_refused_naming_the_typo(control_plane, namespace, base, changes,
                                                                          message):
    obj = named(variant(base, changes))
    res = refused_eventually(lambda: raw_create(control_plane, namespace, obj))
    assert res.returncode != 0, f"stored with a typo: {res.stdout}"
    assert message in res.stderr and "check the spelling" in res.stderr, res.stderr
    listed = control_plane.kubectl("get", obj["kind"], obj["metadata"]["name"], "-n", namespace, check=False)
    assert listed.returncode != 0  # nothing was stored


def test_kubectl_create_validate_false_is_refused_too(control_plane, namespace):
    """--validate=false sends fieldValidation=Ignore: the API server itself must still refuse."""
    obj = named(variant(WORKSPACE, {"spec.network.isolation": "AllowOnlyApprovedOutbound"}))
    res = refused_eventually(lambda: control_plane.kubectl(
        "create", "--validate=false", "-n", namespace, "-f", "-", input=json.dumps(obj), check=False))
    assert res.returncode != 0 and "spec.network: unknown field(s) isolation" in res.stderr, res.stderr


def test_an_update_that_adds_a_typo_is_refused(control_plane, namespace):
    obj = named(WORKSPACE)
    raw_create(control_plane, namespace, obj, check=True)
    stored = get(control_plane, namespace, "pfws", obj["metadata"]["name"])
    stored["spec"]["network"]["isolation"] = "AllowInternetOutbound"
    path = f"/apis/{API}/namespaces/{namespace}/promptflowworkspaces/{obj['metadata']['name']}"
    res = refused_eventually(lambda: control_plane.kubectl("replace", "--raw", path, "-f", "-",
                                                           input=json.dumps(stored), check=False))
    assert res.returncode != 0 and "unknown field(s) isolation" in res.stderr, res.stderr


@pytest.mark.parametrize("obj", [WORKSPACE, FQDN_RULE, PE_RULE, TAG_RULE, APPROVAL, WS_BYO],
                         ids=["workspace", "fqdn", "pe", "tag", "approval", "byo"])
def test_correct_objects_pass_the_raw_path(control_plane, namespace, obj):
    obj = named(obj)
    raw_create(control_plane, namespace, obj, check=True)
    assert get(control_plane, namespace, obj["kind"], obj["metadata"]["name"])["spec"]


def test_kubectl_explain_still_documents_every_spec_field(control_plane):
    """Objects that keep unknown fields still publish their properties: explain lists each declared field."""
    from promptflow_netiso.model.schema import build_crds

    for kind, crd in build_crds().items():
        spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        for path, node in _objects(spec, f"{kind.lower()}.spec"):
            out = control_plane.kubectl("explain", path, check=False)
            assert out.returncode == 0, out.stderr
            for field in node["properties"]:
                assert f"\n  {field}\t" in out.stdout or f"\n  {field} " in out.stdout or \
                    f"\n  {field}\t" in out.stdout.replace("  ", "\t"), f"{path}.{field} missing:\n{out.stdout}"


def _objects(schema: dict, path: str):
    if schema.get("properties"):
        yield path, schema
        for name, prop in schema["properties"].items():
            yield from _objects(prop, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from _objects(schema["items"], path)


# --- private endpoint targets and sub-resources --------------------------------------------------------------------
PE_ENDPOINT = f"{RG_ID}/Microsoft.Network/privateEndpoints/pe-promptflow"
STORAGE = f"{RG_ID}/Microsoft.Storage/storageAccounts/stpromptflow"
SEARCH = f"{RG_ID}/Microsoft.Search/searchServices/srch-promptflow"

REFUSED = [
    ("target-is-a-private-endpoint", {"spec.privateEndpoint.serviceResourceId": PE_ENDPOINT},
     "spec.privateEndpoint.serviceResourceId", "accepts private endpoints"),
    ("blob-on-cognitive-services", {"spec.privateEndpoint.subresourceTarget": "blob"},
     "spec.privateEndpoint.subresourceTarget", "blob is not a sub-resource of Microsoft.CognitiveServices/accounts; "
                                               "it has: account"),
    ("account-on-storage", {"spec.privateEndpoint.serviceResourceId": STORAGE},
     "spec.privateEndpoint.subresourceTarget", "it has: blob, blob_secondary"),
]


@pytest.mark.parametrize("changes,field,text", [pytest.param(*r[1:], id=r[0]) for r in REFUSED])
def test_private_endpoint_target_and_subresource_must_fit(control_plane, namespace, changes, field, text):
    res = apply(control_plane, namespace, named(variant(PE_RULE, changes)), check=False)
    assert res.returncode != 0 and f"{field}:" in res.stderr and text in res.stderr, res.stderr


@pytest.mark.parametrize("target,sub", [(STORAGE, "blob"), (STORAGE, "DFS"), (SEARCH, "searchService"),
                                        (AOAI.lower(), "Account")])
def test_private_endpoint_pairs_azure_accepts_are_admitted(control_plane, namespace, target, sub):
    apply(control_plane, namespace, named(variant(PE_RULE, {"spec.privateEndpoint.serviceResourceId": target,
                                                            "spec.privateEndpoint.subresourceTarget": sub})))


def test_every_table_type_is_an_accepted_target(control_plane, namespace):
    for type_, ids in GROUP_IDS.items():
        target = f"{RG_ID}/{type_}/x{uuid.uuid4().hex[:4]}"
        apply(control_plane, namespace, named(variant(PE_RULE, {"spec.privateEndpoint.serviceResourceId": target,
                                                                "spec.privateEndpoint.subresourceTarget": ids[-1]})))


# --- transitions Azure cannot make -----------------------------------------------------------------------------------
WS_OPEN = variant(WORKSPACE, {"spec.network.isolationMode": "AllowInternetOutbound"})
TRANSITIONS = [
    ("managed-to-byo", WORKSPACE, {"spec.network": WS_BYO["spec"]["network"]}, "spec.network.mode",
     "Azure cannot move a workspace's managed virtual network to your own"),
    ("loosen-isolation", WORKSPACE, {"spec.network.isolationMode": "AllowInternetOutbound"},
     "spec.network.isolationMode", "cannot loosen isolationMode from AllowOnlyApprovedOutbound"),
    ("drop-isolation", WORKSPACE, {"spec.network.isolationMode": DELETE}, "spec.network.isolationMode",
     "Azure does not allow going back"),
    ("repoint-private-endpoint", PE_RULE, {"spec.privateEndpoint.serviceResourceId": AOAI + "2"},
     "spec.privateEndpoint.serviceResourceId", "Azure cannot repoint a private endpoint"),
    ("change-subresource", PE_RULE, {"spec.privateEndpoint.serviceResourceId": STORAGE,
                                     "spec.privateEndpoint.subresourceTarget": "blob"},
     "spec.privateEndpoint.serviceResourceId", "create a new OutboundRule"),
]


@pytest.mark.parametrize("base,changes,field,text", [pytest.param(*t[1:], id=t[0]) for t in TRANSITIONS])
def test_edits_azure_cannot_follow_are_refused_saying_why(control_plane, namespace, base, changes, field, text):
    obj = named(base)
    apply(control_plane, namespace, obj)
    res = apply(control_plane, namespace, variant(obj, changes), check=False)
    assert res.returncode != 0, "update accepted"
    assert f"{field}:" in res.stderr and text in res.stderr, res.stderr


def test_tightening_and_same_target_in_other_case_are_allowed(control_plane, namespace):
    ws = named(WS_OPEN)
    apply(control_plane, namespace, ws)
    apply(control_plane, namespace, variant(ws, {"spec.network.isolationMode": "AllowOnlyApprovedOutbound"}))
    assert get(control_plane, namespace, "pfws", ws["metadata"]["name"])["spec"]["network"]["isolationMode"] == \
        "AllowOnlyApprovedOutbound"
    rule = named(PE_RULE)
    apply(control_plane, namespace, rule)
    apply(control_plane, namespace, variant(rule, {"spec.privateEndpoint.serviceResourceId": AOAI.upper().replace(
        "/SUBSCRIPTIONS/", "/subscriptions/"), "spec.privateEndpoint.sparkEnabled": True}))


def test_port_lists_as_the_docs_and_azure_write_them(control_plane, namespace):
    """docs/outbound-rules.md and Azure's own SDK example write "80, 443, 8080-8089" (spaces after commas)."""
    for ports in ("80, 443, 8080-8089", "80,443", "443", "*"):
        apply(control_plane, namespace, named(variant(TAG_RULE, {"spec.serviceTag.portRanges": ports})))
    res = apply(control_plane, namespace, named(variant(TAG_RULE, {"spec.serviceTag.portRanges": "80,, 443"})),
                check=False)
    assert res.returncode != 0 and "spec.serviceTag.portRanges:" in res.stderr, res.stderr

"""One table of private-link types and group IDs: the approval providers are all in it, and the CRD uses it."""

from __future__ import annotations

from promptflow_netiso.azure.pec import PROVIDERS
from promptflow_netiso.model.common import APPROVAL_TARGET_TYPES
from promptflow_netiso.model.private_link import GROUP_IDS, group_ids
from promptflow_netiso.model.schema import build_crds


def test_every_approvable_type_is_a_private_link_type():
    types = {t.lower() for t in GROUP_IDS}
    assert set(PROVIDERS) <= types
    assert {t.lower() for t in APPROVAL_TARGET_TYPES} <= types


def test_a_private_endpoint_is_never_a_target():
    assert group_ids("Microsoft.Network/privateEndpoints") is None
    assert group_ids("microsoft.storage/STORAGEACCOUNTS") == GROUP_IDS["Microsoft.Storage/storageAccounts"]


def test_the_crd_rule_lists_every_type_and_group_id():
    crd = build_crds()["OutboundRule"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    pe = crd["properties"]["spec"]["properties"]["privateEndpoint"]
    text = str(pe)
    for type_, ids in GROUP_IDS.items():
        assert f"is not a sub-resource of {type_}; it has: {', '.join(ids)}" in text

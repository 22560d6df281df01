"""ARM IDs (model/arm_id.py): parsed, printed and compared the way Azure does (case-insensitively, a trailing '/'
tolerated), table-driven."""

from __future__ import annotations

import pytest

from promptflow_netiso.model import arm_id
from promptflow_netiso.model.arm_id import ArmId

SUB = "00000000-0000-0000-0000-00000000000A"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-Net"
VNET = f"{RG}/providers/Microsoft.Network/virtualNetworks/hub"
SUBNET = f"{VNET}/subnets/aks"
EXT = f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks1/providers/Microsoft.KubernetesConfiguration/extensions/ml"


@pytest.mark.parametrize("raw, text", [
    (VNET, VNET),
    (f"  {VNET}/ ", VNET),
    (VNET.lstrip("/"), VNET),
    (VNET.replace("/virtualNetworks/", "//virtualNetworks/"), VNET),
    ("/", "/"),
    ("", "/"),
    (None, "/"),
])
def test_of_normalises_spelling_but_keeps_letter_case(raw, text):
    assert str(ArmId.of(raw)) == text


@pytest.mark.parametrize("a, b, equal", [
    (VNET, VNET.upper(), True),
    (VNET, VNET + "/", True),
    (VNET, VNET + "2", False),
    (VNET, SUBNET, False),
])
def test_equality_and_hashing_ignore_letter_case(a, b, equal):
    assert (ArmId.of(a) == ArmId.of(b)) is equal
    assert (len({ArmId.of(a), ArmId.of(b)}) == 1) is equal
    assert arm_id.same(a, b) is equal
    assert ArmId.of(a) != a  # never equal to a plain string: compare ArmIds, or use arm_id.same()


@pytest.mark.parametrize("rid, sub, rg, namespace, rtype, name, last_type, label", [
    (VNET, SUB.lower(), "rg-Net", "Microsoft.Network", "Microsoft.Network/virtualNetworks", "hub", "virtualNetworks", "rg-Net/hub"),
    (SUBNET, SUB.lower(), "rg-Net", "Microsoft.Network", "Microsoft.Network/virtualNetworks", "aks", "subnets", "rg-Net/aks"),
    (EXT, SUB.lower(), "rg-Net", "Microsoft.KubernetesConfiguration", "Microsoft.ContainerService/managedClusters", "ml",
     "extensions", "rg-Net/ml"),
    (RG, SUB.lower(), "rg-Net", None, None, "rg-Net", "resourceGroups", "rg-Net"),
    (f"/subscriptions/{SUB}", SUB.lower(), None, None, None, SUB, "subscriptions", SUB),
    ("/providers/Microsoft.Authorization/roleDefinitions/abc", None, None, "Microsoft.Authorization",
     "Microsoft.Authorization/roleDefinitions", "abc", "roleDefinitions", "abc"),
    ("/", None, None, None, None, "", None, ""),
])
def test_parts(rid, sub, rg, namespace, rtype, name, last_type, label):
    a = ArmId.of(rid)
    assert (a.subscription, a.resource_group, a.provider_namespace, a.resource_type, a.name, a.last_type, a.label) == (
        sub, rg, namespace, rtype, name, last_type, label)
    assert a.type_key == (rtype or "").lower()


@pytest.mark.parametrize("rid, parent, top", [
    (SUBNET, VNET, VNET),
    (VNET, None, VNET),
    (RG, None, RG),
    (EXT, f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks1",
     f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks1"),
])
def test_parent_and_top_level(rid, parent, top):
    a = ArmId.of(rid)
    assert (str(a.parent) if a.parent else None) == parent
    assert str(a.top_level) == top


def test_child_and_parent_of_type_round_trip():
    assert ArmId.of(VNET).child("subnets", "aks") == ArmId.of(SUBNET)
    assert arm_id.vnet_of_subnet(SUBNET.upper()) == VNET.upper()
    assert arm_id.vnet_of_subnet(VNET) is None  # not a subnet
    assert arm_id.vnet_of_subnet(f"{RG}/providers/Microsoft.Foo/bars/b/subnets/x") is None  # not in a VNet
    assert arm_id.vnet_of_subnet(None) is None


@pytest.mark.parametrize("scope, rid, covered", [
    (VNET, SUBNET, True),
    (RG, VNET, True),
    (f"/subscriptions/{SUB.lower()}", VNET, True),
    ("/", VNET, True),
    (VNET, VNET.upper() + "/", True),
    (VNET, VNET + "2/subnets/x", False),  # whole segments only: hub2 is not below hub
    (SUBNET, VNET, False),  # below is not above
    ("", VNET, False),
    (VNET, None, False),
])
def test_covers_compares_whole_segments(scope, rid, covered):
    assert arm_id.covers(scope, rid) is covered


@pytest.mark.parametrize("raw, ok", [
    (VNET, True),
    (SUBNET, True),
    (EXT, True),
    (RG, False),
    (f"/subscriptions/{SUB}", False),
    (f"{RG}/providers/Microsoft.Network/virtualNetworks", False),
    ("not an id", False),
])
def test_parse_accepts_resources_only_and_names_the_shape(raw, ok):
    if ok:
        assert ArmId.parse(raw) == ArmId.of(raw)
    else:
        with pytest.raises(ValueError, match="is not an ARM resource ID"):
            ArmId.parse(raw)


def test_resource_builds_an_id_and_helpers_accept_nothing():
    assert ArmId.resource(SUB, "rg-Net", "Microsoft.Network/virtualNetworks", "hub") == ArmId.of(VNET)
    assert ArmId.of(VNET).subscription_scope == ArmId.of(f"/subscriptions/{SUB}")
    assert (arm_id.key(None), arm_id.name_of(""), arm_id.label(None)) == ("", "", "")
    assert arm_id.key(VNET + "/") == VNET.lower()

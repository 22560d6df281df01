"""PromptFlowWorkspace spec parsing: what the planner and handlers read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from promptflow_netiso.model import (
    DeletionPolicy,
    DeploymentTargetType,
    IsolationMode,
    NetworkMode,
    SpecError,
    WorkspaceSpec,
)

SAMPLES = Path(__file__).resolve().parents[2] / "crds" / "samples"
SUB = "00000000-0000-0000-0000-000000000001"
AZURE = {"subscriptionId": SUB, "resourceGroup": "rg-promptflow", "workspaceName": "pf-workspace"}
VNET = f"/subscriptions/{SUB}/resourceGroups/rg-promptflow/providers/Microsoft.Network/virtualNetworks/vnet"


def sample(name: str) -> dict:
    return yaml.safe_load((SAMPLES / name).read_text())["spec"]


def test_sample_workspace_is_locked_down_and_provisioned():
    spec = WorkspaceSpec.from_dict(sample("promptflowworkspace.yaml"))
    assert spec.coordinates == (SUB, "rg-promptflow", "pf-workspace")
    assert spec.azure.resource_id == (f"/subscriptions/{SUB}/resourceGroups/rg-promptflow/providers/"
                                      "Microsoft.MachineLearningServices/workspaces/pf-workspace")
    assert spec.network.managed
    assert spec.network.isolation_mode == IsolationMode.ALLOW_ONLY_APPROVED_OUTBOUND
    assert spec.network.provision.enabled and not spec.network.provision.include_spark
    assert not spec.private_endpoint_approval.auto  # delegated to the PrivateEndpointApproval sample
    assert spec.storage_roles.assign


def test_minimal_workspace_takes_the_documented_defaults():
    spec = WorkspaceSpec.from_dict({"azure": AZURE})
    assert spec.network.mode == NetworkMode.MANAGED
    assert spec.network.isolation_mode == IsolationMode.ALLOW_INTERNET_OUTBOUND
    assert not spec.network.provision.enabled
    assert spec.storage_roles.assign is True
    assert spec.private_endpoint_approval.auto is False
    assert spec.deployment_target.type == DeploymentTargetType.MANAGED_ONLINE_ENDPOINT
    assert spec.deletion_policy == DeletionPolicy.RETAIN


def test_own_vnet_workspace_has_no_isolation_mode_and_deploys_to_aks():
    spec = WorkspaceSpec.from_dict(sample("promptflowworkspace-byo-vnet.yaml"))
    assert not spec.network.managed
    assert spec.network.isolation_mode is None
    assert spec.network.virtual_network_id.endswith("/virtualNetworks/vnet-promptflow")
    assert spec.network.public_network_access == "Disabled"
    target = spec.deployment_target
    assert target.type == DeploymentTargetType.KUBERNETES
    assert target.aks_cluster_id.endswith("/managedClusters/aks-promptflow")
    assert (target.compute_name, target.namespace, target.extension.install) == ("pf-aks", "promptflow", True)
    assert target.extension.configuration_settings() == {
        "enableInference": "True", "inferenceRouterServiceType": "LoadBalancer", "allowInsecureConnections": "False",
        "inferenceRouterHA": "True", "internalLoadBalancerProvider": "azure", "sslSecret": "azureml-fe-tls",
        "sslCname": "scoring.promptflow.contoso.internal"}


def test_enums_compare_equal_to_the_strings_azure_uses():
    spec = WorkspaceSpec.from_dict({"azure": AZURE, "network": {"isolationMode": "AllowOnlyApprovedOutbound"}})
    assert spec.network.isolation_mode == "AllowOnlyApprovedOutbound"


@pytest.mark.parametrize(
    "spec,field",
    [
        ({}, "spec.azure"),
        ({"azure": {**AZURE, "workspaceName": ""}}, "spec.azure.workspaceName"),
        ({"azure": AZURE, "network": {"mode": "BringYourOwnVirtualNetwork"}}, "spec.network.virtualNetworkId"),
        ({"azure": AZURE, "network": {"isolationMode": "Disabled"}}, "spec.network.isolationMode"),
        ({"azure": AZURE, "network": {"mode": "BringYourOwnVirtualNetwork", "virtualNetworkId": VNET},
          "deploymentTarget": {"type": "Kubernetes"}}, "spec.deploymentTarget.aksClusterId"),
        ({"azure": AZURE, "deletionPolicy": "Orphan"}, "spec.deletionPolicy"),
    ],
)
def test_invalid_specs_name_the_field(spec, field):
    with pytest.raises(SpecError) as err:
        WorkspaceSpec.from_dict(spec)
    assert err.value.field == field

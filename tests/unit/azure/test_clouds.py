"""Which endpoints and token scope the operator uses, from the environment a person sets."""

from __future__ import annotations

import pytest

from promptflow_netiso.azure.clouds import AzureSettings


@pytest.mark.parametrize(
    "cloud, arm, authority",
    [
        ("AzurePublicCloud", "https://management.azure.com", "https://login.microsoftonline.com"),
        ("AzureUSGovernment", "https://management.usgovcloudapi.net", "https://login.microsoftonline.us"),
        ("AzureChinaCloud", "https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
    ],
)
def test_named_clouds(cloud, arm, authority):
    resolved = AzureSettings.from_env({"AZURE_CLOUD": cloud}).resolve_cloud()
    assert (resolved.arm_endpoint, resolved.authority_host, resolved.arm_scope) == (arm, authority, arm + "/.default")
    assert not resolved.is_custom


def test_default_is_public_cloud():
    assert AzureSettings.from_env({}).resolve_cloud().arm_endpoint == "https://management.azure.com"


@pytest.mark.parametrize("spelling", ["AzureCloud", "azurecloud", "AZURE_PUBLIC_CLOUD"])
def test_cli_and_sdk_spellings_are_accepted(spelling):
    assert AzureSettings.from_env({"AZURE_CLOUD": spelling}).cloud == "AzurePublicCloud"


def test_custom_cloud_uses_given_endpoints():
    env = {"AZURE_CLOUD": "Custom", "PROMPTFLOW_NETISO_ARM_ENDPOINT": "https://127.0.0.1:8443/", "AZURE_AUTHORITY_HOST": "https://127.0.0.1:8443"}
    cloud = AzureSettings.from_env(env).resolve_cloud()
    assert (cloud.arm_endpoint, cloud.authority_host, cloud.arm_scope) == (
        "https://127.0.0.1:8443", "https://127.0.0.1:8443", "https://127.0.0.1:8443/.default"
    )
    assert cloud.is_custom


def test_custom_cloud_without_endpoints_fails_naming_the_variables():
    with pytest.raises(ValueError, match="PROMPTFLOW_NETISO_ARM_ENDPOINT and AZURE_AUTHORITY_HOST"):
        AzureSettings.from_env({"AZURE_CLOUD": "Custom"})


def test_tokens_never_go_over_plain_http():
    env = {"AZURE_CLOUD": "Custom", "PROMPTFLOW_NETISO_ARM_ENDPOINT": "http://127.0.0.1:8080", "AZURE_AUTHORITY_HOST": "https://x"}
    with pytest.raises(ValueError, match="https"):
        AzureSettings.from_env(env)


def test_authority_host_without_scheme_is_https():
    env = {"AZURE_CLOUD": "AzureUSGovernment", "AZURE_AUTHORITY_HOST": "login.microsoftonline.us"}
    assert AzureSettings.from_env(env).resolve_cloud().authority_host == "https://login.microsoftonline.us"


def test_unknown_cloud_is_rejected():
    with pytest.raises(ValueError, match="AZURE_CLOUD='Mars'"):
        AzureSettings.from_env({"AZURE_CLOUD": "Mars"})


def test_tuning_variables():
    env = {
        "PROMPTFLOW_NETISO_MAX_CONCURRENCY": "8",
        "PROMPTFLOW_NETISO_AZURE_RETRY_TOTAL": "0",
        "PROMPTFLOW_NETISO_AZURE_MAX_INLINE_RETRY_AFTER": "2.5",
        "PROMPTFLOW_NETISO_AZURE_LRO_TIMEOUT": "60",
    }
    s = AzureSettings.from_env(env)
    assert (s.max_concurrency_per_subscription, s.retry_total, s.max_inline_retry_after, s.lro_timeout) == (8, 0, 2.5, 60.0)


@pytest.mark.parametrize("name, raw", [("PROMPTFLOW_NETISO_MAX_CONCURRENCY", "0"), ("PROMPTFLOW_NETISO_MAX_CONCURRENCY", "four"), ("PROMPTFLOW_NETISO_AZURE_LRO_TIMEOUT", "-1")])
def test_bad_tuning_values_name_the_variable(name, raw):
    with pytest.raises(ValueError, match=name):
        AzureSettings.from_env({name: raw})

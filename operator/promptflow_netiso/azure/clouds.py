"""Which Azure the operator talks to (public, US Government, China, or a custom ARM endpoint such as the simulator)
and the knobs of the Azure layer, read once from the environment. Every variable is documented in
docs/configuration.md."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

AZURE_PUBLIC_CLOUD = "AzurePublicCloud"
AZURE_US_GOVERNMENT = "AzureUSGovernment"
AZURE_CHINA_CLOUD = "AzureChinaCloud"
CUSTOM = "Custom"


@dataclass(frozen=True)
class Cloud:
    name: str
    arm_endpoint: str  # https://management.azure.com (no trailing slash)
    authority_host: str  # https://login.microsoftonline.com (no trailing slash)

    @property
    def arm_scope(self) -> str:
        """The OAuth scope of ARM tokens: the endpoint + "/.default"."""
        return self.arm_endpoint + "/.default"

    @property
    def is_custom(self) -> bool:
        return self.name == CUSTOM


KNOWN_CLOUDS: dict[str, Cloud] = {
    AZURE_PUBLIC_CLOUD: Cloud(AZURE_PUBLIC_CLOUD, "https://management.azure.com", "https://login.microsoftonline.com"),
    AZURE_US_GOVERNMENT: Cloud(AZURE_US_GOVERNMENT, "https://management.usgovcloudapi.net", "https://login.microsoftonline.us"),
    AZURE_CHINA_CLOUD: Cloud(AZURE_CHINA_CLOUD, "https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
}

# Spellings people bring from the Azure CLI (`az cloud list`) and azure-core's AzureClouds enum.
_ALIASES = {
    "azurepubliccloud": AZURE_PUBLIC_CLOUD,
    "azurecloud": AZURE_PUBLIC_CLOUD,
    "azure_public_cloud": AZURE_PUBLIC_CLOUD,
    "public": AZURE_PUBLIC_CLOUD,
    "azureusgovernment": AZURE_US_GOVERNMENT,
    "azure_us_government": AZURE_US_GOVERNMENT,
    "usgovernment": AZURE_US_GOVERNMENT,
    "azurechinacloud": AZURE_CHINA_CLOUD,
    "azure_china_cloud": AZURE_CHINA_CLOUD,
    "china": AZURE_CHINA_CLOUD,
    "custom": CUSTOM,
}


def canonical_cloud_name(raw: str) -> str:
    name = _ALIASES.get(raw.strip().lower())
    if name is None:
        raise ValueError(
            f"AZURE_CLOUD={raw!r} is not one of {AZURE_PUBLIC_CLOUD}, {AZURE_US_GOVERNMENT}, {AZURE_CHINA_CLOUD}, {CUSTOM}"
        )
    return name


def normalize_https_url(value: str, variable: str) -> str:
    """`host`, `https://host` or `https://host:port/` -> `https://host[:port]`. Bearer tokens only travel over HTTPS."""
    text = value.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError(f"{variable}={value!r} must be an https:// URL (tokens are never sent in clear text)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{variable}={value!r} must be a bare origin such as https://host:port")
    return f"https://{parts.netloc}"


def _positive(environ: Mapping[str, str], name: str, default: float, *, integer: bool = False, allow_zero: bool = False):
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError as e:
        raise ValueError(f"{name}={raw!r} is not a {'whole number' if integer else 'number'}") from e
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name}={raw!r} must be {'zero or more' if allow_zero else 'greater than zero'}")
    return value


@dataclass(frozen=True)
class AzureSettings:
    cloud: str = AZURE_PUBLIC_CLOUD
    arm_endpoint: str | None = None  # required for Custom; overrides the cloud's endpoint otherwise
    authority_host: str | None = None  # required for Custom; overrides the cloud's authority otherwise
    max_concurrency_per_subscription: int = 4  # ARM calls in flight per subscription (ARM throttles per subscription)
    arm_pacing: float = 0.8  # share of ARM's per-subscription token buckets the operator spends (azure/limits.py)
    retry_total: int = 3  # retries of one request (429, 5xx, connection errors) before the error reaches the handler
    retry_backoff_max: float = 10.0  # longest exponential-backoff sleep between those retries, seconds
    max_inline_retry_after: float = 10.0  # a longer Retry-After is not slept inside a handler: THROTTLED error instead
    lro_poll_interval: float = 2.0  # poll interval of long-running operations when the service sends no Retry-After
    lro_poll_max: float = 15.0  # longest wait between two polls even if Retry-After asks for more
    lro_timeout: float = 300.0  # a long-running operation followed inside one handler run gives up after this
    request_timeout: float = 60.0  # read timeout of one HTTP request, seconds

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "AzureSettings":
        env = os.environ if environ is None else environ
        settings = cls(
            cloud=canonical_cloud_name(env.get("AZURE_CLOUD") or AZURE_PUBLIC_CLOUD),
            arm_endpoint=env.get("PROMPTFLOW_NETISO_ARM_ENDPOINT") or None,
            authority_host=env.get("AZURE_AUTHORITY_HOST") or None,
            max_concurrency_per_subscription=_positive(env, "PROMPTFLOW_NETISO_MAX_CONCURRENCY", cls.max_concurrency_per_subscription, integer=True),
            arm_pacing=min(_positive(env, "PROMPTFLOW_NETISO_ARM_PACING", cls.arm_pacing), 1.0),
            retry_total=_positive(env, "PROMPTFLOW_NETISO_AZURE_RETRY_TOTAL", cls.retry_total, integer=True, allow_zero=True),
            retry_backoff_max=_positive(env, "PROMPTFLOW_NETISO_AZURE_RETRY_BACKOFF_MAX", cls.retry_backoff_max, allow_zero=True),
            max_inline_retry_after=_positive(env, "PROMPTFLOW_NETISO_AZURE_MAX_INLINE_RETRY_AFTER", cls.max_inline_retry_after, allow_zero=True),
            lro_poll_interval=_positive(env, "PROMPTFLOW_NETISO_AZURE_LRO_POLL_INTERVAL", cls.lro_poll_interval),
            lro_poll_max=_positive(env, "PROMPTFLOW_NETISO_AZURE_LRO_POLL_MAX", cls.lro_poll_max),
            lro_timeout=_positive(env, "PROMPTFLOW_NETISO_AZURE_LRO_TIMEOUT", cls.lro_timeout),
            request_timeout=_positive(env, "PROMPTFLOW_NETISO_AZURE_REQUEST_TIMEOUT", cls.request_timeout),
        )
        settings.resolve_cloud()  # fail at start-up, with the variable's name, not at the first reconcile
        return settings

    def resolve_cloud(self) -> Cloud:
        """The endpoints to use. Custom needs both endpoints; a named cloud takes explicit overrides as given."""
        name = canonical_cloud_name(self.cloud)
        if name == CUSTOM:
            missing = [v for v, val in (("PROMPTFLOW_NETISO_ARM_ENDPOINT", self.arm_endpoint), ("AZURE_AUTHORITY_HOST", self.authority_host)) if not val]
            if missing:
                raise ValueError(f"AZURE_CLOUD=Custom needs {' and '.join(missing)}")
            return Cloud(
                CUSTOM,
                normalize_https_url(self.arm_endpoint or "", "PROMPTFLOW_NETISO_ARM_ENDPOINT"),
                normalize_https_url(self.authority_host or "", "AZURE_AUTHORITY_HOST"),
            )
        known = KNOWN_CLOUDS[name]
        return Cloud(
            name,
            normalize_https_url(self.arm_endpoint, "PROMPTFLOW_NETISO_ARM_ENDPOINT") if self.arm_endpoint else known.arm_endpoint,
            normalize_https_url(self.authority_host, "AZURE_AUTHORITY_HOST") if self.authority_host else known.authority_host,
        )

"""The one boundary that speaks Azure Resource Manager (no Kubernetes here).

    async with Azure.from_settings(AzureSettings.from_env()) as azure:
        ws = await azure.ml.get_workspace(sub, rg, name)

One `Azure` per operator process: one credential, one aiohttp session, one ARM pipeline client, per-subscription
SDK clients, and the concurrency limits they all share.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.pipeline.transport import AsyncHttpTransport
from azure.mgmt.authorization.v2022_04_01.aio import AuthorizationManagementClient

from . import credentials
from .arm import ArmClient
from .clouds import AzureSettings, Cloud
from .compute import Computes
from .errors import AzureError, ErrorKind
from .limits import Limits
from .ml import MachineLearning
from .network import SDK_MODULE as NETWORK_SDK
from .network import Network
from .pec import PrivateEndpointConnections
from .pipeline import build_arm_client, client_kwargs, transport_for
from .roles import RoleAssignments
from .sdk import PerSubscription
from .transport import SharedSession

log = logging.getLogger(__name__)

# azure-identity's token pipeline logs every request and its headers (redacted) at INFO; our own policy logs ARM
# requests at DEBUG. Quieten it unless someone chose a level for it on purpose.
_HTTP_LOGGER = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
if _HTTP_LOGGER.level == logging.NOTSET:
    _HTTP_LOGGER.setLevel(logging.WARNING)

__all__ = ["Azure", "AzureError", "AzureSettings", "Cloud", "ErrorKind"]


class Azure:
    ml: MachineLearning
    roles: RoleAssignments
    pec: PrivateEndpointConnections
    network: Network
    computes: Computes

    def __init__(
        self,
        settings: AzureSettings,
        credential: AsyncTokenCredential | None = None,
        *,
        transport: AsyncHttpTransport | None = None,
        _parent: "Azure | None" = None,
    ) -> None:
        """`credential` and `transport` replace the configured identity and the shared aiohttp session (tests)."""
        self.settings = settings
        self.cloud = settings.resolve_cloud()
        # A sibling (another identity, see with_credential) shares its parent's limits and HTTP session.
        self.limits = _parent.limits if _parent else Limits(settings.max_concurrency_per_subscription, settings.arm_pacing)
        self._owns_session = _parent is None
        self._session = _parent._session if _parent else SharedSession()

        def new_transport() -> AsyncHttpTransport:
            return transport or transport_for(self._session, settings)

        self._owns_credential = credential is None
        self._credential = credential or credentials.build_credential(self.cloud, transport=new_transport())

        def sdk_kwargs() -> dict[str, Any]:
            return client_kwargs(self._credential, self.cloud, settings, self.limits, new_transport())

        arm_client = build_arm_client(self._credential, self.cloud, settings, self.limits, new_transport())
        self._arm = ArmClient(arm_client, settings, self.cloud)
        self._authorization = PerSubscription(lambda sub: AuthorizationManagementClient(self._credential, sub, **sdk_kwargs()))
        self._network = PerSubscription(lambda sub: importlib.import_module(NETWORK_SDK).NetworkManagementClient(
            self._credential, sub, **sdk_kwargs()))
        self.ml = MachineLearning(self._arm, self.limits)
        self.roles = RoleAssignments(self._authorization)
        self.pec = PrivateEndpointConnections(self._arm)
        self.network = Network(self._network, self._arm)
        self.computes = Computes(self._arm, self.limits)
        log.info(
            "Azure: cloud %s, ARM %s, identity %s, at most %d requests per subscription",
            self.cloud.name, self.cloud.arm_endpoint, credentials.describe() if self._owns_credential else "injected",
            settings.max_concurrency_per_subscription,
        )

    @classmethod
    def from_settings(cls, settings: AzureSettings) -> "Azure":
        return cls(settings)

    def credential_options(self) -> dict[str, Any]:
        """Keyword arguments for an azure-identity credential of this cloud over the shared HTTP session."""
        options: dict[str, Any] = {"authority": self.cloud.authority_host, "transport": transport_for(self._session, self.settings)}
        if self.cloud.is_custom:
            options["disable_instance_discovery"] = True
        return options

    def with_credential(self, credential: AsyncTokenCredential) -> "Azure":
        """The same Azure for another identity (a namespace's own, docs/tenancy.md): same cloud, settings,
        per-subscription limits and HTTP session; its own pipeline clients. Closing it closes `credential` too."""
        twin = Azure(self.settings, credential, _parent=self)
        twin._owns_credential = True
        return twin

    async def close(self) -> None:
        """Close every client, the credential (if ours) and, last, the shared HTTP session."""
        try:
            await self._arm.close()
            await self._authorization.close()
            await self._network.close()
            if self._owns_credential:
                await self._credential.close()
        finally:
            if self._owns_session:
                await self._session.close()

    async def __aenter__(self) -> "Azure":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

"""The AKS deployment target of a bring-your-own-VNet workspace: the workspace's inbound side (its private endpoint
connections and publicNetworkAccess), the Azure ML cluster extension, and the Kubernetes compute that attaches the
cluster to the workspace.

All through the ARM pipeline (no allowed SDK covers Microsoft.KubernetesConfiguration or current ML computes):
- workspace private endpoint connections and PATCH publicNetworkAccess: ML 2025-12-01;
- `workspaces/{ws}/computes/{name}`: ML 2025-12-01; PUT is long-running (201 + Azure-AsyncOperation), DELETE takes
  `underlyingResourceAction` (Detach keeps the cluster) and answers 200/202/204;
- `{cluster}/providers/Microsoft.KubernetesConfiguration/extensions[/{name}]`: 2025-03-01; PUT answers 201 Creating
  with Azure-AsyncOperation. The install can run for many minutes, so it is not awaited: `begin_install_extension`
  returns the poll URL the handler keeps in status (a restart resumes it), `poll_extension` does one GET.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from .arm import LRO_FAILED, LRO_RUNNING, ArmClient, json_body, poll_url, segment
from .errors import AzureError, ErrorKind, error_fields
from .limits import Limits
from .ml import API_VERSION as ML_API_VERSION
from .ml import workspace_path

EXTENSION_API_VERSION = "2025-03-01"
AZUREML_EXTENSION_TYPE = "microsoft.azureml.kubernetes"


@dataclass(frozen=True)
class WorkspaceConnection:
    """A private endpoint connection on the workspace itself (its inbound side)."""

    name: str
    private_endpoint_id: str | None
    status: str | None  # Pending | Approved | Rejected | Disconnected
    description: str | None = None


@dataclass(frozen=True)
class Extension:
    id: str
    name: str
    extension_type: str | None
    provisioning_state: str | None  # Creating | Succeeded | Failed | ...
    error: str | None = None  # Azure's words when the install failed (errorInfo or a status message)


@dataclass(frozen=True)
class ExtensionPoll:
    done: bool
    status: str | None
    error: AzureError | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Compute:
    id: str
    name: str
    compute_type: str | None
    resource_id: str | None
    namespace: str | None
    provisioning_state: str | None  # Creating | Succeeded | Failed | Deleting ...
    errors: tuple[str, ...] = ()  # provisioningErrors as "<code>: <message>"
    is_attached: bool | None = None


def parse_connection(body: dict) -> WorkspaceConnection:
    props = body.get("properties") or {}
    state = props.get("privateLinkServiceConnectionState") or {}
    return WorkspaceConnection(name=body.get("name", ""), private_endpoint_id=(props.get("privateEndpoint") or {}).get("id"),
                               status=state.get("status"), description=state.get("description"))


def parse_extension(body: dict) -> Extension:
    props = body.get("properties") or {}
    error = None
    info = props.get("errorInfo")
    if isinstance(info, dict) and (info.get("code") or info.get("message")):
        error = f"{info.get('code') or 'ExtensionError'}: {info.get('message') or ''}".rstrip(": ")
    else:
        bad = [s for s in props.get("statuses") or [] if isinstance(s, dict) and str(s.get("level", "")).lower() == "error"]
        if bad:
            error = "; ".join(f"{s.get('code') or 'ExtensionError'}: {s.get('message') or ''}" for s in bad)
    return Extension(id=body.get("id", ""), name=body.get("name", ""), extension_type=props.get("extensionType"),
                     provisioning_state=props.get("provisioningState"), error=error)


def parse_compute(body: dict) -> Compute:
    props = body.get("properties") or {}
    inner = props.get("properties") or {}
    errors = []
    for e in props.get("provisioningErrors") or []:
        err = (e or {}).get("error") if isinstance(e, dict) else None
        if isinstance(err, dict):
            errors.append(f"{err.get('code') or 'ComputeError'}: {err.get('message') or ''}")
    return Compute(id=body.get("id", ""), name=body.get("name", ""), compute_type=props.get("computeType"),
                   resource_id=props.get("resourceId"), namespace=inner.get("namespace"),
                   provisioning_state=props.get("provisioningState"), errors=tuple(errors),
                   is_attached=props.get("isAttachedCompute"))


def parse_extension_poll(status_code: int, body: dict) -> ExtensionPoll:
    """One poll of the install's Azure-AsyncOperation URL: `{status: InProgress|Succeeded|Failed, error}`."""
    status = body.get("status")
    text = status.lower() if isinstance(status, str) else ""
    if status_code == 202 or text in LRO_RUNNING:
        return ExtensionPoll(done=False, status=status if isinstance(status, str) else None)
    if text in LRO_FAILED:
        code, message = error_fields(body)
        return ExtensionPoll(done=True, status=status, error=AzureError(
            status=status_code, code=code or "ExtensionInstallFailed",
            message=message or f"the Azure ML extension install ended {status}", kind=ErrorKind.USER_FIXABLE,
            operation="extension.put.poll"))
    return ExtensionPoll(done=True, status=status if isinstance(status, str) else None)


def extensions_path(cluster_id: str) -> str:
    return f"{cluster_id.rstrip('/')}/providers/Microsoft.KubernetesConfiguration/extensions"


def compute_path(sub: str, rg: str, ws: str, name: str) -> str:
    return f"{workspace_path(sub, rg, ws)}/computes/{segment(name)}"


def extension_body(release_namespace: str, settings: dict[str, str]) -> dict[str, Any]:
    """The PUT body of the Azure ML extension (configurationSettings as Azure documents them for inference)."""
    return {"properties": {"extensionType": AZUREML_EXTENSION_TYPE, "autoUpgradeMinorVersion": True,
                           "releaseTrain": "stable", "scope": {"cluster": {"releaseNamespace": release_namespace}},
                           "configurationSettings": dict(settings)}}


def kubernetes_compute_body(location: str | None, cluster_id: str, namespace: str) -> dict[str, Any]:
    body: dict[str, Any] = {"properties": {"computeType": "Kubernetes", "resourceId": cluster_id,
                                           "description": "attached by promptflow-netiso",
                                           "properties": {"namespace": namespace}}}
    if location:
        body["location"] = location
    return body


class Computes:
    def __init__(self, arm: ArmClient, limits: Limits) -> None:
        self._arm = arm
        self._limits = limits

    # --- the workspace's inbound side ---------------------------------------------------------------------------
    async def list_workspace_connections(self, sub: str, rg: str, ws: str) -> list[WorkspaceConnection]:
        items = await self._arm.list_all(workspace_path(sub, rg, ws) + "/privateEndpointConnections",
                                         operation="workspace.pec.list", api_version=ML_API_VERSION)
        return [parse_connection(i) for i in items]

    async def set_public_network_access(self, sub: str, rg: str, ws: str, value: str) -> str | None:
        """PATCH only `properties.publicNetworkAccess` (nothing else is ours to send); follows a 202. Returns what
        Azure reports afterwards (None when the final answer carried no workspace)."""
        body = {"properties": {"publicNetworkAccess": value}}
        initial = await self._arm.send("PATCH", workspace_path(sub, rg, ws), operation="workspace.patch",
                                       api_version=ML_API_VERSION, body=body)
        final = await self._arm.follow(initial, operation="workspace.patch")
        return (json_body(final.http_response).get("properties") or {}).get("publicNetworkAccess")

    # --- the Azure ML cluster extension -------------------------------------------------------------------------
    async def list_extensions(self, cluster_id: str) -> list[Extension]:
        items = await self._arm.list_all(extensions_path(cluster_id), operation="extension.list",
                                         api_version=EXTENSION_API_VERSION)
        return [parse_extension(i) for i in items]

    async def begin_install_extension(self, cluster_id: str, name: str, release_namespace: str,
                                      settings: dict[str, str]) -> str | None:
        """PUT the extension. None when Azure answered final (200 Succeeded), else the URL to poll."""
        response = await self._arm.send("PUT", f"{extensions_path(cluster_id)}/{segment(name)}",
                                        operation="extension.put", api_version=EXTENSION_API_VERSION,
                                        body=extension_body(release_namespace, settings))
        http = response.http_response
        state = (json_body(http).get("properties") or {}).get("provisioningState")
        url = http.headers.get("azure-asyncoperation") or http.headers.get("location")
        if http.status_code == 200 and str(state).lower() == "succeeded":
            return None
        if not url:
            raise AzureError(status=http.status_code, code="MissingPollUrl",
                             message="the extension PUT answered without Azure-AsyncOperation or Location",
                             kind=ErrorKind.TRANSIENT, operation="extension.put")
        self._arm.require_arm_origin(url)
        return url

    async def poll_extension(self, poll_url: str) -> ExtensionPoll:
        """One GET of a stored poll URL (only ever to the configured ARM endpoint). 404 (expired) raises NOT_FOUND."""
        self._arm.require_arm_origin(poll_url)
        response = await self._arm.send("GET", poll_url, operation="extension.put.poll")
        return parse_extension_poll(response.http_response.status_code, json_body(response.http_response))

    # --- the Kubernetes compute ------------------------------------------------------------------------------------
    async def get_compute(self, sub: str, rg: str, ws: str, name: str) -> Compute | None:
        response = await self._arm.send("GET", compute_path(sub, rg, ws, name), operation="compute.get",
                                        api_version=ML_API_VERSION, accept=(404,))
        if response.http_response.status_code == 404:
            return None
        return parse_compute(json_body(response.http_response))

    async def attach_kubernetes(self, sub: str, rg: str, ws: str, name: str, location: str | None, cluster_id: str,
                                namespace: str,
                                on_accepted: Callable[[str | None], Awaitable[None]] | None = None) -> Compute:
        """PUT the Kubernetes compute and follow the operation (bounded: a timeout is TRANSIENT and the next
        reconcile reads the compute, whose provisioningState tells how it went). `on_accepted(poll_url)` runs as
        soon as Azure accepted the PUT, before the operation is followed."""
        path = compute_path(sub, rg, ws, name)
        initial = await self._arm.send("PUT", path, operation="compute.put", api_version=ML_API_VERSION,
                                       body=kubernetes_compute_body(location, cluster_id, namespace))
        if on_accepted is not None:
            await on_accepted(poll_url(initial))
        await self._arm.follow(initial, operation="compute.put")
        found = await self.get_compute(sub, rg, ws, name)
        if found is None:
            raise AzureError(status=404, code="ComputeNotFound", message=f"compute {name} is gone right after it was attached",
                             kind=ErrorKind.CONFLICT, operation="compute.put")
        return found

    async def detach(self, sub: str, rg: str, ws: str, name: str) -> None:
        """DELETE with underlyingResourceAction=Detach (the AKS cluster stays); a compute already gone counts."""
        initial = await self._arm.send("DELETE", f"{compute_path(sub, rg, ws, name)}?underlyingResourceAction=Detach", operation="compute.delete",
                                       api_version=ML_API_VERSION, accept=(404,))
        if initial.http_response.status_code == 404:
            return
        try:
            await self._arm.follow(initial, operation="compute.delete")
        except AzureError as err:
            if err.kind is not ErrorKind.NOT_FOUND:
                raise

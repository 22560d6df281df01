"""Bring-your-own VNet with an AKS target: private endpoints (Microsoft.Network 2025-05-01 …), a workspace's own
private endpoint connections and its Kubernetes computes (ML), and cluster extensions
(Microsoft.KubernetesConfiguration 2025-03-01). Shapes follow the official examples (test_conformance.py)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from aiohttp import web

from . import ids
from .armhttp import ArmError, Ctx, json_response, not_found, user_error
from .constants import AZUREML_EXTENSION_TYPE, KUBERNETES_CONFIGURATION_API_VERSIONS, ML_API_VERSIONS, NETWORK_API_VERSIONS
from .model import ClusterExtension, MlCompute, PrivateEndpoint
from .router import RG, Router
from .routes_ml import WS
from .world import World

PE = RG + r"/providers/Microsoft\.Network/privateEndpoints/(?P<pe>[^/]+)"
PE_TYPE = "Microsoft.Network/privateEndpoints"
CLUSTER = RG + r"/providers/(?P<rp>Microsoft\.ContainerService/managedClusters|Microsoft\.Kubernetes/connectedClusters)/(?P<cluster>[^/]+)"
EXTENSIONS = CLUSTER + r"/providers/Microsoft\.KubernetesConfiguration/extensions"
EXT_TYPE = "Microsoft.KubernetesConfiguration/extensions"
COMPUTE = WS + r"/computes/(?P<compute>[^/]+)"
COMPUTE_TYPE = "Microsoft.MachineLearningServices/workspaces/computes"
PEC_TYPE = "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections"


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def private_endpoint_body(pe: PrivateEndpoint) -> dict[str, Any]:
    name = pe.id.rstrip("/").rsplit("/", 1)[-1]
    ip = f"10.{abs(hash(pe.subnet_id)) % 250}.0.{4 + abs(hash(pe.id)) % 200}"
    return {"name": name, "id": pe.id, "type": PE_TYPE, "location": pe.location, "properties": {
        "provisioningState": "Succeeded",
        "privateLinkServiceConnections": [{
            "id": f"{pe.id}/privateLinkServiceConnections/{pe.connection_name or name}",
            "properties": {"privateLinkServiceId": pe.target_id, "groupIds": list(pe.group_ids),
                           "requestMessage": "", "privateLinkServiceConnectionState": {
                               "status": pe.status, "description": pe.description, "actionsRequired": "None"}}}],
        "manualPrivateLinkServiceConnections": [],
        "subnet": {"id": pe.subnet_id},
        "networkInterfaces": [{"id": f"{pe.id.split('/providers/')[0]}/providers/Microsoft.Network/networkInterfaces/{name}.nic"}],
        "customDnsConfigs": [{"fqdn": f"{name}.privatelink.api.azureml.ms", "ipAddresses": [ip]}],
        "applicationSecurityGroups": [],
        "ipConfigurations": [{"name": f"{name}-ipconfig", "properties": {
            "groupId": pe.group_ids[0] if pe.group_ids else "", "memberName": "default", "privateIPAddress": ip}}],
        "customNetworkInterfaceName": f"{name}-nic",
    }}


def workspace_connection_body(ws_id: str, pe: PrivateEndpoint) -> dict[str, Any]:
    return {"name": pe.connection_name, "type": PEC_TYPE, "id": f"{ws_id}/privateEndpointConnections/{pe.connection_name}",
            "properties": {"privateEndpoint": {"id": pe.id},
                           "privateLinkServiceConnectionState": {"description": pe.description, "actionsRequired": "None",
                                                                 "status": pe.status},
                           "provisioningState": "Succeeded"}}


def extension_body(ext: ClusterExtension, with_upgrade_mode: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {"extensionType": ext.extension_type}
    if with_upgrade_mode:
        props["autoUpgradeMode"] = "compatible"
    props.update({
        "autoUpgradeMinorVersion": ext.auto_upgrade_minor_version, "releaseTrain": ext.release_train,
        "version": ext.version, "scope": {"cluster": {"releaseNamespace": ext.release_namespace}},
        "configurationSettings": dict(ext.configuration_settings), "provisioningState": ext.provisioning_state,
        "currentVersion": ext.version if ext.provisioning_state == "Succeeded" else None,
        "statuses": [], "isSystemExtension": False})
    if ext.provisioning_state == "Failed" and ext.fail_with:
        props["errorInfo"] = {"code": "ExtensionOperationFailed", "message": ext.fail_with}
    when = _iso(ext.created_at)
    return {"id": ext.id, "type": EXT_TYPE, "name": ext.name,
            "systemData": {"createdBy": "sim", "createdByType": "Application", "createdAt": when,
                           "lastModifiedBy": "sim", "lastModifiedByType": "Application", "lastModifiedAt": when},
            "properties": props}


def compute_body(c: MlCompute, *, full: bool) -> dict[str, Any]:
    inner: dict[str, Any] = {"relayConnectionString": None, "serviceBusConnectionString": None,
                             "extensionPrincipalId": None, "extensionInstanceReleaseTrain": "stable", "vcName": None,
                             "namespace": c.namespace}
    if c.instance_types is not None:
        inner["defaultInstanceType"] = c.default_instance_type
        inner["instanceTypes"] = c.instance_types
    props: dict[str, Any] = {}
    if full:
        props.update({"createdOn": _iso(c.created_on), "modifiedOn": _iso(c.modified_on)})
    props.update({"description": c.description, "resourceId": c.resource_id, "computeType": c.compute_type,
                  "provisioningState": c.provisioning_state})
    if full:
        props["isAttachedCompute"] = True
    props["properties"] = inner
    return {"id": c.id, "type": COMPUTE_TYPE, "name": c.name, "location": c.location, "properties": props}


class ByoRoutes:
    def __init__(self, world: World):
        self.w = world

    def register(self, router: Router) -> None:
        router.add("network.privateendpoint.get", "GET", PE, self.get_private_endpoint, NETWORK_API_VERSIONS, PE_TYPE)
        router.add("ml.workspace.pec.list", "GET", WS + "/privateEndpointConnections", self.list_workspace_connections,
                   ML_API_VERSIONS, PEC_TYPE)
        router.add("ml.compute.get", "GET", COMPUTE, self.get_compute, ML_API_VERSIONS, COMPUTE_TYPE)
        router.add("ml.compute.put", "PUT", COMPUTE, self.put_compute, ML_API_VERSIONS, COMPUTE_TYPE)
        router.add("ml.compute.delete", "DELETE", COMPUTE, self.delete_compute, ML_API_VERSIONS, COMPUTE_TYPE)
        k = KUBERNETES_CONFIGURATION_API_VERSIONS
        router.add("k8sconfig.extensions.list", "GET", EXTENSIONS, self.list_extensions, k, EXT_TYPE)
        router.add("k8sconfig.extension.get", "GET", EXTENSIONS + r"/(?P<ext>[^/]+)", self.get_extension, k, EXT_TYPE)
        router.add("k8sconfig.extension.put", "PUT", EXTENSIONS + r"/(?P<ext>[^/]+)", self.put_extension, k, EXT_TYPE)

    # ---- private endpoints and the workspace's connections -------------------------------------------------
    async def get_private_endpoint(self, ctx: Ctx) -> web.Response:
        sub, rg, name = ctx.params["sub"], ctx.params["rg"], ctx.params["pe"]
        self.w.require_resource_group(sub, rg)
        pe = self.w.estate.private_endpoints.get(ids.key(f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{PE_TYPE}/{name}"))
        if pe is None:
            raise not_found(PE_TYPE, name, rg)
        return json_response(200, private_endpoint_body(pe))

    async def list_workspace_connections(self, ctx: Ctx) -> web.Response:
        ws = self.w.require_workspace(ctx.params["sub"], ctx.params["rg"], ctx.params["ws"])
        mine = [pe for pe in self.w.estate.private_endpoints.values() if ids.key(pe.target_id) == ids.key(ws.id)]
        return json_response(200, {"value": [workspace_connection_body(ws.id, pe) for pe in mine]})

    # ---- cluster extensions --------------------------------------------------------------------------------
    def _cluster_id(self, ctx: Ctx) -> str:
        sub, rg = ctx.params["sub"], ctx.params["rg"]
        self.w.require_resource_group(sub, rg)
        cluster_id = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{ctx.params['rp']}/{ctx.params['cluster']}"
        if ids.key(cluster_id) not in self.w.estate.clusters and self.w.estate.resource(cluster_id) is None:
            raise not_found(ctx.params["rp"], ctx.params["cluster"], rg)
        return cluster_id

    def _extensions(self, cluster_id: str) -> list[ClusterExtension]:
        return [e for e in self.w.estate.extensions.values() if ids.key(e.cluster_id) == ids.key(cluster_id)]

    async def list_extensions(self, ctx: Ctx) -> web.Response:
        cluster_id = self._cluster_id(ctx)
        return json_response(200, {"value": [extension_body(e) for e in self._extensions(cluster_id)]})

    async def get_extension(self, ctx: Ctx) -> web.Response:
        cluster_id = self._cluster_id(ctx)
        ext = self.w.estate.extensions.get(ids.key(f"{cluster_id}/providers/{EXT_TYPE}/{ctx.params['ext']}"))
        if ext is None:
            raise ArmError(404, "ResourceNotFound", f"Extension '{ctx.params['ext']}' was not found on cluster "
                                                    f"'{ctx.params['cluster']}'.")
        return json_response(200, extension_body(ext))

    async def put_extension(self, ctx: Ctx) -> web.Response:
        cluster_id = self._cluster_id(ctx)
        body = await ctx.json()
        props = body.get("properties") or {}
        ext_type = props.get("extensionType")
        if not isinstance(ext_type, str) or not ext_type:
            raise ArmError(400, "InvalidParameter", "'properties.extensionType' is required.")
        key = ids.key(f"{cluster_id}/providers/{EXT_TYPE}/{ctx.params['ext']}")
        existing = self.w.estate.extensions.get(key)
        scope = ((props.get("scope") or {}).get("cluster") or {})
        settings = {str(k): str(v) for k, v in (props.get("configurationSettings") or {}).items()}
        headers_extra = {"x-ms-async-operation-timeout": "PT48H"}
        if existing is not None:
            if existing.extension_type.lower() != ext_type.lower():
                raise ArmError(400, "InvalidParameter", f"Extension type cannot be changed from "
                                                        f"{existing.extension_type} to {ext_type}.")
            if existing.provisioning_state == "Succeeded" and existing.configuration_settings == settings:
                op_url = ctx.url(f"{existing.id}/operations/{self.w.guid()}")
                return json_response(200, extension_body(existing, "autoUpgradeMode" in props),
                                     {"Operation-Location": op_url, **headers_extra})
        if ext_type.lower() == AZUREML_EXTENSION_TYPE and settings.get("enableInference", "").lower() == "true":
            insecure = settings.get("allowInsecureConnections", "False").lower() == "true"
            if not insecure and not (settings.get("sslSecret") or settings.get("sslCertPemFile")):
                raise ArmError(400, "ValidationFailed", "Inference with HTTPS needs sslSecret (or sslCertPemFile and "
                                                        "sslKeyPemFile) and sslCname; or set allowInsecureConnections=True.")
        ext = ClusterExtension(cluster_id=cluster_id, name=ctx.params["ext"], extension_type=ext_type,
                               provisioning_state="Creating",
                               release_namespace=scope.get("releaseNamespace") or "default",
                               configuration_settings=settings,
                               release_train=props.get("releaseTrain") or "stable",
                               auto_upgrade_minor_version=bool(props.get("autoUpgradeMinorVersion", True)),
                               fail_with=existing.fail_with if existing else None)
        self.w.estate.extensions[key] = ext
        sub = ctx.params["sub"]

        def effect() -> None:
            if ext.fail_with:
                ext.provisioning_state = "Failed"
                raise ArmError(400, "ExtensionOperationFailed", ext.fail_with)
            ext.provisioning_state = "Succeeded"

        op, headers = self.w.ops.start(ctx, subscription=sub, namespace="Microsoft.KubernetesConfiguration",
                                       location=self.w.estate.resource_group(sub, ctx.params["rg"]).location,
                                       effect=effect, final=lambda: (200, extension_body(ext)),
                                       async_operation_header=True, duration_s=self.w.config.lro_duration_s * 2)
        return json_response(201, extension_body(ext, "autoUpgradeMode" in props),
                             {"Azure-AsyncOperation": headers["Azure-AsyncOperation"],
                              "Operation-Location": headers["Azure-AsyncOperation"], **headers_extra})

    # ---- Kubernetes computes -------------------------------------------------------------------------------
    def _compute_key(self, ctx: Ctx) -> tuple[Any, str]:
        ws = self.w.require_workspace(ctx.params["sub"], ctx.params["rg"], ctx.params["ws"])
        return ws, ids.key(f"{ws.id}/computes/{ctx.params['compute']}")

    async def get_compute(self, ctx: Ctx) -> web.Response:
        ws, key = self._compute_key(ctx)
        c = self.w.estate.computes.get(key)
        if c is None:
            raise ArmError(404, "ResourceNotFound", f"Compute '{ctx.params['compute']}' was not found in workspace "
                                                    f"'{ws.name}'.")
        return json_response(200, compute_body(c, full=True))

    async def put_compute(self, ctx: Ctx) -> web.Response:
        ws, key = self._compute_key(ctx)
        body = await ctx.json()
        props = body.get("properties") or {}
        if props.get("computeType") != "Kubernetes":
            raise user_error(f"Only computeType Kubernetes is supported here, not {props.get('computeType')!r}.")
        cluster_id = props.get("resourceId")
        if not isinstance(cluster_id, str) or not cluster_id:
            raise user_error("'properties.resourceId' (the cluster's ARM ID) is required for a Kubernetes compute.")
        if ids.key(cluster_id) not in self.w.estate.clusters and self.w.estate.resource(cluster_id) is None:
            raise user_error(f"Kubernetes cluster '{cluster_id}' was not found.")
        inner = props.get("properties") or {}
        existing = self.w.estate.computes.get(key)
        if existing is not None and ids.key(existing.resource_id) != ids.key(cluster_id):
            raise user_error(f"Compute '{existing.name}' already exists for resource '{existing.resource_id}'; "
                             "detach it first.")
        c = MlCompute(workspace_id=ws.id, name=ctx.params["compute"], resource_id=cluster_id,
                      namespace=inner.get("namespace") or "default", provisioning_state="Creating",
                      description=props.get("description"), location=body.get("location") or ws.location,
                      instance_types=inner.get("instanceTypes"), default_instance_type=inner.get("defaultInstanceType"),
                      created_on=existing.created_on if existing else time.time())
        self.w.estate.computes[key] = c

        def effect() -> None:
            installed = [e for e in self.w.estate.extensions.values()
                         if ids.key(e.cluster_id) == ids.key(cluster_id) and e.extension_type.lower() == AZUREML_EXTENSION_TYPE
                         and e.provisioning_state == "Succeeded"]
            if not installed and ids.key(cluster_id) in self.w.estate.clusters:
                c.provisioning_state = "Failed"
                raise ArmError(400, "UserError", f"The Azure Machine Learning extension ({AZUREML_EXTENSION_TYPE}) is not "
                                                 f"installed on cluster '{cluster_id}'. Install it before attaching.")
            c.provisioning_state = "Succeeded"
            c.modified_on = time.time()

        _, headers = self.w.ops.start(ctx, subscription=ctx.params["sub"], namespace="Microsoft.MachineLearningServices",
                                      location=ws.location, effect=effect, final=lambda: (200, compute_body(c, full=False)),
                                      async_operation_header=True)
        return json_response(201 if existing is None else 200, compute_body(c, full=False),
                             {"Azure-AsyncOperation": headers["Azure-AsyncOperation"]})

    async def delete_compute(self, ctx: Ctx) -> web.Response:
        ws, key = self._compute_key(ctx)
        action = ctx.request.query.get("underlyingResourceAction")
        if action not in ("Delete", "Detach"):
            raise user_error("'underlyingResourceAction' must be Delete or Detach.")
        c = self.w.estate.computes.get(key)
        if c is None:
            return json_response(204)
        c.provisioning_state = "Deleting"

        def effect() -> None:  # an attached cluster is never deleted with its compute (Delete acts like Detach)
            self.w.estate.computes.pop(key, None)

        _, headers = self.w.ops.start(ctx, subscription=ctx.params["sub"], namespace="Microsoft.MachineLearningServices",
                                      location=ws.location, effect=effect, final=lambda: (200, None),
                                      async_operation_header=True)
        return json_response(202, None, headers)

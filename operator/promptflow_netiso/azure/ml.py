"""Azure Machine Learning workspaces: managed network isolation mode, provisioning, outbound rules.

Through the ARM pipeline at a current stable API version: the published azure-mgmt-machinelearningservices stops at
API 2020-08-01, before managed networks existed. Writes to one workspace's managed network are serialized (the
service rejects concurrent ones); provisioning is not awaited here: `begin_provision` returns the poll URL that the
handler keeps in status, so it survives an operator restart, and `poll_provision` does one GET.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Awaitable, Callable, Mapping

from ..compact import compact, shared
from .arm import LRO_FAILED, LRO_RUNNING, ArmClient, json_body, poll_url, segment
from .errors import AzureError, ErrorKind, error_fields, parse_retry_after
from .limits import Limits

API_VERSION = "2025-12-01"


@dataclass(frozen=True)
class ManagedNetwork:
    isolation_mode: str | None  # Disabled | AllowInternetOutbound | AllowOnlyApprovedOutbound
    status: str | None  # Inactive | Active | None (never provisioned / not reported)
    spark_ready: bool | None
    network_id: str | None
    firewall_sku: str | None = None


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    kind: str  # Default | Hub | Project | FeatureStore ...
    location: str | None
    principal_id: str | None  # system-assigned identity of the workspace
    storage_account_id: str | None
    managed_network: ManagedNetwork | None
    hub_resource_id: str | None = None  # a Project shares its hub's managed network
    public_network_access: str | None = None
    provisioning_state: str | None = None


@dataclass(frozen=True, slots=True)  # thousands are kept (a LIST per workspace): no __dict__ each
class OutboundRule:
    name: str
    type: str | None  # FQDN | PrivateEndpoint | ServiceTag
    category: str | None  # Required | Recommended | UserDefined | Dependency
    status: str | None  # Inactive | Active | Provisioning | Deleting | Failed
    destination: str | dict | None  # FQDN: host name; PrivateEndpoint / ServiceTag: an object
    error_information: str | None
    fqdns: tuple[str, ...] = ()
    parent_rule_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProvisionResult:
    done: bool
    status: str | None  # managed network status when the service reports it (Active), else the operation status
    spark_ready: bool | None
    error: AzureError | None = field(default=None, compare=False)  # set when the operation failed
    retry_after: float | None = field(default=None, compare=False)  # the poll's Retry-After: when to look again


class OperationUrl(str):
    """A poll URL (a plain str everywhere it is stored) that also carries the Retry-After Azure sent with it."""

    retry_after: float | None = None

    def __new__(cls, url: str, retry_after: float | None = None) -> "OperationUrl":
        obj = super().__new__(cls, url)
        obj.retry_after = retry_after
        return obj


def workspace_path(sub: str, rg: str, ws: str) -> str:
    return (
        f"/subscriptions/{segment(sub)}/resourceGroups/{segment(rg)}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{segment(ws)}"
    )


def _tuple(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def parse_managed_network(value: Any) -> ManagedNetwork | None:
    if not isinstance(value, dict):
        return None
    status = value.get("status") if isinstance(value.get("status"), dict) else {}
    return ManagedNetwork(
        isolation_mode=value.get("isolationMode"),
        status=status.get("status"),
        spark_ready=status.get("sparkReady"),
        network_id=value.get("networkId"),
        firewall_sku=value.get("firewallSku"),
    )


def parse_workspace(body: dict) -> Workspace:
    props = body.get("properties") or {}
    identity = body.get("identity") or {}
    return Workspace(
        id=body.get("id", ""),
        name=body.get("name", ""),
        kind=body.get("kind") or "Default",  # classic workspaces may omit it
        location=body.get("location"),
        principal_id=identity.get("principalId"),
        storage_account_id=props.get("storageAccount"),
        managed_network=parse_managed_network(props.get("managedNetwork")),
        hub_resource_id=props.get("hubResourceId"),
        public_network_access=props.get("publicNetworkAccess"),
        provisioning_state=props.get("provisioningState"),
    )


def parse_outbound_rule(body: dict) -> OutboundRule:
    """Strings shared (compact.py): a workspace's rule LIST is kept while a drift check or a batch uses it, and most
    of its rules are Azure's own Required ones, alike in every workspace."""
    props = body.get("properties") or {}
    return OutboundRule(
        name=shared(body.get("name", "")),
        type=shared(props.get("type")),
        category=shared(props.get("category")),
        status=shared(props.get("status")),
        destination=compact(props.get("destination")),
        error_information=props.get("errorInformation"),
        fqdns=tuple(shared(f) for f in _tuple(props.get("fqdns"))),
        parent_rule_names=tuple(shared(n) for n in _tuple(props.get("parentRuleNames"))),
    )


def parse_provision_poll(status_code: int, body: dict, operation: str = "workspace.provision.poll") -> ProvisionResult:
    """One poll of provisionManagedNetwork. Location style: 202 while running, then 200 `{status, sparkReady}`.
    Azure-AsyncOperation style: `{status: InProgress|Succeeded|Failed, error}`."""
    status = body.get("status")
    if status_code == 202 or (isinstance(status, str) and status.lower() in LRO_RUNNING):
        return ProvisionResult(done=False, status=status if isinstance(status, str) else None, spark_ready=body.get("sparkReady"))
    if isinstance(status, str) and status.lower() in LRO_FAILED:
        code, message = error_fields(body)
        error = AzureError(
            status=status_code,
            code=code or "ManagedNetworkProvisioningFailed",
            message=message or f"provisioning of the managed network ended {status}",
            kind=ErrorKind.USER_FIXABLE,
            operation=operation,
        )
        return ProvisionResult(done=True, status=status, spark_ready=None, error=error)
    return ProvisionResult(done=True, status=status if isinstance(status, str) else None, spark_ready=body.get("sparkReady"))


class MachineLearning:
    def __init__(self, arm: ArmClient, limits: Limits) -> None:
        self._arm = arm
        self._limits = limits

    async def get_workspace(self, sub: str, rg: str, ws: str) -> Workspace:
        body = await self._arm.get_json(workspace_path(sub, rg, ws), operation="workspace.get", api_version=API_VERSION)
        return parse_workspace(body)

    async def set_isolation_mode(self, sub: str, rg: str, ws: str, mode: str) -> Workspace:
        """PATCH properties.managedNetwork.isolationMode and follow the LRO; returns the workspace as it is now."""
        body = {"properties": {"managedNetwork": {"isolationMode": mode}}}
        async with self._limits.workspace_lock(sub, rg, ws):
            initial = await self._arm.send("PATCH", workspace_path(sub, rg, ws), operation="workspace.patch", api_version=API_VERSION, body=body)
            await self._arm.follow(initial, operation="workspace.patch")
        return await self.get_workspace(sub, rg, ws)

    async def begin_provision(self, sub: str, rg: str, ws: str, include_spark: bool) -> OperationUrl | None:
        """POST provisionManagedNetwork. None when the service finished at once (200), else the URL to poll (with
        the 202's Retry-After: the first poll waits for it)."""
        path = workspace_path(sub, rg, ws) + "/provisionManagedNetwork"
        async with self._limits.workspace_lock(sub, rg, ws):
            response = await self._arm.send(
                "POST", path, operation="workspace.provision", api_version=API_VERSION, body={"includeSpark": bool(include_spark)}
            )
        http = response.http_response
        if http.status_code != 202:
            return None
        # Location answers the provisioning result ({status, sparkReady}); Azure-AsyncOperation only the op status.
        url = http.headers.get("location") or http.headers.get("azure-asyncoperation")
        if not url:
            raise AzureError(
                status=202, code="MissingPollUrl", message="provisionManagedNetwork answered 202 without a Location header",
                kind=ErrorKind.TRANSIENT, operation="workspace.provision",
            )
        self._arm.require_arm_origin(url)
        return OperationUrl(url, parse_retry_after(dict(http.headers)))

    async def poll_provision(self, poll_url: str) -> ProvisionResult:
        """One GET of a stored poll URL (only ever to the configured ARM endpoint). 404 (expired) raises NOT_FOUND."""
        self._arm.require_arm_origin(poll_url)
        response = await self._arm.send("GET", poll_url, operation="workspace.provision.poll")
        http = response.http_response
        result = parse_provision_poll(http.status_code, json_body(http))
        return replace(result, retry_after=parse_retry_after(dict(http.headers)))

    async def list_outbound_rules(self, sub: str, rg: str, ws: str) -> list[OutboundRule]:
        items = await self._arm.list_all(workspace_path(sub, rg, ws) + "/outboundRules", operation="outboundRule.list", api_version=API_VERSION)
        return [parse_outbound_rule(item) for item in items]

    async def get_outbound_rule(self, sub: str, rg: str, ws: str, name: str) -> OutboundRule | None:
        path = f"{workspace_path(sub, rg, ws)}/outboundRules/{segment(name)}"
        response = await self._arm.send("GET", path, operation="outboundRule.get", api_version=API_VERSION, accept=(404,))
        if response.http_response.status_code == 404:
            return None
        return parse_outbound_rule(json_body(response.http_response))

    async def put_outbound_rule(self, sub: str, rg: str, ws: str, name: str, properties: dict,
                                on_accepted: Callable[[str | None], Awaitable[None]] | None = None) -> OutboundRule:
        """PUT the rule (`properties` as in the ARM body) and follow the LRO (final state via Location).
        `on_accepted(poll_url)` runs as soon as Azure accepted the PUT, before the operation is followed."""
        path = f"{workspace_path(sub, rg, ws)}/outboundRules/{segment(name)}"
        # The lock covers the send, not the operation: handlers/rule_batch.py serialises a workspace's rule operations.
        async with self._limits.workspace_lock(sub, rg, ws):
            initial = await self._arm.send("PUT", path, operation="outboundRule.put", api_version=API_VERSION, body={"properties": properties})
        if on_accepted is not None:
            await on_accepted(poll_url(initial))
        final = await self._arm.follow(initial, operation="outboundRule.put", final_state_via="location")
        body = json_body(final.http_response)
        if isinstance(body.get("properties"), dict):
            return parse_outbound_rule(body)
        rule = await self.get_outbound_rule(sub, rg, ws, name)  # the final poll carried no rule: read it
        if rule is None:
            raise AzureError(
                status=404, code="OutboundRuleNotFound", message=f"outbound rule {name} is gone right after it was written",
                kind=ErrorKind.CONFLICT, operation="outboundRule.put",
            )
        return rule

    async def post_outbound_rules(self, sub: str, rg: str, ws: str, rules: Mapping[str, dict],
                                  on_accepted: Callable[[str | None], Awaitable[None]] | None = None) -> list[OutboundRule]:
        """POST managedNetworks/default/batchOutboundRules (OutboundRules_Post): create or update several UserDefined
        rules in one long-running operation (final state via Location: OutboundRuleListResult). The body carries only
        `outboundRules` (name -> properties as in a rule PUT), never isolationMode or firewallSku, so the batch cannot
        change the network's settings (docs/design/batch-outbound-rules.md). Returns the rules the result lists.

        The workspace lock covers the send only, not the operation: the caller serialises its batches per workspace
        (handlers/rule_batch.py), and a concurrent write by anyone else gets Azure's 409, which callers treat as a wait."""
        path = workspace_path(sub, rg, ws) + "/managedNetworks/default/batchOutboundRules"
        body = {"properties": {"outboundRules": {name: dict(props) for name, props in rules.items()}}}
        async with self._limits.workspace_lock(sub, rg, ws):
            initial = await self._arm.send("POST", path, operation="outboundRule.batch", api_version=API_VERSION, body=body)
        if on_accepted is not None:
            await on_accepted(poll_url(initial))
        final = await self._arm.follow(initial, operation="outboundRule.batch", final_state_via="location")
        result = json_body(final.http_response)
        items = [v for v in result.get("value") or [] if isinstance(v, dict)]
        if isinstance(result.get("nextLink"), str) and result["nextLink"]:  # the result may be paged (x-ms-pageable)
            items += await self._arm.list_all(result["nextLink"], operation="outboundRule.batch.page", api_version=None)
        return [parse_outbound_rule(item) for item in items]

    async def operation_running(self, url: str, operation: str = "outboundRule.batch.poll") -> bool:
        """One GET of a recorded operation URL (only ever to the configured ARM endpoint): True while it answers 202
        (still running). A final answer, an error or an expired URL (404) is "not running"."""
        self._arm.require_arm_origin(url)
        try:
            response = await self._arm.send("GET", url, operation=operation, accept=(404,))
        except AzureError as err:
            if err.kind in (ErrorKind.THROTTLED, ErrorKind.TRANSIENT):
                raise
            return False
        return response.http_response.status_code == 202

    async def delete_outbound_rule(self, sub: str, rg: str, ws: str, name: str) -> None:
        """DELETE and follow the LRO; a rule that is already gone counts as deleted."""
        path = f"{workspace_path(sub, rg, ws)}/outboundRules/{segment(name)}"
        async with self._limits.workspace_lock(sub, rg, ws):  # the send only, as for PUT
            initial = await self._arm.send("DELETE", path, operation="outboundRule.delete", api_version=API_VERSION, accept=(404,))
        if initial.http_response.status_code == 404:
            return
        try:
            await self._arm.follow(initial, operation="outboundRule.delete")
        except AzureError as err:
            if err.kind is not ErrorKind.NOT_FOUND:
                raise

"""Private endpoint connections on the resources a managed network reaches (Azure OpenAI / AI Services, AI Search,
Storage, Key Vault): list them and approve the pending ones.

The providers differ only in API version and in whether the approval PUT is long-running, so they are a table:
adding a provider is one line in PROVIDERS (plus a test).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ids
from .arm import LRO_FAILED, LRO_RUNNING, ArmClient, json_body, segment
from .errors import AzureError, ErrorKind, error_fields


@dataclass(frozen=True)
class Provider:
    resource_type: str  # as ARM spells it
    api_version: str
    long_running_put: bool  # approval PUT may answer 201/202 and must be followed


PROVIDERS: dict[str, Provider] = {
    p.resource_type.lower(): p
    for p in (
        Provider("Microsoft.CognitiveServices/accounts", "2025-09-01", long_running_put=True),  # PUT: 200 or 202 + Location
        Provider("Microsoft.Search/searchServices", "2025-05-01", long_running_put=False),
        Provider("Microsoft.Storage/storageAccounts", "2025-01-01", long_running_put=False),  # `actionRequired`, singular
        Provider("Microsoft.KeyVault/vaults", "2024-11-01", long_running_put=False),  # GET may answer 204
    )
}


@dataclass(frozen=True)
class Connection:
    id: str
    name: str
    target: str  # the resource the private endpoint connects to (as the caller named it)
    private_endpoint_id: str | None
    status: str | None  # Pending | Approved | Rejected | Disconnected
    description: str | None
    provisioning_state: str | None
    actions_required: str | None = None


@dataclass(frozen=True)
class ApprovalStarted:
    """What an approval PUT answered: the connection when Azure finished at once, else the poll URL to keep (in
    Kubernetes status, before waiting) so that a restart follows the same operation instead of sending the PUT again."""

    connection: Connection | None
    poll_url: str | None = None


def provider_for(target_resource_id: str) -> Provider:
    """The table row for a target resource ID; USER_FIXABLE AzureError for an unsupported resource type."""
    rid = ids.parse(target_resource_id)
    provider = PROVIDERS.get(rid.resource_type.lower())
    if provider is None or rid.child_type:
        supported = ", ".join(p.resource_type for p in PROVIDERS.values())
        raise AzureError(
            status=0,
            code="UnsupportedResourceType",
            message=f"private endpoint approval is not supported for {rid.resource_type}{'/' + rid.child_type if rid.child_type else ''}; supported: {supported}",
            kind=ErrorKind.USER_FIXABLE,
        )
    return provider


def parse_connection(target: str, body: dict) -> Connection:
    props = body.get("properties") or {}
    state = props.get("privateLinkServiceConnectionState") or {}
    endpoint = props.get("privateEndpoint") or {}
    return Connection(
        id=body.get("id", ""),
        name=body.get("name", ""),
        target=target,
        private_endpoint_id=endpoint.get("id"),
        status=state.get("status"),
        description=state.get("description"),
        provisioning_state=props.get("provisioningState"),
        actions_required=state.get("actionsRequired", state.get("actionRequired")),  # Storage spells it singular
    )


def connection_path(target: str, name: str) -> str:
    return f"{target.rstrip('/')}/privateEndpointConnections/{segment(name)}"


class PrivateEndpointConnections:
    def __init__(self, arm: ArmClient) -> None:
        self._arm = arm

    async def list(self, target_resource_id: str) -> list[Connection]:
        provider = provider_for(target_resource_id)
        target = target_resource_id.rstrip("/")
        items = await self._arm.list_all(f"{target}/privateEndpointConnections", operation="pec.list", api_version=provider.api_version)
        return [parse_connection(target, item) for item in items]

    async def get(self, target_resource_id: str, name: str) -> Connection | None:
        """None when the connection does not exist (404, or Key Vault's 204)."""
        provider = provider_for(target_resource_id)
        target = target_resource_id.rstrip("/")
        response = await self._arm.send("GET", connection_path(target, name), operation="pec.get", api_version=provider.api_version, accept=(404,))
        if response.http_response.status_code in (204, 404):
            return None
        return parse_connection(target, json_body(response.http_response))

    async def begin_approve(self, connection: Connection, description: str) -> ApprovalStarted:
        """Send the approval PUT once and return at once: a long-running answer (202 + Location) yields its poll URL,
        which the caller stores before calling `poll_approve`. NotPending -> AzureError(kind=CONFLICT)."""
        provider = provider_for(connection.target)
        body = {"properties": {"privateLinkServiceConnectionState": {"status": "Approved", "description": description}}}
        path = connection_path(connection.target, connection.name)
        response = await self._arm.send("PUT", path, operation="pec.approve", api_version=provider.api_version, body=body)
        http = response.http_response
        if http.status_code in (201, 202) and provider.long_running_put:
            # Location is Cognitive Services' final-state-via; Azure-AsyncOperation when that is all we got.
            link = http.headers.get("location") or http.headers.get("azure-asyncoperation")
            if link:
                self._arm.require_arm_origin(link)
                return ApprovalStarted(None, link)
        final = json_body(http) if http.status_code in (200, 201) else {}
        if isinstance(final.get("properties"), dict) and final["properties"].get("privateLinkServiceConnectionState"):
            return ApprovalStarted(parse_connection(connection.target, final))
        return ApprovalStarted(await self._current(connection))

    async def poll_approve(self, connection: Connection, poll_url: str) -> Connection | None:
        """One GET of a stored poll URL (only to the ARM endpoint): the connection when the operation is over, None
        while it runs. A failed operation raises its AzureError; an expired one (404) raises NOT_FOUND."""
        self._arm.require_arm_origin(poll_url)
        response = await self._arm.send("GET", poll_url, operation="pec.approve.poll")
        http = response.http_response
        if http.status_code == 202:
            return None
        body = json_body(http)
        if isinstance(body.get("properties"), dict) and body["properties"].get("privateLinkServiceConnectionState"):
            return parse_connection(connection.target, body)
        status = str(body.get("status") or "").lower()
        if status in LRO_RUNNING:
            return None
        if status in LRO_FAILED:
            code, message = error_fields(body)
            raise AzureError(status=http.status_code, code=code or "OperationFailed",
                             message=message or f"approving {connection.name} ended {body.get('status')}",
                             kind=ErrorKind.UNKNOWN, operation="pec.approve.poll")
        return await self._current(connection)

    async def _current(self, connection: Connection) -> Connection:
        current = await self.get(connection.target, connection.name)
        if current is None:
            raise AzureError(
                status=404, code="PrivateEndpointConnectionNotFound",
                message=f"private endpoint connection {connection.name} disappeared while it was being approved",
                kind=ErrorKind.NOT_FOUND, operation="pec.approve",
            )
        return current

    async def approve(self, connection: Connection, description: str) -> Connection:
        """PUT status Approved. A connection that left Pending meanwhile answers
        AzureError(kind=CONFLICT, code=PrivateEndpointConnectionStatusNotPending): read it again."""
        provider = provider_for(connection.target)
        body = {"properties": {"privateLinkServiceConnectionState": {"status": "Approved", "description": description}}}
        path = connection_path(connection.target, connection.name)
        response = await self._arm.send("PUT", path, operation="pec.approve", api_version=provider.api_version, body=body)
        if response.http_response.status_code in (201, 202):
            if provider.long_running_put:
                response = await self._arm.follow(response, operation="pec.approve")
            else:
                response = None  # not documented as long-running: the connection itself tells the outcome
        final = json_body(response.http_response) if response is not None else {}
        if isinstance(final.get("properties"), dict) and final["properties"].get("privateLinkServiceConnectionState"):
            return parse_connection(connection.target, final)
        return await self._current(connection)

"""privateEndpointConnections on the four target types, each at its own api-versions and with its own quirks:

- Cognitive Services accounts: PUT is long-running (202 + body + Location); DELETE long-running.
- AI Search: PUT synchronous 200; PUT on a missing connection is 404.
- Storage: PUT synchronous 200; `actionRequired` (singular); states Pending/Approved/Rejected only.
- Key Vault: PUT synchronous 200; `etag`; GET of a missing connection answers 204.
Approving a connection that is no longer Pending fails with PrivateEndpointConnectionStatusNotPending.
"""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .armhttp import ArmError, Ctx, bad_request, json_response, not_found
from .constants import COGNITIVE_API_VERSIONS, KEYVAULT_API_VERSIONS, SEARCH_API_VERSIONS, STORAGE_API_VERSIONS
from .model import Connection, Resource
from .router import RG, Router
from .world import World


@dataclass(frozen=True)
class Provider:
    namespace: str
    type: str
    api_versions: frozenset[str]
    long_running: bool = False
    actions_field: str = "actionsRequired"
    provisioning_state: bool = False
    etag: bool = False
    missing_get_is_204: bool = False
    states: tuple[str, ...] = ("Pending", "Approved", "Rejected", "Disconnected")

    @property
    def full_type(self) -> str:
        return f"{self.namespace}/{self.type}"


PROVIDERS = (
    Provider("Microsoft.CognitiveServices", "accounts", COGNITIVE_API_VERSIONS, long_running=True),
    Provider("Microsoft.Search", "searchServices", SEARCH_API_VERSIONS),
    Provider("Microsoft.Storage", "storageAccounts", STORAGE_API_VERSIONS, actions_field="actionRequired",
             provisioning_state=True, states=("Pending", "Approved", "Rejected")),
    Provider("Microsoft.KeyVault", "vaults", KEYVAULT_API_VERSIONS, provisioning_state=True, etag=True,
             missing_get_is_204=True),
)


def connection_body(provider: Provider, target: Resource, conn: Connection) -> dict[str, Any]:
    props: dict[str, Any] = {
        "privateEndpoint": {"id": conn.private_endpoint_id},
        "privateLinkServiceConnectionState": {"status": conn.status, "description": conn.description,
                                              provider.actions_field: conn.actions_required},
    }
    if provider.provisioning_state:
        props["provisioningState"] = conn.provisioning_state
    body: dict[str, Any] = {"id": f"{target.id}/privateEndpointConnections/{conn.name}", "name": conn.name,
                            "type": f"{provider.full_type}/privateEndpointConnections", "properties": props}
    if provider.etag:
        body["etag"] = f'W/"{abs(hash((conn.name, conn.status, conn.description))) % 10**12}"'
    return body


class PrivateEndpointConnectionRoutes:
    def __init__(self, world: World):
        self.w = world

    def register(self, router: Router) -> None:
        for p in PROVIDERS:
            base = RG + rf"/providers/{p.namespace.replace('.', '[.]')}/{p.type}/(?P<name>[^/]+)"
            pec_type = f"{p.full_type}/privateEndpointConnections"
            prefix = f"pec.{p.type.lower()}"
            router.add(f"{prefix}.target.get", "GET", base, self._bind(self.get_target, p), p.api_versions, p.full_type)
            router.add(f"{prefix}.list", "GET", base + "/privateEndpointConnections", self._bind(self.list, p),
                       p.api_versions, pec_type)
            one = base + r"/privateEndpointConnections/(?P<conn>[^/]+)"
            router.add(f"{prefix}.get", "GET", one, self._bind(self.get, p), p.api_versions, pec_type)
            router.add(f"{prefix}.put", "PUT", one, self._bind(self.put, p), p.api_versions, pec_type)
            router.add(f"{prefix}.delete", "DELETE", one, self._bind(self.delete, p), p.api_versions, pec_type)

    @staticmethod
    def _bind(fn, provider: Provider):
        async def handler(ctx: Ctx) -> web.Response:
            return await fn(ctx, provider)
        return handler

    def _target(self, ctx: Ctx, p: Provider) -> Resource:
        sub, rg, name = ctx.params["sub"], ctx.params["rg"], ctx.params["name"]
        self.w.require_resource_group(sub, rg)
        target = self.w.estate.resource(f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{p.full_type}/{name}")
        if target is None:
            raise not_found(p.full_type, name, rg)
        return target

    def _missing(self, p: Provider, target: Resource, name: str) -> ArmError:
        return ArmError(404, "PrivateEndpointConnectionNotFound",
                        f"Private endpoint connection '{name}' was not found on {p.type} '{target.rid.name}'.")

    async def get_target(self, ctx: Ctx, p: Provider) -> web.Response:
        target = self._target(ctx, p)
        props = {**target.properties,
                 "privateEndpointConnections": [connection_body(p, target, c) for c in target.connections.values()]}
        body: dict[str, Any] = {"id": target.id, "name": target.rid.name, "type": p.full_type,
                                "location": target.location, "properties": props}
        if target.kind:
            body["kind"] = target.kind
        return json_response(200, body)

    async def list(self, ctx: Ctx, p: Provider) -> web.Response:
        target = self._target(ctx, p)
        return json_response(200, {"value": [connection_body(p, target, c) for c in target.connections.values()]})

    async def get(self, ctx: Ctx, p: Provider) -> web.Response:
        target = self._target(ctx, p)
        conn = target.connections.get(ctx.params["conn"].lower())
        if conn is None:
            if p.missing_get_is_204:
                return json_response(204)
            raise self._missing(p, target, ctx.params["conn"])
        return json_response(200, connection_body(p, target, conn))

    async def put(self, ctx: Ctx, p: Provider) -> web.Response:
        target = self._target(ctx, p)
        body = await ctx.json()
        state = ((body.get("properties") or {}).get("privateLinkServiceConnectionState") or {})
        status = state.get("status")
        if status not in p.states:
            raise bad_request(f"Invalid privateLinkServiceConnectionState.status {status!r}. Allowed values: "
                              f"{', '.join(p.states)}.", code="InvalidRequestContent" if status is None else "BadRequest")
        description = state.get("description", "")
        conn = target.connections.get(ctx.params["conn"].lower())
        if conn is None:
            raise self._missing(p, target, ctx.params["conn"])
        self._check_transition(conn, status)
        if not p.long_running:
            conn.status, conn.description = status, description
            return json_response(200, connection_body(p, target, conn))

        def effect() -> None:  # the connection may have changed while the operation ran (auto-approval, a person)
            if target.connections.get(conn.name.lower()) is not conn:
                raise self._missing(p, target, conn.name)
            self._check_transition(conn, status)
            conn.status, conn.description = status, description

        preview = connection_body(p, target, dataclasses.replace(conn, status=status, description=description))
        _, headers = self.w.ops.start(ctx, subscription=ctx.params["sub"], namespace=p.namespace,
                                      location=target.location, effect=effect,
                                      final=lambda: (200, connection_body(p, target, conn)), async_operation_header=True)
        return json_response(202, preview, headers)

    @staticmethod
    def _check_transition(conn: Connection, status: str) -> None:
        if status == "Approved" and conn.status != "Pending":
            raise ArmError(409, "PrivateEndpointConnectionStatusNotPending",
                           f"Private endpoint connection '{conn.name}' is in state '{conn.status}'; only a Pending "
                           "connection can be approved.")

    async def delete(self, ctx: Ctx, p: Provider) -> web.Response:
        target = self._target(ctx, p)
        conn = target.connections.get(ctx.params["conn"].lower())
        if conn is None:
            return json_response(204)
        if not p.long_running:
            del target.connections[conn.name.lower()]
            return json_response(200)
        conn.provisioning_state = "Deleting"
        _, headers = self.w.ops.start(ctx, subscription=ctx.params["sub"], namespace=p.namespace,
                                      location=target.location,
                                      effect=lambda: target.connections.pop(conn.name.lower(), None),
                                      final=lambda: (204, None), async_operation_header=True)
        return json_response(202, None, headers)

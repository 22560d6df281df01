"""The admin API under /_sim/ (plain JSON, no auth): seeding, drift, faults, configuration, request log.

Every endpoint is mirrored by a method of tests.sim.admin.SimAdmin; README.md lists them.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Awaitable, Callable

from aiohttp import web

from . import ids
from .armhttp import ArmError, dumps
from .entra import FederatedCredential
from .faults import FaultRule
from .ml_bodies import workspace_body
from .seeding import SeedError, Seeder, connection_view
from .throttle import ThrottleLimits

AdminHandler = Callable[[dict[str, Any], web.Request], Awaitable[Any] | Any]


class AdminApi:
    def __init__(self, sim):
        self.sim = sim
        self.seeder = Seeder(sim.world)
        w = sim.world
        self._routes: dict[tuple[str, str], AdminHandler] = {
            ("GET", "health"): lambda d, r: {"ok": True},
            ("GET", "info"): lambda d, r: sim.info(),
            ("POST", "reset"): self.reset,
            ("GET", "config"): lambda d, r: self.config(),
            ("PATCH", "config"): self.patch_config,
            ("GET", "requests"): self.requests,
            ("GET", "state"): lambda d, r: w.estate.snapshot(),
            ("POST", "subscriptions"): lambda d, r: dataclasses.asdict(
                self.seeder.subscription(d["subscriptionId"], d.get("displayName", ""))),
            ("POST", "resourceGroups"): lambda d, r: dataclasses.asdict(
                self.seeder.resource_group(d["subscriptionId"], d["name"], d.get("location", "eastus"))),
            ("POST", "principals"): lambda d, r: self.seeder.principal(
                d["principalId"], d.get("principalType", "ServicePrincipal")) or {"ok": True},
            ("POST", "workspaces"): lambda d, r: self.seeder.workspace(d),
            ("GET", "workspaces"): self.get_workspace,
            ("PATCH", "workspaces"): lambda d, r: self.seeder.workspace_drift(d),
            ("POST", "resources"): lambda d, r: self._resource_view(self.seeder.resource(d)),
            ("POST", "vnets"): lambda d, r: dataclasses.asdict(self.seeder.vnet(d)),
            ("POST", "aks"): lambda d, r: dataclasses.asdict(self.seeder.aks(d)),
            ("PATCH", "vnets/peerings"): lambda d, r: self.seeder.peering_state(d),
            ("POST", "privateEndpoints"): lambda d, r: dataclasses.asdict(self.seeder.private_endpoint(d)),
            ("POST", "extensions"): lambda d, r: dataclasses.asdict(self.seeder.extension(d)),
            ("GET", "computes"): lambda d, r: self.seeder.computes(d),
            ("POST", "computes"): lambda d, r: self.seeder.compute(d),
            ("GET", "connections"): self.list_connections,
            ("POST", "connections"): lambda d, r: self.seeder.connection(d),
            ("PATCH", "connections"): lambda d, r: self.seeder.connection_state(d),
            ("GET", "roleAssignments"): lambda d, r: self.seeder.role_assignments(d),
            ("POST", "roleAssignments"): lambda d, r: self.seeder.role_assignment(d),
            ("DELETE", "roleAssignments"): lambda d, r: self.seeder.delete_role_assignment(d),
            ("POST", "authorization/deny"): lambda d, r: dataclasses.asdict(self.seeder.deny(d)),
            ("POST", "authorization/grant"): lambda d, r: {"removed": self.seeder.grant(d)},
            ("GET", "faults"): lambda d, r: [f.to_dict() for f in sim.faults.rules],
            ("POST", "faults"): lambda d, r: sim.faults.add(FaultRule.from_dict(d)).to_dict(),
            ("POST", "faults/profile"): lambda d, r: [f.to_dict() for f in sim.faults.profile(d.get("name", "chaos"))],
            ("DELETE", "faults"): lambda d, r: sim.faults.clear() or {"ok": True},
            ("POST", "operations/complete"): lambda d, r: {"completed": w.ops.complete_all()},
            ("GET", "operations"): lambda d, r: [{"id": o.id, "namespace": o.namespace, "startedAt": o.started_at}
                                                 for o in w.ops.in_progress()],
            ("POST", "clients"): self.register_client,
            ("POST", "federated-tokens"): self.federated_token,
            ("POST", "issuers"): lambda d, r: sim.entra.trust_issuer(d["issuer"], d["jwks"]) or {"ok": True},
        }

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path[len("/_sim/"):].strip("/")
        handler = self._routes.get((request.method, path))
        if handler is None:
            return _reply(404, {"error": f"no admin endpoint {request.method} /_sim/{path}"})
        try:
            data: dict[str, Any] = dict(request.query)
            if request.can_read_body:
                raw = await request.read()
                if raw:
                    body = json.loads(raw)
                    if not isinstance(body, dict):
                        raise SeedError("the body must be a JSON object")
                    data.update(body)
            result = handler(data, request)
            if hasattr(result, "__await__"):
                result = await result
            return _reply(200, result)
        except (SeedError, ValueError, KeyError, TypeError) as exc:
            return _reply(400, {"error": f"{type(exc).__name__}: {exc}"})
        except ArmError as exc:
            return _reply(400, {"error": f"{exc.code}: {exc.message}"})

    def reset(self, data: dict[str, Any], request: web.Request) -> dict[str, Any]:
        self.sim.reset()
        return {"ok": True}

    def config(self) -> dict[str, Any]:
        c = self.sim.world.config
        return {"lroDurationS": c.lro_duration_s, "provisionDurationS": c.provision_duration_s,
                "ruleDurationS": c.rule_duration_s, "batchRulesAtEnd": c.batch_rules_at_end,
                "retryAfterS": c.retry_after_s, "tokenLifetimeS": c.token_lifetime_s, "pageSize": c.page_size,
                "defaultPeBehaviour": c.default_pe_behaviour, "defaultApproveAfterS": c.default_approve_after_s,
                "throttle": c.throttle.to_dict() if c.throttle else None}

    def patch_config(self, data: dict[str, Any], request: web.Request) -> dict[str, Any]:
        c = self.sim.world.config
        fields = {"lroDurationS": ("lro_duration_s", float), "provisionDurationS": ("provision_duration_s", float),
                  "retryAfterS": ("retry_after_s", int), "tokenLifetimeS": ("token_lifetime_s", int),
                  "pageSize": ("page_size", int), "defaultPeBehaviour": ("default_pe_behaviour", str),
                  "defaultApproveAfterS": ("default_approve_after_s", float),
                  "batchRulesAtEnd": ("batch_rules_at_end", bool)}
        for name, (attr, cast) in fields.items():
            if name in data:
                setattr(c, attr, cast(data[name]))
        if "ruleDurationS" in data:  # null (or false): off, rule operations last lroDurationS
            c.rule_duration_s = float(data["ruleDurationS"]) if data["ruleDurationS"] not in (None, False) else None
        if "throttle" in data:
            c.throttle = ThrottleLimits.from_dict(data["throttle"]) if data["throttle"] else None
            self.sim.throttle.reset()
        return self.config()

    def requests(self, data: dict[str, Any], request: web.Request) -> dict[str, Any]:
        items = self.sim.log.since(int(data.get("since", 0)), data.get("service") or None)
        return {"items": items, "last": self.sim.log.last_seq()}

    def get_workspace(self, data: dict[str, Any], request: web.Request) -> dict[str, Any]:
        w = self.sim.world
        ws = w.estate.workspaces.get(ids.key(data["workspaceId"]))
        if ws is None:
            raise SeedError(f"unknown workspace {data['workspaceId']}")
        return {"body": workspace_body(ws, w.mn.owner(ws), "2025-12-01"), "busyOperation": ws.busy_operation}

    def list_connections(self, data: dict[str, Any], request: web.Request) -> list[dict[str, Any]]:
        target = self.sim.world.estate.resource(data["targetId"])
        if target is None:
            raise SeedError(f"unknown target {data['targetId']}")
        return [connection_view(target, c) for c in target.connections.values()]

    @staticmethod
    def _resource_view(resource) -> dict[str, Any]:
        return {"id": resource.id, "peBehaviour": resource.pe_behaviour, "approveAfterS": resource.approve_after_s,
                "location": resource.location}

    def register_client(self, data: dict[str, Any], request: web.Request) -> dict[str, Any]:
        w = self.sim.world
        client_id = data.get("clientId") or w.guid()
        object_id = data.get("objectId") or w.guid()
        federated = [FederatedCredential(f["issuer"], f["subject"], f.get("audience", "api://AzureADTokenExchange"))
                     for f in data.get("federated") or []]
        app = self.sim.entra.register_app(client_id, object_id, data.get("clientSecret"), federated)
        self.seeder.principal(object_id, "ServicePrincipal")
        if data.get("rbac"):  # authorized by its role assignments, as Azure does (rbac.py)
            w.rbac_principals.add(object_id.lower())
        return {"clientId": app.client_id, "objectId": app.object_id}

    def federated_token(self, data: dict[str, Any], request: web.Request) -> dict[str, Any]:
        kwargs = {}
        if data.get("subject"):
            kwargs["subject"] = data["subject"]
        if data.get("lifetimeS") is not None:
            kwargs["lifetime_s"] = int(data["lifetimeS"])
        if data.get("audience"):
            kwargs["audience"] = data["audience"]
        return {"token": self.sim.entra.federated_token(**kwargs), "issuer": self.sim.entra.cluster_issuer}


def _reply(status: int, body: Any) -> web.Response:
    return web.Response(status=status, text=dumps(body), content_type="application/json")

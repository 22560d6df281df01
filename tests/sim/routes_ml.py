"""Microsoft.MachineLearningServices: workspace GET/PATCH, outbound rules, provisionManagedNetwork, v2 managed network."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from .armhttp import ArmError, Ctx, json_response, user_error
from .constants import ML_API_VERSIONS, ML_V2_API_VERSIONS
from .ml_bodies import managed_network_v2_body, provision_body, rule_body, workspace_body
from .model import Workspace
from .requestlog import LOGGED_RULES
from .router import RG, Router
from .world import World

NS = "Microsoft.MachineLearningServices"
WS = RG + r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)"
V2 = WS + r"/managedNetworks/default"
RULE_NAME = r"/outboundRules/(?P<rule>[^/]+)"
WS_TYPE = f"{NS}/workspaces"
RULE_TYPE = f"{NS}/workspaces/outboundRules"


class MachineLearningRoutes:
    def __init__(self, world: World):
        self.w = world

    def register(self, router: Router) -> None:
        v1, v2 = ML_API_VERSIONS, ML_V2_API_VERSIONS
        router.add("ml.workspace.get", "GET", WS, self.get_workspace, v1, WS_TYPE)
        router.add("ml.workspace.patch", "PATCH", WS, self.patch_workspace, v1, WS_TYPE)
        router.add("ml.rules.list", "GET", WS + "/outboundRules", self.list_rules, v1, RULE_TYPE)
        router.add("ml.rule.get", "GET", WS + RULE_NAME, self.get_rule, v1, RULE_TYPE)
        router.add("ml.rule.put", "PUT", WS + RULE_NAME, self.put_rule, v1, RULE_TYPE)
        router.add("ml.rule.delete", "DELETE", WS + RULE_NAME, self.delete_rule, v1, RULE_TYPE)
        router.add("ml.provision", "POST", WS + "/provisionManagedNetwork", self.provision, v1, WS_TYPE,
                   action=f"{WS_TYPE}/provisionManagedNetwork/action")
        router.add("ml.v2.network.get", "GET", V2, self.get_network_v2, v2, f"{WS_TYPE}/managedNetworks")
        router.add("ml.v2.network.put", "PUT", V2, self.put_network_v2, v2, f"{WS_TYPE}/managedNetworks")
        router.add("ml.v2.rules.list", "GET", V2 + "/outboundRules", self.list_rules_v2, v2, RULE_TYPE)
        router.add("ml.v2.rule.get", "GET", V2 + RULE_NAME, self.get_rule_v2, v2, RULE_TYPE)
        router.add("ml.v2.rule.put", "PUT", V2 + RULE_NAME, self.put_rule_v2, v2, RULE_TYPE)
        router.add("ml.v2.rule.delete", "DELETE", V2 + RULE_NAME, self.delete_rule_v2, v2, RULE_TYPE)
        router.add("ml.v2.rules.batch", "POST", V2 + "/batchOutboundRules", self.batch_rules_v2, v1 | v2, RULE_TYPE,
                   action=f"{WS_TYPE}/managedNetworks/batchOutboundRules/action")

    # ---- helpers -------------------------------------------------------------------------------------------
    def _ws(self, ctx: Ctx) -> Workspace:
        return self.w.require_workspace(ctx.params["sub"], ctx.params["rg"], ctx.params["ws"])

    def _lock(self, network: Workspace) -> None:
        if network.busy_operation is not None:
            raise ArmError(409, "Conflict",
                           f"Another operation ({network.busy_operation}) is in progress on the managed network of "
                           f"workspace '{network.name}'. Retry after it completes.")

    def _start(self, ctx: Ctx, network: Workspace, effect, final, *, async_header: bool = False,
               duration_s: float | None = None) -> dict[str, str]:
        def release() -> None:
            network.busy_operation = None
            network.updating = False

        op, headers = self.w.ops.start(ctx, subscription=ctx.params["sub"], namespace=NS, location=network.location,
                                       effect=effect, final=final, on_end=release, async_operation_header=async_header,
                                       duration_s=duration_s)
        network.busy_operation = op.id
        return headers

    # ---- workspace -----------------------------------------------------------------------------------------
    async def get_workspace(self, ctx: Ctx) -> web.Response:
        ws = self._ws(ctx)
        return json_response(200, workspace_body(ws, self.w.mn.owner(ws), ctx.api_version))

    async def patch_workspace(self, ctx: Ctx) -> web.Response:
        ws = self._ws(ctx)
        body = await ctx.json()
        props = body.get("properties") or {}
        if not isinstance(props, dict):
            raise user_error("'properties' must be an object.")
        if isinstance(body.get("tags"), dict):
            ws.tags = {str(k): str(v) for k, v in body["tags"].items()}
        for key in ("publicNetworkAccess",):
            if isinstance(props.get(key), str):
                if props[key] not in ("Enabled", "Disabled"):
                    raise user_error(f"Invalid publicNetworkAccess '{props[key]}'. Allowed values: Enabled, Disabled.")
                ws.public_network_access = props[key]
        for key in ("friendlyName", "description"):  # echoed verbatim from then on
            if isinstance(props.get(key), str):
                ws.extra_properties[key] = props[key]
        wanted = props.get("managedNetwork")
        if isinstance(wanted, dict):  # monitoring switches live beside the isolation settings
            for key in ("enableFirewallLog", "enableNetworkMonitor"):
                if isinstance(wanted.get(key), bool):
                    ws.monitoring[key] = wanted[key]
            wanted = {k: v for k, v in wanted.items() if k not in ("enableFirewallLog", "enableNetworkMonitor")}
        if not wanted:
            return json_response(200, workspace_body(ws, self.w.mn.owner(ws), ctx.api_version))
        if not isinstance(wanted, dict):
            raise user_error("'properties.managedNetwork' must be an object.")
        self.w.mn.ensure_writable(ws)
        mode = wanted.get("isolationMode", ws.isolation_mode)
        self.w.mn.validate_mode_change(ws, mode)
        sku = wanted.get("firewallSku", ws.firewall_sku)
        if sku not in ("Standard", "Basic"):
            raise user_error(f"Invalid firewallSku '{sku}'. Allowed values: Standard, Basic.")
        rules = wanted.get("outboundRules") or {}
        if not isinstance(rules, dict):
            raise user_error("'outboundRules' must be a map of rule name to rule.")
        self._lock(ws)
        parsed = []
        if rules:
            probe = dataclasses.replace(ws, isolation_mode=mode, rules=dict(ws.rules))
            parsed = [self.w.mn.parse_rule(probe, name, {"properties": r}) for name, r in rules.items()]

        def effect() -> None:
            ws.firewall_sku = sku
            if mode != ws.isolation_mode:
                self.w.mn.apply_mode(ws, mode)
            for rule in parsed:
                self.w.mn.store_rule(ws, rule)
                self.w.mn.realise(ws, rule)

        ws.updating = True
        headers = self._start(ctx, ws, effect, lambda: (200, workspace_body(ws, self.w.mn.owner(ws), ctx.api_version)),
                              async_header=True)
        return json_response(202, None, headers)

    # ---- provisioning --------------------------------------------------------------------------------------
    async def provision(self, ctx: Ctx) -> web.Response:
        ws = self._ws(ctx)
        raw = await ctx.request.read()
        body = await ctx.json() if raw else {}
        include_spark = body.get("includeSpark", False)
        if not isinstance(include_spark, bool):
            raise user_error("'includeSpark' must be a boolean.")
        self.w.mn.ensure_writable(ws)
        if ws.isolation_mode == "Disabled":
            raise user_error(f"Managed network is not enabled for workspace '{ws.name}'; set an isolation mode first.")
        if ws.network_status == "Active" and (ws.spark_ready or not include_spark):
            return json_response(200, provision_body(ws))
        self._lock(ws)
        headers = self._start(ctx, ws, lambda: self.w.mn.activate(ws, include_spark), lambda: (200, provision_body(ws)),
                              duration_s=self.w.config.provision_duration_s)
        return json_response(202, None, headers)

    # ---- outbound rules ------------------------------------------------------------------------------------
    async def list_rules(self, ctx: Ctx, *, v2: bool = False) -> web.Response:
        ws = self._ws(ctx)
        network = self.w.mn.owner(ws)
        rules = list(network.rules.values())
        try:
            start = max(0, int(ctx.request.query.get("$skipToken", "0")))
        except ValueError:
            raise ArmError(400, "InvalidSkipToken", "The $skipToken is not valid.") from None
        size = max(1, self.w.config.page_size)
        page = rules[start:start + size]
        body: dict = {"value": [rule_body(ws, r, ctx.api_version, v2=v2) for r in page]}
        if start + size < len(rules):
            body["nextLink"] = ctx.url(ctx.request.path, **{"$skipToken": str(start + size)})
        return json_response(200, body)

    async def get_rule(self, ctx: Ctx, *, v2: bool = False) -> web.Response:
        ws = self._ws(ctx)
        rule = self.w.mn.owner(ws).rules.get(ctx.params["rule"].lower())
        if rule is None:
            raise ArmError(404, "ResourceNotFound",
                           f"Outbound rule '{ctx.params['rule']}' was not found in workspace '{ws.name}'.")
        return json_response(200, rule_body(ws, rule, ctx.api_version, v2=v2))

    async def put_rule(self, ctx: Ctx, *, v2: bool = False) -> web.Response:
        ws = self._ws(ctx)
        body = await ctx.json()
        self.w.mn.ensure_writable(ws)
        rule = self.w.mn.parse_rule(ws, ctx.params["rule"], body)
        self._lock(ws)
        self.w.mn.store_rule(ws, rule)
        name = rule.name

        def final() -> tuple[int, dict]:
            current = ws.rules.get(name.lower())
            return (200, rule_body(ws, current, ctx.api_version, v2=v2)) if current else (404, None)

        headers = self._start(ctx, ws, lambda: self.w.mn.finish_rule(ws, name), final, duration_s=self.w.rule_duration())
        return json_response(202, None, headers)

    async def delete_rule(self, ctx: Ctx, *, v2: bool = False) -> web.Response:
        ws = self._ws(ctx)
        self.w.mn.ensure_writable(ws)
        rule = ws.rules.get(ctx.params["rule"].lower())
        if rule is None:
            return json_response(204)
        if rule.category == "Required":
            raise user_error(f"Outbound rule '{rule.name}' is a Required rule owned by Azure Machine Learning and "
                             "cannot be deleted.")
        self._lock(ws)
        rule.status = "Deleting"
        headers = self._start(ctx, ws, lambda: self.w.mn.remove_rule(ws, rule.name), lambda: (200, None),
                              duration_s=self.w.rule_duration())
        return json_response(202, None, headers)

    # ---- v2 (2026-03-15-preview): workspaces/{ws}/managedNetworks/default --------------------------------------
    async def get_network_v2(self, ctx: Ctx) -> web.Response:
        ws = self._ws(ctx)
        return json_response(200, managed_network_v2_body(ws, self.w.mn.owner(ws), ctx.api_version))

    async def put_network_v2(self, ctx: Ctx) -> web.Response:
        ws = self._ws(ctx)
        body = await ctx.json()
        wanted = (body.get("properties") or {}).get("managedNetwork")
        if not isinstance(wanted, dict):
            raise user_error("'properties.managedNetwork' is required.")
        self.w.mn.ensure_writable(ws)
        mode = wanted.get("isolationMode", ws.isolation_mode)
        self.w.mn.validate_mode_change(ws, mode)
        sku = wanted.get("firewallSku", ws.firewall_sku)
        rules = wanted.get("outboundRules") or {}
        if not isinstance(rules, dict):
            raise user_error("'outboundRules' must be a map of rule name to rule.")
        probe = dataclasses.replace(ws, isolation_mode=mode, rules={})
        parsed = [self.w.mn.parse_rule(probe, name, {"properties": r}) for name, r in rules.items()]
        self._lock(ws)

        def effect() -> None:  # PUT replaces the user-defined rule set; Required rules stay
            ws.firewall_sku = sku
            if mode != ws.isolation_mode:
                self.w.mn.apply_mode(ws, mode)
            keep = {r.name.lower() for r in parsed}
            for k, rule in list(ws.rules.items()):
                if rule.category != "Required" and k not in keep:
                    self.w.mn.remove_rule(ws, rule.name)
            for rule in parsed:
                self.w.mn.store_rule(ws, rule)
                self.w.mn.realise(ws, rule)

        ws.updating = True
        headers = self._start(ctx, ws, effect,
                              lambda: (200, managed_network_v2_body(ws, self.w.mn.owner(ws), ctx.api_version)),
                              duration_s=self.w.rule_duration())
        return json_response(202, None, headers)

    async def batch_rules_v2(self, ctx: Ctx) -> web.Response:
        """POST managedNetworks/default/batchOutboundRules (OutboundRules_Post; body ManagedNetworkSettings, answer
        OutboundRuleListResult; long-running, 202 + Location). Upsert: the listed rules are created or replaced, rules
        not listed stay (the operation "updates the outbound rules"; the managed network PUT is the one that
        replaces the set: docs/design/batch-outbound-rules.md). No delete marker exists in the body, so nothing is
        deleted through it. isolationMode / firewallSku / enableNetworkMonitor, when given, apply like a PATCH.
        Like a rule PUT, the rules show at once (Provisioning, or Inactive before provisioning) and are realised when
        the operation ends (config batch_rules_at_end: they show only then); its final answer lists the rules written."""
        ws = self._ws(ctx)
        props = (await ctx.json()).get("properties") or {}
        if not isinstance(props, dict):
            raise user_error("'properties' must be an object.")
        self.w.mn.ensure_writable(ws)
        mode = props.get("isolationMode", ws.isolation_mode)
        self.w.mn.validate_mode_change(ws, mode)
        rules = props.get("outboundRules")
        if not isinstance(rules, dict) or not rules:
            raise user_error("'properties.outboundRules' must map at least one rule name to a rule.")
        probe = dataclasses.replace(ws, isolation_mode=mode, rules=dict(ws.rules))
        parsed = [self.w.mn.parse_rule(probe, name, {"properties": r}) for name, r in rules.items()]
        self._lock(ws)
        ctx.request[LOGGED_RULES] = [r.name for r in parsed]
        if mode != ws.isolation_mode:
            self.w.mn.apply_mode(ws, mode)
        sku = props.get("firewallSku")
        if isinstance(sku, str):
            ws.firewall_sku = sku
        if isinstance(props.get("enableNetworkMonitor"), bool):
            ws.monitoring["enableNetworkMonitor"] = props["enableNetworkMonitor"]
        at_end = self.w.config.batch_rules_at_end
        for rule in ([] if at_end else parsed):
            self.w.mn.store_rule(ws, rule)
        names = [r.name for r in parsed]

        def effect() -> None:
            for rule in (parsed if at_end else []):
                self.w.mn.store_rule(ws, rule)
            for name in names:
                self.w.mn.finish_rule(ws, name)

        def final() -> tuple[int, dict]:
            written = [ws.rules[n.lower()] for n in names if n.lower() in ws.rules]
            return 200, {"value": [rule_body(ws, r, ctx.api_version, v2=True) for r in written]}

        headers = self._start(ctx, ws, effect, final, duration_s=self.w.rule_duration())
        return json_response(202, None, headers)

    async def list_rules_v2(self, ctx: Ctx) -> web.Response:
        return await self.list_rules(ctx, v2=True)

    async def get_rule_v2(self, ctx: Ctx) -> web.Response:
        return await self.get_rule(ctx, v2=True)

    async def put_rule_v2(self, ctx: Ctx) -> web.Response:
        return await self.put_rule(ctx, v2=True)

    async def delete_rule_v2(self, ctx: Ctx) -> web.Response:
        return await self.delete_rule(ctx, v2=True)

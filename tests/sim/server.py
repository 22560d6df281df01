"""The Simulator: one aiohttp HTTPS server answering Azure Resource Manager, Entra ID and the /_sim/ admin API."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

from . import ids, rbac
from .admin_routes import AdminApi
from .armhttp import ArmError, Ctx, Principal
from .constants import MICROSOFT_MANAGED_SUBSCRIPTION_ID
from .entra import DEFAULT_SUBJECT, Entra, FederatedCredential
from .faults import Faults
from .model import Estate
from .requestlog import LOGGED_RULES, RequestLog
from .router import Router
from .routes_byo import ByoRoutes
from .routes_ml import MachineLearningRoutes
from .routes_network import NetworkRoutes
from .routes_pec import PrivateEndpointConnectionRoutes
from .routes_roles import RoleAssignmentRoutes
from .seeding import is_denied
from .throttle import Throttle, kind_of, retry_after_header
from .tls import TlsMaterial, create_tls_material
from .tokens import Signer
from .world import SimConfig, World

log = logging.getLogger("tests.sim")

_CONFIG_FIELDS = {f.name for f in dataclasses.fields(SimConfig)}


class _Dropped(Exception):
    """A fault closed the connection: no response is written."""


class Simulator:
    """Azure (ARM + Entra ID) on https://127.0.0.1:<port>.

    Use `await start()` / `await stop()` inside an event loop, or `start_in_thread()` / `stop_thread()` from sync code.
    Options are SimConfig fields (lro_duration_s, retry_after_s, token_lifetime_s, page_size, throttle, ...).
    """

    def __init__(self, seed: int = 0, *, host: str = "127.0.0.1", port: int = 0, tenant_id: str | None = None,
                 client_id: str | None = None, client_secret: str | None = None, ca_dir: str | None = None,
                 state_file: str | None = None, request_log_size: int = 100_000, **options: Any):
        unknown = set(options) - _CONFIG_FIELDS
        if unknown:
            raise TypeError(f"unknown Simulator option(s): {', '.join(sorted(unknown))}")
        self.seed = seed
        self.host = host
        self.port = port
        self.tenant_id = tenant_id or ids.stable_guid("tenant", str(seed))
        self.client_id = client_id or ids.stable_guid("client", str(seed))
        self.client_object_id = ids.stable_guid("client-object", str(seed))
        # Derived from the seed so a restarted standalone simulator accepts the secret its clients already hold.
        self.client_secret = client_secret or "sim~" + hashlib.sha256(f"client-secret:{seed}".encode()).hexdigest()[:32]
        self.ca_dir = ca_dir
        self.state_file = state_file
        self.world = World(seed, SimConfig(**options), self.tenant_id)
        self.faults = Faults(seed)
        self.throttle = Throttle()
        self.log = RequestLog(request_log_size)
        self.router = Router()
        for routes in (MachineLearningRoutes(self.world), PrivateEndpointConnectionRoutes(self.world),
                       RoleAssignmentRoutes(self.world), NetworkRoutes(self.world), ByoRoutes(self.world)):
            routes.register(self.router)
        ops = self.world.ops
        op_base = r"/subscriptions/(?P<sub>[^/]+)/providers/(?P<ns>[^/]+)/locations/(?P<loc>[^/]+)"
        self.router.add("operations.result", "GET", op_base + r"/operationResults/(?P<opid>[^/]+)", ops.poll_result,
                        None, "Microsoft.Resources/operationResults", action="Microsoft.Resources/operations/read")
        self.router.add("operations.status", "GET", op_base + r"/operationStatuses/(?P<opid>[^/]+)", ops.poll_status,
                        None, "Microsoft.Resources/operationStatuses", action="Microsoft.Resources/operations/read")
        self.entra: Entra | None = None
        self.admin_api: AdminApi | None = None
        self.tls: TlsMaterial | None = None
        self.url = ""
        self.federated_token_file = ""
        self._workdir = ""
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    # ---- lifecycle -----------------------------------------------------------------------------------------
    def _prepare(self) -> tuple[TlsMaterial, Signer, Signer]:
        # With ca_dir every file clients point at (CA, bundle, token file) keeps its path across restarts.
        self._workdir = self.ca_dir or tempfile.mkdtemp(prefix="pfnetiso-sim-")
        hosts = tuple(dict.fromkeys((self.host, "127.0.0.1", "localhost")))
        tls = create_tls_material(self._workdir, self.ca_dir, hosts=hosts)
        keys = Path(self.ca_dir) if self.ca_dir else None
        return (tls, Signer.load_or_create(keys / "entra-signing-key.pem" if keys else None, "RS256"),
                Signer.load_or_create(keys / "cluster-issuer-key.pem" if keys else None, "ES256"))

    async def start(self) -> "Simulator":
        # Key generation and file writes are blocking: keep them off the event loop.
        self.tls, signer, cluster_signer = await asyncio.to_thread(self._prepare)
        self.entra = Entra(self.tenant_id, signer, cluster_signer, self.world.config)
        self.admin_api = AdminApi(self)
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.tls.server_context(), backlog=1024)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.port = port
        self.url = f"https://{self.host}:{port}"
        self.entra.base_url = self.url
        self._register_default_client()
        self.federated_token_file = os.path.join(self._workdir, "azure-identity-token")
        await asyncio.to_thread(self.write_federated_token, self.federated_token_file)
        if self.state_file and os.path.exists(self.state_file):
            data = await asyncio.to_thread(Path(self.state_file).read_text)
            self._load_estate(Estate.restore(json.loads(data)))
        log.info("Azure simulator listening on %s (tenant %s)", self.url, self.tenant_id)
        return self

    async def stop(self) -> None:
        if self.state_file and self.url:
            snapshot = json.dumps(self.world.estate.snapshot(), indent=1)
            await asyncio.to_thread(Path(self.state_file).write_text, snapshot)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._workdir and not self.ca_dir:
            await asyncio.to_thread(shutil.rmtree, self._workdir, True)
        self._workdir = ""

    def start_in_thread(self, timeout_s: float = 60.0) -> "Simulator":
        """Run on a private event loop in a daemon thread: for sync callers (fixtures, the demo)."""
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # surfaced to the caller below
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread_loop = loop
        self._thread = threading.Thread(target=run, name="azure-simulator", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s):
            raise RuntimeError(f"the Azure simulator did not start within {timeout_s}s")
        if failure:
            raise RuntimeError("the Azure simulator failed to start") from failure[0]
        return self

    def stop_thread(self, timeout_s: float = 30.0) -> None:
        if self._thread is None or self._thread_loop is None:
            return
        self._thread_loop.call_soon_threadsafe(self._thread_loop.stop)
        self._thread.join(timeout_s)
        self._thread = None
        self._thread_loop = None

    # ---- what clients need ---------------------------------------------------------------------------------
    @property
    def ca_file(self) -> str:
        """The simulator's CA certificate alone (e.g. for `connection_verify=` or SimAdmin)."""
        assert self.tls is not None, "start the simulator first"
        return self.tls.ca_file

    @property
    def ca_bundle_file(self) -> str:
        """System CAs plus the simulator's: what SSL_CERT_FILE / REQUESTS_CA_BUNDLE point at."""
        assert self.tls is not None, "start the simulator first"
        return self.tls.bundle_file

    @property
    def admin(self):
        from .admin import SimAdmin

        return SimAdmin(self.url, self.ca_file)

    def env(self, auth: str = "workload-identity") -> dict[str, str]:
        """Process environment for the operator: custom cloud endpoints, identity, and CA trust.

        auth: "workload-identity" (AZURE_FEDERATED_TOKEN_FILE, the production path on AKS) or "client-secret".
        """
        env = {"AZURE_CLOUD": "Custom", "PROMPTFLOW_NETISO_ARM_ENDPOINT": self.url, "AZURE_AUTHORITY_HOST": self.url,
               "AZURE_TENANT_ID": self.tenant_id, "AZURE_CLIENT_ID": self.client_id,
               "SSL_CERT_FILE": self.ca_bundle_file, "REQUESTS_CA_BUNDLE": self.ca_bundle_file}
        if auth == "workload-identity":
            env["AZURE_FEDERATED_TOKEN_FILE"] = self.federated_token_file
        elif auth == "client-secret":
            env["AZURE_CLIENT_SECRET"] = self.client_secret
        else:
            raise ValueError("auth must be 'workload-identity' or 'client-secret'")
        return env

    def info(self) -> dict[str, Any]:
        return {"url": self.url, "tenantId": self.tenant_id, "clientId": self.client_id,
                "clientObjectId": self.client_object_id, "caFile": self.ca_file, "caBundleFile": self.ca_bundle_file,
                "federatedTokenFile": self.federated_token_file, "clusterIssuer": self.entra.cluster_issuer if self.entra else "",
                "tokensIssued": self.entra.tokens_issued if self.entra else 0,
                "microsoftManagedSubscriptionId": MICROSOFT_MANAGED_SUBSCRIPTION_ID}

    def write_federated_token(self, path: str, subject: str = DEFAULT_SUBJECT, lifetime_s: int = 86400) -> str:
        """Write a projected service-account token for workload identity (blocking file write)."""
        assert self.entra is not None, "start the simulator first"
        token = self.entra.federated_token(subject=subject, lifetime_s=lifetime_s)
        tmp = f"{path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token)
        os.replace(tmp, path)  # atomic, like the kubelet's rotation
        return path

    def reset(self) -> None:
        """Forget the estate, faults, throttling state and request log; identities and TLS stay."""
        self.world.reset()
        self.faults.clear()
        self.throttle.reset()
        self.log.clear()
        self._register_default_client()

    def _register_default_client(self) -> None:
        assert self.entra is not None
        self.entra.register_app(self.client_id, self.client_object_id, self.client_secret,
                                [FederatedCredential(self.entra.cluster_issuer, DEFAULT_SUBJECT)])
        self.world.estate.principals[self.client_object_id.lower()] = "ServicePrincipal"

    def _load_estate(self, estate: Estate) -> None:
        self.world.estate = estate
        self.world.pe.estate = estate
        self.world.mn.estate = estate
        self.world.estate.principals[self.client_object_id.lower()] = "ServicePrincipal"

    # ---- request pipeline ----------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.world.scheduler.run_due()
        path, method = request.path, request.method
        if path.startswith("/_sim/"):
            assert self.admin_api is not None
            return await self.admin_api.handle(request)
        request_id = str(uuid.uuid4())
        assert self.entra is not None
        entra_handler = self.entra.match(method, path)
        if entra_handler is not None:
            response = await entra_handler(request)
            response.headers["x-ms-request-id"] = request_id
            self.log.add(service="entra", method=method, path=path, api_version=None, status=response.status,
                         request_id=request_id)
            return response
        info: dict[str, Any] = {}
        try:
            response = await self._arm(request, info)
        except ArmError as err:
            response = err.response()
        except _Dropped:
            self.log.add(service="arm", method=method, path=path, api_version=request.query.get("api-version"),
                         status=0, request_id=request_id, route=info.get("route"), principal=info.get("principal"),
                         fault="drop")
            if request.transport is not None:
                request.transport.close()  # the client sees the connection go away without an answer
            raise asyncio.CancelledError() from None
        except Exception:  # a simulator bug: still answer in ARM's envelope, and say so in the log
            log.exception("simulator failed on %s %s", method, path)
            response = ArmError(500, "InternalServerError", "The simulator failed; see its log.").response()
        response.headers["x-ms-request-id"] = request_id
        response.headers["x-ms-correlation-request-id"] = request.headers.get("x-ms-correlation-request-id", request_id)
        for name, value in info.get("headers", {}).items():
            response.headers.setdefault(name, value)
        self.log.add(service="arm", method=method, path=path, api_version=request.query.get("api-version"),
                     status=response.status, request_id=request_id, route=info.get("route"),
                     principal=info.get("principal"), fault=info.get("fault"), rules=request.get(LOGGED_RULES))
        return response

    async def _arm(self, request: web.Request, info: dict[str, Any]) -> web.Response:
        assert self.entra is not None
        method, path = request.method, request.path
        principal: Principal = self.entra.authenticate(request.headers.get("Authorization"))
        info["principal"] = principal.object_id
        route, match, path_known = self.router.match(method, path)
        if route is None or match is None:
            if path_known:
                raise ArmError(405, "MethodNotAllowed", f"The requested method '{method}' is not allowed for '{path}'.")
            raise ArmError(404, "NotFound", f"No route matches '{method} {path}'.")
        info["route"] = route.name
        params = match.groupdict()
        api_version = request.query.get("api-version", "")
        if route.api_versions is not None:
            if not api_version:
                raise ArmError(400, "MissingApiVersionParameter",
                               "The api-version query parameter (?api-version=) is required for all requests.")
            if api_version not in route.api_versions:
                raise ArmError(400, "NoRegisteredProviderFound",
                               f"No registered resource provider found for location 'eastus' and API version "
                               f"'{api_version}' for type '{route.resource_type.split('/', 1)[-1]}'. The supported "
                               f"api-versions are '{', '.join(sorted(route.api_versions))}'.")
        scope = route.scope(path, match)
        subscription = params.get("sub") or _subscription_of(scope)
        if subscription and self.world.config.throttle is not None:
            kind = kind_of(method)
            remaining, wait = self.throttle.take(self.world.config.throttle, subscription, principal.object_id, kind)
            header = f"x-ms-ratelimit-remaining-subscription-{kind}"
            if wait is not None:
                raise ArmError(429, "SubscriptionRequestsThrottled",
                               f"Number of '{kind[:-1]}' requests for subscription '{subscription}' actor "
                               f"'{principal.object_id}' exceeded. Please try again after '{retry_after_header(wait)}' "
                               "seconds after the additional tokens are available. Refer to https://aka.ms/arm-throttling",
                               headers={"Retry-After": retry_after_header(wait), header: "0"})
            info["headers"] = {header: str(remaining)}
        decision = self.faults.decide(route.name, method, path)
        stuck = None
        if decision is not None:
            if decision.delay_s:
                info["fault"] = "slow"
                await asyncio.sleep(decision.delay_s)
            stuck = decision.stuck_s
            if stuck is not None:
                info["fault"] = "stuck-lro"
            if decision.terminal is not None:
                info["fault"] = decision.terminal.kind
                _raise_fault(decision.terminal, subscription, principal)
        enforced = principal.object_id.lower() in self.world.rbac_principals
        if is_denied(self.world, principal.object_id, route.action, scope) or (
                enforced and not rbac.allows(self.world.estate, principal.object_id, route.action, scope)):
            raise ArmError(403, "AuthorizationFailed",
                           f"The client '{principal.object_id}' with object id '{principal.object_id}' does not have "
                           f"authorization to perform action '{route.action}' over scope '{scope}' or the scope is "
                           "invalid. If access was recently granted, please refresh your credentials.")
        base_url = f"{request.scheme}://{request.host}" if request.host else self.url
        ctx = Ctx(request=request, params=params, api_version=api_version, principal=principal, base_url=base_url,
                  stuck_lro=stuck)
        return await route.handler(ctx)


def _subscription_of(scope: str) -> str | None:
    parts = scope.strip("/").split("/")
    return parts[1] if len(parts) >= 2 and parts[0].lower() == "subscriptions" else None


def _raise_fault(rule, subscription: str | None, principal: Principal) -> None:
    if rule.kind == "drop":
        raise _Dropped()
    if rule.kind == "429":
        raise ArmError(429, "SubscriptionRequestsThrottled",
                       f"Number of requests for subscription '{subscription}' actor '{principal.object_id}' exceeded. "
                       f"Please try again after '{rule.retry_after_s}' seconds. Refer to https://aka.ms/arm-throttling",
                       headers={"Retry-After": str(rule.retry_after_s)})
    if rule.kind == "503":
        raise ArmError(503, "ServiceUnavailable", "The service is temporarily unavailable. Please retry later.",
                       headers={"Retry-After": str(rule.retry_after_s)})
    raise ArmError(500, "InternalServerError",
                   f"Encountered internal server error. Diagnostic information: timestamp "
                   f"'{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}', subscription id '{subscription}', tracking id "
                   f"'{uuid.uuid4()}', request correlation id '{uuid.uuid4()}'.")

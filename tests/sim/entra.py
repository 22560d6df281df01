"""Entra ID as azure-identity's real credential classes see it.

Serves OpenID discovery, instance discovery, JWKS and `/{tenant}/oauth2/v2.0/token` for client credentials with a
client secret or a client assertion (workload identity: a Kubernetes service-account token whose issuer, subject
and audience `api://AzureADTokenExchange` match a federated identity credential of the app). Issues RS256 JWT
access tokens with a configurable lifetime and validates them for the ARM side.
"""

from __future__ import annotations

import datetime as dt
import hmac
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from aiohttp import web

from .armhttp import ArmError, Principal, dumps
from .tokens import Signer, TokenError, Verifier, unverified_claims, verify

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
DEFAULT_SUBJECT = "system:serviceaccount:promptflow-netiso:promptflow-netiso"
PUBLIC_ARM_AUDIENCES = ("https://management.azure.com", "https://management.core.windows.net")


@dataclass
class FederatedCredential:
    issuer: str
    subject: str
    audience: str = TOKEN_EXCHANGE_AUDIENCE


@dataclass
class AppRegistration:
    client_id: str
    object_id: str  # the service principal's object ID: `oid` in tokens, principalId in role assignments
    secret: str | None = None
    federated: list[FederatedCredential] = field(default_factory=list)


def _iso_utc(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%m/%d/%Y %H:%M:%S")


class Entra:
    def __init__(self, tenant_id: str, signer: Signer, cluster_signer: Signer, config):
        self.tenant_id = tenant_id
        self.signer = signer  # Entra's token-signing key
        self.cluster_signer = cluster_signer  # the simulated Kubernetes service-account issuer's key
        self.config = config
        self._base_url = ""
        self._audiences: frozenset[str] = frozenset()
        self.apps: dict[str, AppRegistration] = {}
        self.external_issuers: dict[str, list[Verifier]] = {}  # issuer -> keys (e.g. a real kube-apiserver's JWKS)
        self.tokens_issued = 0
        self._valid: dict[str, tuple[float, Principal]] = {}  # access token -> (exp, principal): skip re-verifying

    # ---- identities ----------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self._base_url

    @base_url.setter
    def base_url(self, url: str) -> None:
        """Set once the server listens; fixes the ARM audiences tokens are issued for and accepted with."""
        self._base_url = url
        port = urlparse(url).port
        hosts = {url, f"https://localhost:{port}", f"https://127.0.0.1:{port}", *PUBLIC_ARM_AUDIENCES}
        self._audiences = frozenset(hosts | {h + "/" for h in hosts})

    @property
    def cluster_issuer(self) -> str:
        return f"{self.base_url}/oidc-issuer"

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{self.tenant_id}"

    def register_app(self, client_id: str, object_id: str, secret: str | None,
                     federated: list[FederatedCredential] | None = None) -> AppRegistration:
        app = AppRegistration(client_id, object_id, secret, list(federated or []))
        self.apps[client_id.lower()] = app
        return app

    def trust_issuer(self, issuer: str, jwks: dict[str, Any]) -> None:
        self.external_issuers[issuer.rstrip("/")] = [Verifier.from_jwk(k) for k in jwks.get("keys", [])]

    def federated_token(self, subject: str = DEFAULT_SUBJECT, lifetime_s: int = 86400,
                        audience: str = TOKEN_EXCHANGE_AUDIENCE) -> str:
        """A service-account token as the kubelet projects it for workload identity."""
        now = int(time.time())
        parts = subject.split(":")  # system:serviceaccount:<namespace>:<name>
        claims = {"iss": self.cluster_issuer, "sub": subject, "aud": [audience], "iat": now, "nbf": now,
                  "exp": now + lifetime_s}
        if len(parts) == 4:
            claims["kubernetes.io"] = {"namespace": parts[2], "serviceaccount": {"name": parts[3]}}
        return self.cluster_signer.sign(claims)

    def audiences(self) -> frozenset[str]:
        return self._audiences

    # ---- HTTP ----------------------------------------------------------------------------------------------
    def match(self, method: str, path: str):
        parts = path.strip("/").split("/")
        if method == "GET" and parts[-2:] == [".well-known", "openid-configuration"]:
            return self.openid_configuration if parts[0] != "oidc-issuer" else self.cluster_openid_configuration
        if method == "GET" and parts == ["common", "discovery", "instance"]:
            return self.instance_discovery
        if method == "GET" and len(parts) == 4 and parts[1:] == ["discovery", "v2.0", "keys"]:
            return self.jwks
        if method == "GET" and parts == ["oidc-issuer", "openid", "v1", "jwks"]:
            return self.cluster_jwks
        if method == "POST" and len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            return self.token
        return None

    async def openid_configuration(self, request: web.Request) -> web.Response:
        tenant = request.path.strip("/").split("/")[0]
        base = f"{self.base_url}/{tenant}"
        host = urlparse(self.base_url).netloc
        body = {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{self.base_url}/{self.tenant_id}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.base_url}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "oid", "tid"],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "NA",
            "cloud_instance_name": host,
            "cloud_graph_host_name": host,
            "msgraph_host": host,
            "rbac_url": self.base_url,
        }
        return _json(200, body)

    async def instance_discovery(self, request: web.Request) -> web.Response:
        host = urlparse(self.base_url).netloc
        return _json(200, {"tenant_discovery_endpoint": f"{self.base_url}/{self.tenant_id}/v2.0/.well-known/openid-configuration",
                           "api-version": "1.1",
                           "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]})

    async def jwks(self, request: web.Request) -> web.Response:
        return _json(200, {"keys": [self.signer.verifier.jwk()]})

    async def cluster_openid_configuration(self, request: web.Request) -> web.Response:
        return _json(200, {"issuer": self.cluster_issuer, "jwks_uri": f"{self.cluster_issuer}/openid/v1/jwks",
                           "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
                           "id_token_signing_alg_values_supported": [self.cluster_signer.algorithm]})

    async def cluster_jwks(self, request: web.Request) -> web.Response:
        return _json(200, {"keys": [self.cluster_signer.verifier.jwk()]})

    async def token(self, request: web.Request) -> web.Response:
        tenant = request.path.strip("/").split("/")[0]
        form = await request.post()
        if tenant.lower() != self.tenant_id.lower():
            return _oauth_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found. Check to make sure you "
                                "have the correct tenant ID and are signing into the correct cloud.")
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", 70003,
                                f"The app requested an unsupported grant type '{form.get('grant_type')}'.")
        client_id = str(form.get("client_id", ""))
        app = self.apps.get(client_id.lower())
        if app is None:
            return _oauth_error(400, "unauthorized_client", 700016,
                                f"Application with identifier '{client_id}' was not found in the directory "
                                f"'{self.tenant_id}'.")
        scope = str(form.get("scope", ""))
        resource = scope.split(" ")[0].removesuffix("/.default")
        if not scope.endswith("/.default") or resource not in self.audiences():
            return _oauth_error(400, "invalid_resource", 500011,
                                f"The resource principal named {resource} was not found in the tenant named {self.tenant_id}.")
        failure = self._authenticate_client(app, form)
        if failure is not None:
            return failure
        lifetime = int(self.config.token_lifetime_s)
        now = int(time.time())
        claims = {"aud": resource, "iss": f"{self.base_url}/{self.tenant_id}/", "iat": now, "nbf": now,
                  "exp": now + lifetime, "appid": app.client_id, "appidacr": "1", "idtyp": "app", "oid": app.object_id,
                  "sub": app.object_id, "tid": self.tenant_id, "uti": uuid.uuid4().hex, "ver": "1.0"}
        self.tokens_issued += 1
        return _json(200, {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                           "access_token": self.signer.sign(claims)})

    def _authenticate_client(self, app: AppRegistration, form) -> web.Response | None:
        if "client_secret" in form:
            if app.secret is None or not hmac.compare_digest(str(form["client_secret"]), app.secret):
                return _oauth_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret "
                                    f"being sent in the request is the client secret value, not the client secret ID, "
                                    f"for a secret added to app '{app.client_id}'.")
            return None
        if form.get("client_assertion_type") != JWT_BEARER or "client_assertion" not in form:
            return _oauth_error(401, "invalid_client", 7000218, "The request body must contain the following parameter: "
                                "'client_assertion' or 'client_secret'.")
        assertion = str(form["client_assertion"])
        try:
            _, claims = unverified_claims(assertion)
        except TokenError:
            return _oauth_error(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
        issuer, subject = str(claims.get("iss", "")).rstrip("/"), claims.get("sub")
        audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
        fic = next((f for f in app.federated if f.issuer.rstrip("/") == issuer and f.subject == subject
                    and f.audience in audiences), None)
        if fic is None:
            return _oauth_error(400, "invalid_client", 70021, "No matching federated identity record found for "
                                f"presented assertion. Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. "
                                f"Assertion Audience: '{','.join(str(a) for a in audiences)}'.")
        keys = [self.cluster_signer.verifier] if issuer == self.cluster_issuer else self.external_issuers.get(issuer, [])
        try:
            verify(assertion, keys, leeway_s=0)
        except TokenError as err:
            if err.reason == "expired":
                return _oauth_error(400, "invalid_client", 700024, "Client assertion is not within its valid time range.")
            return _oauth_error(400, "invalid_client", 5002738, f"Invalid JWT token. {err}")
        return None

    # ---- ARM side ------------------------------------------------------------------------------------------
    def authenticate(self, header: str | None) -> Principal:
        """The caller behind an ARM request, or ArmError 401 the way ARM phrases it."""
        if not header:
            raise self._unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
                                     "The authentication failed because of missing 'Authorization' header.")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise self._unauthorized("AuthenticationFailed",
                                     "Authentication failed. The 'Authorization' header is provided in an invalid format.",
                                     "The authentication failed because of invalid 'Authorization' header format.")
        now = time.time()
        cached = self._valid.get(token)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            claims = verify(token, [self.signer.verifier], now=now)
        except TokenError as err:
            if err.reason == "expired":
                exp = float(err.claims.get("exp", 0))
                raise self._unauthorized("ExpiredAuthenticationToken",
                                         f"The access token expiry UTC time '{_iso_utc(exp)}' is earlier than current "
                                         f"UTC time '{_iso_utc(now)}'.", "The access token has expired.") from None
            raise self._unauthorized("InvalidAuthenticationToken", "The access token is invalid.",
                                     "The access token is invalid.") from None
        if claims.get("aud") not in self.audiences():
            raise self._unauthorized("InvalidAuthenticationTokenAudience",
                                     f"The access token has been obtained for wrong audience or resource "
                                     f"'{claims.get('aud')}'. It should exactly match with one of the allowed audiences "
                                     f"'{self.base_url}/'.", "The access token audience is invalid.")
        if str(claims.get("tid", "")).lower() != self.tenant_id.lower():
            raise self._unauthorized("InvalidAuthenticationTokenTenant",
                                     f"The access token is from the wrong issuer '{claims.get('iss')}'.",
                                     "The access token tenant is invalid.")
        principal = Principal(object_id=claims["oid"], client_id=claims.get("appid", ""), tenant_id=claims["tid"])
        if len(self._valid) > 10_000:
            self._valid.clear()
        self._valid[token] = (float(claims["exp"]), principal)
        return principal

    def _unauthorized(self, code: str, message: str, description: str) -> ArmError:
        challenge = (f'Bearer authorization_uri="{self.authority}", error="invalid_token", '
                     f'error_description="{description}"')
        return ArmError(401, code, message, headers={"WWW-Authenticate": challenge})


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, text=dumps(body), content_type="application/json", charset="utf-8",
                        headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})


def _oauth_error(status: int, error: str, code: int, description: str) -> web.Response:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    return _json(status, {"error": error,
                          "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: "
                                               f"{correlation} Timestamp: {stamp}",
                          "error_codes": [code], "timestamp": stamp, "trace_id": trace, "correlation_id": correlation})

"""ARM manners shared by every route: the error envelope, JSON responses, request context."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_JSON = "application/json; charset=utf-8"


def dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


def json_response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> web.Response:
    if body is None:
        return web.Response(status=status, headers=headers)
    return web.Response(status=status, text=dumps(body), content_type="application/json", charset="utf-8",
                        headers=headers)


def error_body(code: str, message: str, target: str | None = None, details: list[dict] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if target:
        error["target"] = target
    error["details"] = details or []
    return {"error": error}


class ArmError(Exception):
    """Raised anywhere in a handler; becomes `{"error": {code, message, details}}` with the status."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                 target: str | None = None):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.target = target

    def response(self) -> web.Response:
        return json_response(self.status, error_body(self.code, self.message, self.target), self.headers)


def not_found(resource_type: str, name: str, resource_group: str) -> ArmError:
    return ArmError(404, "ResourceNotFound",
                    f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found. "
                    "For more details please go to https://aka.ms/ARMResourceNotFoundFix")


def bad_request(message: str, code: str = "InvalidRequestContent") -> ArmError:
    return ArmError(400, code, message)


def user_error(message: str) -> ArmError:
    """Azure ML's own validation failures use the generic UserError code."""
    return ArmError(400, "UserError", message)


@dataclass
class Principal:
    object_id: str
    client_id: str
    tenant_id: str


@dataclass
class Ctx:
    """Everything a route handler needs about one ARM request."""

    request: web.Request
    params: dict[str, str]
    api_version: str
    principal: Principal
    base_url: str  # scheme://host:port as the client addressed us: used to build Location / nextLink
    stuck_lro: float | None = None  # a fault asked that operations this request starts stay running this long (inf: forever)
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers set by the pipeline

    async def json(self) -> dict[str, Any]:
        raw = await self.request.read()
        if not raw:
            raise bad_request("The request content was invalid and could not be deserialized: missing body.")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise bad_request(f"The request content was invalid and could not be deserialized: {exc}.") from exc
        if not isinstance(body, dict):
            raise bad_request("The request content was invalid and could not be deserialized: expected a JSON object.")
        return body

    def url(self, path: str, api_version: str | None = None, **query: str) -> str:
        q = {"api-version": api_version or self.api_version, **query}
        return f"{self.base_url}{path}?" + "&".join(f"{k}={v}" for k, v in q.items())

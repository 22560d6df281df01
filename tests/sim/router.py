"""ARM-style routing: case-insensitive path patterns, per-route api-versions, RBAC action and scope."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiohttp import web

from .armhttp import Ctx

Handler = Callable[[Ctx], Awaitable[web.Response]]

SUB = r"/subscriptions/(?P<sub>[^/]+)"
RG = SUB + r"/resourceGroups/(?P<rg>[^/]+)"


@dataclass(frozen=True)
class Route:
    name: str  # stable name used in the request log and by fault rules
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    api_versions: frozenset[str] | None  # None: any (operation polls carry whatever the poller was given)
    resource_type: str  # for NoRegisteredProviderFound messages and RBAC actions, e.g. Microsoft.Storage/storageAccounts
    action: str  # RBAC action checked against deny rules, e.g. Microsoft.Storage/storageAccounts/read
    scope_group: str = ""  # regex group holding an explicit scope (role assignments); else the path is the scope

    def scope(self, path: str, match: re.Match[str]) -> str:
        return match[self.scope_group] if self.scope_group else path


class Router:
    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, name: str, method: str, pattern: str, handler: Handler, api_versions: frozenset[str] | None,
            resource_type: str, action: str | None = None, scope_group: str = "") -> None:
        verb = {"GET": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete", "POST": "action"}[method]
        self._routes.append(Route(name, method, re.compile("^" + pattern + "/?$", re.IGNORECASE), handler,
                                  api_versions, resource_type, action or f"{resource_type}/{verb}", scope_group))

    def match(self, method: str, path: str) -> tuple[Route | None, re.Match[str] | None, bool]:
        """(route, match, path_known). path_known without a route means the method is not allowed."""
        path_known = False
        for route in self._routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            if route.method == method:
                return route, m, True
            path_known = True
        return None, None, path_known

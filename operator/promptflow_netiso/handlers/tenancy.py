"""Tenancy (docs/tenancy.md): what the handlers of every kind ask before they call Azure.

- `refusal(...)`: may this object's namespace name these Azure scopes (its AzureScopeGrant `default`, read through a
  kopf index: no API call per reconcile), and is this PromptFlowWorkspace the one owner of its Azure workspace.
- `azure_for(memo, namespace, grants)`: the Azure facade for that namespace: its own identity when its grant names one
  (TokenRequest for the ServiceAccount, exchanged with Entra ID), else the operator's.
- `report(...)`: the Warning Event, posted when the refusal is new (not on every drift check).
The decisions themselves are pure (planning/tenancy.py).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
from typing import Any, Iterable, Mapping

import kopf
from azure.core.exceptions import ClientAuthenticationError

from ..azure.identities import ExchangedTokenCredential
from ..model import GROUP, PLURAL_WORKSPACE, VERSION, arm_id
from ..model.common import CONDITION_READY, SpecError
from ..model.grant import GRANT_NAME, PLURAL_GRANT, TOKEN_EXCHANGE_AUDIENCE, GrantIdentity, GrantSpec
from ..model.workspace import WorkspaceSpec
from ..planning import tenancy as planning
from ..planning.tenancy import Claim, Refusal
from . import kube_client
from .common import azure_from, post_event

log = logging.getLogger(__name__)

# Service-account tokens the operator requests live this long (the API server's minimum is 10 minutes); one is
# requested only when Entra ID must be asked for a new ARM token (about once an hour per namespace identity).
SERVICE_ACCOUNT_TOKEN_SECONDS = 600
MAX_NAMESPACE_IDENTITIES = 256  # facades kept (least recently used closed first): bounded memory


# --- indexes: grants by namespace, claims by Azure workspace -----------------------------------------------------------


@kopf.index(GROUP, VERSION, PLURAL_GRANT)
async def azure_scope_grants(namespace: str, name: str, spec: Mapping, **_: Any) -> dict | None:
    """namespace -> GrantSpec (or the SpecError explaining why it is unusable: then nothing is granted)."""
    if name != GRANT_NAME:
        return None
    try:
        return {namespace: GrantSpec.from_dict(spec)}
    except SpecError as e:
        return {namespace: e}


@kopf.index(GROUP, VERSION, PLURAL_WORKSPACE)
async def azure_workspace_claims(namespace: str, name: str, uid: str, spec: Mapping, meta: Mapping,
                                 **_: Any) -> dict | None:
    """Lower-cased Azure workspace ID -> the PromptFlowWorkspace objects naming it (one of them owns it)."""
    try:
        coords = WorkspaceSpec.from_dict(spec).coordinates
    except SpecError:
        return None
    key = arm_id.key(planning.workspace_id(*coords))
    return {key: Claim(namespace, name, uid, str(meta.get("creationTimestamp") or ""))}


def grant_of(grants: Mapping | None, namespace: str) -> GrantSpec | None:
    found = next(iter((grants or {}).get(namespace, [])), None)
    return found if isinstance(found, GrantSpec) else None


# --- the checks --------------------------------------------------------------------------------------------------------


def refusal(grants: Mapping | None, namespace: str, wanted: Iterable[tuple[tuple[str, str], str]]) -> Refusal | None:
    return planning.check_scopes(grant_of(grants, namespace), namespace, wanted)


def workspace_refusal(grants: Mapping | None, claims: Mapping | None, namespace: str, uid: str,
                      spec: WorkspaceSpec) -> Refusal | None:
    """The workspace itself, and what a bring-your-own network names (its VNet, its AKS cluster), must lie in the
    namespace's spec.workspaces; then the object must be the owner of the Azure workspace."""
    azure_id = planning.workspace_id(*spec.coordinates)
    wanted = [(planning.WORKSPACE_FIELD, azure_id)]
    if spec.network.virtual_network_id:
        wanted.append(((planning.WORKSPACES, "spec.network.virtualNetworkId"), spec.network.virtual_network_id))
    if spec.deployment_target.aks_cluster_id:
        wanted.append(((planning.WORKSPACES, "spec.deploymentTarget.aksClusterId"), spec.deployment_target.aks_cluster_id))
    refused = refusal(grants, namespace, wanted)
    if refused is not None:
        return refused
    return planning.conflict((claims or {}).get(arm_id.key(azure_id), []), uid, azure_id)


def report(body: Any, previous_conditions: Iterable[Mapping] | None, refused: Refusal) -> None:
    """A Warning Event when the object was not already refused for the same reason (no Event per drift check)."""
    ready = next((c for c in previous_conditions or () if c.get("type") == CONDITION_READY), {})
    if (ready.get("status"), ready.get("reason"), ready.get("message")) != ("False", refused.reason, refused.message):
        post_event(body, "Warning", refused.reason, refused.message)
        log.warning("%s/%s refused: %s", body.meta.get("namespace"), body.meta.get("name"), refused.message)


# --- per-namespace identity ----------------------------------------------------------------------------------------------


_facades: "collections.OrderedDict[tuple[str, GrantIdentity], Any]" = collections.OrderedDict()


def azure_for(memo: kopf.Memo, namespace: str, grants: Mapping | None) -> Any:
    """The Azure facade this namespace's objects use: its own identity if its grant names one, else the operator's."""
    grant = grant_of(grants, namespace)
    if grant is None or grant.identity is None:
        return azure_from(memo)
    key = (namespace, grant.identity)
    facade = _facades.get(key)
    if facade is not None:
        _facades.move_to_end(key)
        return facade
    base = azure_from(memo)
    identity = grant.identity
    tenant = identity.tenant_id or os.environ.get("AZURE_TENANT_ID", "organizations")
    credential = ExchangedTokenCredential(tenant, identity.client_id, _token_source(namespace, identity.service_account_name),
                                          **base.credential_options())
    facade = _facades[key] = base.with_credential(credential)
    log.info("namespace %s reaches Azure as client %s (ServiceAccount %s)", namespace, identity.client_id,
             identity.service_account_name)
    for stale in [k for k in _facades if k[0] == namespace and k != key]:  # the grant changed its identity
        _close_later(_facades.pop(stale))
    while len(_facades) > MAX_NAMESPACE_IDENTITIES:
        _close_later(_facades.popitem(last=False)[1])
    return facade


def _close_later(facade: Any) -> None:
    task = asyncio.ensure_future(facade.close())
    task.add_done_callback(lambda t: t.cancelled() or t.exception())


async def close_all() -> None:
    facades = list(_facades.values())
    _facades.clear()
    for facade in facades:
        await facade.close()


def _token_source(namespace: str, service_account: str):
    async def assertion() -> str:
        try:
            return await request_service_account_token(namespace, service_account)
        except Exception as e:  # no right to mint it, no such ServiceAccount, API server down: report it as auth
            raise ClientAuthenticationError(
                message=f"TokenRequest for ServiceAccount {namespace}/{service_account} failed: {e}") from e
    return assertion


async def request_service_account_token(namespace: str, service_account: str) -> str:
    """TokenRequest (serviceaccounts/token create): a short-lived token for Entra ID's federated credential."""
    # All of it on a worker thread: kubernetes 37 imports CoreV1Api and the models on first use (seconds of setup).
    return await asyncio.to_thread(_token_request, await kube_client.api_client(), namespace, service_account)


def _token_request(api_client: Any, namespace: str, service_account: str) -> str:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    body = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(
        audiences=[TOKEN_EXCHANGE_AUDIENCE], expiration_seconds=SERVICE_ACCOUNT_TOKEN_SECONDS))
    try:
        result = client.CoreV1Api(api_client).create_namespaced_service_account_token(service_account, namespace, body)
    except ApiException as e:
        raise RuntimeError(f"{e.status} {e.reason}: {(e.body or '')[:300]}") from None
    return result.status.token

"""Role assignments through azure-mgmt-authorization's async client (2022-04-01) with a real ClientSecretCredential."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import pytest_asyncio
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.authorization.aio import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

from .helpers import scopes, secret_credential

FILE_PRIVILEGED = "69566ab7-960f-475b-8e7c-b3118f30c6bd"
TABLE_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"


def _role(sub: str, role_id: str) -> str:
    return f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role_id}"


@pytest_asyncio.fixture(loop_scope="function")  # same loop as the test using the client
async def auth_client(azure_sim, sim_names):
    credential = secret_credential(azure_sim)
    client = AuthorizationManagementClient(credential, sim_names[0], base_url=azure_sim.url,
                                           credential_scopes=scopes(azure_sim), connection_verify=azure_sim.ca_file)
    async with credential, client:
        yield client


@pytest.fixture
def storage_scope(sim_admin, sim_names):
    sub, rg = sim_names
    ws = sim_admin.seed_workspace(sub, rg, "wsroles")
    return ws["properties"]["storageAccount"], ws["identity"]["principalId"]


async def test_create_get_delete_role_assignment(auth_client, storage_scope, sim_names):
    scope, principal = storage_scope
    name = str(uuid.uuid4())
    params = RoleAssignmentCreateParameters(role_definition_id=_role(sim_names[0], FILE_PRIVILEGED),
                                            principal_id=principal, principal_type="ServicePrincipal")
    created = await auth_client.role_assignments.create(scope, name, params)
    assert created.name == name and created.principal_id == principal and created.scope.lower() == scope.lower()
    fetched = await auth_client.role_assignments.get(scope, name)
    assert fetched.id == created.id
    same_again = await auth_client.role_assignments.create(scope, name, params)  # idempotent PUT: 200
    assert same_again.id == created.id
    listed = [a.name async for a in auth_client.role_assignments.list_for_scope(scope, filter=f"principalId eq '{principal}'")]
    assert listed == [name]
    await auth_client.role_assignments.delete(scope, name)
    with pytest.raises(ResourceNotFoundError):
        await auth_client.role_assignments.get(scope, name)


async def test_same_role_principal_and_scope_under_another_name_conflicts(auth_client, storage_scope, sim_names,
                                                                            sim_admin):
    scope, principal = storage_scope
    params = RoleAssignmentCreateParameters(role_definition_id=_role(sim_names[0], TABLE_CONTRIBUTOR),
                                            principal_id=principal)
    await auth_client.role_assignments.create(scope, str(uuid.uuid4()), params)
    with pytest.raises(ResourceExistsError) as err:
        await auth_client.role_assignments.create(scope, str(uuid.uuid4()), params)
    assert err.value.status_code == 409
    assert err.value.error.code == "RoleAssignmentExists"
    entries = await asyncio.to_thread(sim_admin.requests)
    puts = [r["status"] for r in entries if r["method"] == "PUT" and r["path"].startswith(scope)]
    assert puts == [201, 409]


async def test_caller_without_rights_gets_authorization_failed(auth_client, storage_scope, sim_names, sim_admin):
    scope, principal = storage_scope
    await asyncio.to_thread(sim_admin.deny, scope, ["Microsoft.Authorization/roleAssignments/write"])
    params = RoleAssignmentCreateParameters(role_definition_id=_role(sim_names[0], FILE_PRIVILEGED), principal_id=principal)
    with pytest.raises(HttpResponseError) as err:
        await auth_client.role_assignments.create(scope, str(uuid.uuid4()), params)
    assert err.value.status_code == 403
    assert err.value.error.code == "AuthorizationFailed"
    assert "Microsoft.Authorization/roleAssignments/write" in err.value.error.message
    assert await asyncio.to_thread(sim_admin.grant, scope) == 1
    created = await auth_client.role_assignments.create(scope, str(uuid.uuid4()), params)
    assert created.principal_id == principal


async def test_unknown_principal_and_role_are_rejected(auth_client, storage_scope, sim_names):
    scope, _ = storage_scope
    with pytest.raises(HttpResponseError) as no_principal:
        await auth_client.role_assignments.create(scope, str(uuid.uuid4()), RoleAssignmentCreateParameters(
            role_definition_id=_role(sim_names[0], FILE_PRIVILEGED), principal_id=str(uuid.uuid4())))
    with pytest.raises(HttpResponseError) as no_role:
        await auth_client.role_assignments.create(scope, str(uuid.uuid4()), RoleAssignmentCreateParameters(
            role_definition_id=_role(sim_names[0], str(uuid.uuid4())), principal_id=storage_scope[1]))
    assert (no_principal.value.status_code, no_principal.value.error.code) == (400, "PrincipalNotFound")
    assert (no_role.value.status_code, no_role.value.error.code) == (400, "RoleDefinitionDoesNotExist")

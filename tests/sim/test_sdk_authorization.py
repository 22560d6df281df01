"""Role assignments through azure-mgmt-authorization's async client (2022-04-01) with a real ClientSecretCredential."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import pytest_asyncio
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.authorization.aio import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

from .admin import SimAdminError
from .constants import BUILTIN_ROLES
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


async def test_list_filters_are_the_documented_ones(auth_client, storage_scope, sim_names):
    """principalId eq: at, above and below the scope; atScope() and assignedTo(): at or above only; a combination ARM
    refuses (atScope() with principalId eq) is refused here too."""
    storage, principal = storage_scope
    sub, rg = sim_names
    group = f"/subscriptions/{sub}/resourceGroups/{rg}"
    on_storage = await auth_client.role_assignments.create(storage, str(uuid.uuid4()), RoleAssignmentCreateParameters(
        role_definition_id=_role(sub, FILE_PRIVILEGED), principal_id=principal))
    on_group = await auth_client.role_assignments.create(group, str(uuid.uuid4()), RoleAssignmentCreateParameters(
        role_definition_id=_role(sub, TABLE_CONTRIBUTOR), principal_id=principal))

    async def names(scope: str, flt: str) -> set[str]:
        return {a.name async for a in auth_client.role_assignments.list_for_scope(scope, filter=flt)}

    assert await names(group, f"principalId eq '{principal}'") == {on_storage.name, on_group.name}
    assert await names(group, f"atScope() and assignedTo('{principal}')") == {on_group.name}
    assert await names(storage, f"atScope() and assignedTo('{principal}')") == {on_storage.name, on_group.name}
    assert await names(storage, f"assignedTo('{uuid.uuid4()}')") == set()
    with pytest.raises(HttpResponseError) as refused:
        await names(storage, f"atScope() and principalId eq '{principal}'")
    assert (refused.value.status_code, refused.value.error.code) == (400, "UnsupportedQuery")
    assert "Supported filters are either 'atScope()'" in refused.value.error.message


async def test_list_is_paged_and_the_next_link_keeps_the_filter(auth_client, storage_scope, sim_names, sim_admin):
    storage, principal = storage_scope
    sub = sim_names[0]
    size = (await asyncio.to_thread(sim_admin.config))["pageSize"]
    roles = [r for r in BUILTIN_ROLES if r != "0b5fe924-9a61-425c-96af-cfe6e287ca2d"][:size + 1]
    made = {(await auth_client.role_assignments.create(storage, str(uuid.uuid4()), RoleAssignmentCreateParameters(
        role_definition_id=_role(sub, r), principal_id=principal))).name for r in roles}
    # Another principal's grant on the same scope: the filter must survive onto the second page.
    await auth_client.role_assignments.create(storage, str(uuid.uuid4()), RoleAssignmentCreateParameters(
        role_definition_id=_role(sub, roles[0]), principal_id=(await asyncio.to_thread(sim_admin.info))["clientObjectId"]))
    mark = await asyncio.to_thread(sim_admin.last_request_seq)
    listed = [a.name async for a in auth_client.role_assignments.list_for_scope(
        storage, filter=f"atScope() and assignedTo('{principal}')")]
    assert sorted(listed) == sorted(made)
    pages = [r for r in await asyncio.to_thread(sim_admin.requests, mark) if r["route"] == "roles.list"]
    assert len(pages) == 2


async def test_admin_grants_lists_and_deletes_assignments_behind_the_callers_back(auth_client, storage_scope, sim_names,
                                                                             sim_admin):
    storage, principal = storage_scope
    created = await auth_client.role_assignments.create(storage, str(uuid.uuid4()), RoleAssignmentCreateParameters(
        role_definition_id=_role(sim_names[0], FILE_PRIVILEGED), principal_id=principal))
    seen = await asyncio.to_thread(sim_admin.role_assignments, f"/subscriptions/{sim_names[0]}", principal)
    assert [a["id"] for a in seen] == [created.id]
    mark = await asyncio.to_thread(sim_admin.last_request_seq)
    removed = await asyncio.to_thread(sim_admin.delete_role_assignment, created.id)
    assert removed["name"] == created.name
    with pytest.raises(ResourceNotFoundError):
        await auth_client.role_assignments.get(storage, created.name)
    assert [r["method"] for r in await asyncio.to_thread(sim_admin.requests, mark)] == ["GET"]  # the deletion left no ARM trace
    with pytest.raises(SimAdminError):
        await asyncio.to_thread(sim_admin.delete_role_assignment, created.id)

    by_hand = await asyncio.to_thread(sim_admin.seed_role_assignment, storage, TABLE_CONTRIBUTOR, principal)
    fetched = await auth_client.role_assignments.get(storage, by_hand["name"])
    assert (fetched.principal_id, fetched.role_definition_id) == (principal, _role(sim_names[0], TABLE_CONTRIBUTOR))
    with pytest.raises(ResourceExistsError):  # ARM sees it like any other grant
        await auth_client.role_assignments.create(storage, str(uuid.uuid4()), RoleAssignmentCreateParameters(
            role_definition_id=_role(sim_names[0], TABLE_CONTRIBUTOR), principal_id=principal))

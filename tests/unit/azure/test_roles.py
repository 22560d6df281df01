"""Role assignment names are deterministic, so a retry never creates a second assignment; a drift check reads what
Azure really grants the principal at or above the storage account in one listing."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from promptflow_netiso.azure.errors import AzureError, ErrorKind
from promptflow_netiso.azure.roles import (
    ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR,
    ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR,
    Assignment,
    assignment_name,
    covers,
    existing_assignment_name,
    role_definition_id,
)

from .examples import example
from .fake_arm import ARM, FakeArm, Reply, arm_error, fake_azure

SCOPE = "/subscriptions/a925f2f7-5c63-4b7b-8799-25a5f97bc3b2/resourceGroups/testrg/providers/Microsoft.Storage/storageAccounts/st1"
PRINCIPAL = "ce2ce14e-85d7-4629-bdbc-454d0519d987"


def test_name_is_a_stable_guid():
    name = assignment_name(SCOPE, ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR, PRINCIPAL)
    assert str(uuid.UUID(name)) == name
    assert name == assignment_name(SCOPE, ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR, PRINCIPAL)
    # Pinned: a change here would make every running operator forget the assignments it created.
    assert name == str(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, "https://netiso.promptflow.dev/role-assignments"),
                                  f"{SCOPE.lower()}|{ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR}|{PRINCIPAL}"))


def test_name_ignores_letter_case_and_id_form():
    full_role = f"/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/{ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR.upper()}"
    assert assignment_name(SCOPE.upper() + "/", full_role, PRINCIPAL.upper()) == assignment_name(SCOPE, ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, PRINCIPAL)


@pytest.mark.parametrize(
    "other",
    [
        (SCOPE + "2", ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, PRINCIPAL),
        (SCOPE, ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR, PRINCIPAL),
        (SCOPE, ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, str(uuid.uuid4())),
    ],
)
def test_different_grants_get_different_names(other):
    assert assignment_name(*other) != assignment_name(SCOPE, ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, PRINCIPAL)


def test_role_definition_id_matches_the_official_request_shape():
    request = example("authorization/roleAssignments_createForResource_2022-04-01.json")["parameters"]
    sub = request["scope"].split("/")[1]
    role = request["parameters"]["properties"]["roleDefinitionId"].rsplit("/", 1)[-1]
    assert role_definition_id("/" + request["scope"], role) == request["parameters"]["properties"]["roleDefinitionId"]
    assert f"/subscriptions/{sub}/" in role_definition_id(SCOPE.replace("a925f2f7-5c63-4b7b-8799-25a5f97bc3b2", sub), role)


def test_existing_assignment_named_in_the_409_message():
    message = "The role assignment already exists. The ID of the existing role assignment is 0e1a0f4a9d4c4a4e9d4b2d5c1e8f7a6b."
    assert existing_assignment_name(message) == "0e1a0f4a-9d4c-4a4e-9d4b-2d5c1e8f7a6b"
    assert existing_assignment_name("The role assignment already exists.") is None


def test_builtin_role_ids():
    assert ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR == "69566ab7-960f-475b-8e7c-b3118f30c6bd"
    assert ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR == "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"


# --- list_for_principal: what a drift check reads ---------------------------------------------------------------


def _listed(name: str, role: str, scope: str, principal: str = PRINCIPAL) -> dict:
    sub = SCOPE.split("/")[2]
    return {"id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                           "principalId": principal, "principalType": "ServicePrincipal", "scope": scope}}


async def test_list_for_principal_follows_next_link_and_keeps_only_what_applies_to_the_scope():
    base = f"{SCOPE}/providers/Microsoft.Authorization/roleAssignments"
    rg = SCOPE.split("/providers/")[0]
    container = f"{SCOPE}/blobServices/default/containers/c1"
    next_link = f"{ARM}{base}?api-version=2022-04-01&%24skipToken=page2&%24filter=ignored"
    arm = FakeArm().on(
        "GET", base,
        Reply(200, {"value": [_listed("mine", ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR, SCOPE)], "nextLink": next_link}),
        Reply(200, {"value": [_listed("inherited", ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, rg),
                              _listed("below", ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, container),
                              _listed("sibling", ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, SCOPE + "2")]}),
    )
    async with fake_azure(arm) as azure:
        found = await azure.roles.list_for_principal(SCOPE, PRINCIPAL)

    assert found == [
        Assignment("mine", f"/subscriptions/{SCOPE.split('/')[2]}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR}", SCOPE, PRINCIPAL),
        Assignment("inherited", f"/subscriptions/{SCOPE.split('/')[2]}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR}", rg, PRINCIPAL),
    ]
    first, second = arm.calls("GET", base)
    query = parse_qs(urlsplit(first.url).query)
    assert query["$filter"] == [f"atScope() and assignedTo('{PRINCIPAL}')"] and query["api-version"] == ["2022-04-01"]
    assert parse_qs(urlsplit(second.url).query)["$skipToken"] == ["page2"]


async def test_list_for_principal_failure_is_verbatim_and_classified():
    base = f"{SCOPE}/providers/Microsoft.Authorization/roleAssignments"
    message = "The client 'x' does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/read'."
    arm = FakeArm().on("GET", base, arm_error(403, "AuthorizationFailed", message))
    async with fake_azure(arm) as azure:
        with pytest.raises(AzureError) as info:
            await azure.roles.list_for_principal(SCOPE, PRINCIPAL)
    assert str(info.value) == f"AuthorizationFailed: {message}"
    assert (info.value.kind, info.value.operation) == (ErrorKind.USER_FIXABLE, "roleAssignment.list")


@pytest.mark.parametrize("assigned,applies", [
    (SCOPE, True),
    (SCOPE.split("/providers/")[0], True),  # resource group
    ("/" + "/".join(SCOPE.strip("/").split("/")[:2]), True),  # subscription
    (SCOPE + "2", False),  # a sibling whose name starts the same
    (SCOPE + "/blobServices/default", False),  # below
])
def test_covers_compares_whole_segments(assigned, applies):
    assert covers(assigned.upper(), SCOPE) is applies


async def test_get_by_name_answers_none_when_gone_and_raises_other_errors_verbatim():
    """How a DELETE recorded before a crash is settled: gone (404) means it landed."""
    one = f"{SCOPE}/providers/Microsoft.Authorization/roleAssignments"
    arm = (FakeArm()
           .on("GET", f"{one}/present", Reply(200, _listed("present", ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR, SCOPE)))
           .on("GET", f"{one}/gone", arm_error(404, "RoleAssignmentNotFound", "The role assignment 'gone' is not found."))
           .on("GET", f"{one}/forbidden", arm_error(403, "AuthorizationFailed", "no read")))
    async with fake_azure(arm) as azure:
        found = await azure.roles.get(SCOPE, "present")
        gone = await azure.roles.get(SCOPE, "gone")
        with pytest.raises(AzureError) as info:
            await azure.roles.get(SCOPE, "forbidden")
    assert found is not None and (found.name, found.scope, found.principal_id) == ("present", SCOPE, PRINCIPAL)
    assert gone is None
    assert (str(info.value), info.value.operation) == ("AuthorizationFailed: no read", "roleAssignment.get")

"""Fixed facts the simulator serves: api-versions per resource type, built-in roles, well-known IDs.

Sources: ../shared/FACTS.md and the official examples in ../shared/azure-rest-examples.
"""

from __future__ import annotations

# ARM rejects any api-version it does not know for a type (400 NoRegisteredProviderFound), so each route
# accepts only the versions listed here.
ML_API_VERSIONS = frozenset({"2023-10-01", "2024-04-01", "2024-10-01", "2025-12-01", "2026-07-01"})
ML_V2_API_VERSIONS = frozenset({"2026-03-15-preview"})
COGNITIVE_API_VERSIONS = frozenset({"2023-05-01", "2024-10-01", "2025-06-01", "2025-09-01"})
SEARCH_API_VERSIONS = frozenset({"2023-11-01", "2025-02-01-preview", "2025-05-01"})
STORAGE_API_VERSIONS = frozenset({"2023-05-01", "2024-01-01", "2025-01-01"})
KEYVAULT_API_VERSIONS = frozenset({"2023-07-01", "2024-11-01"})
AUTHORIZATION_API_VERSIONS = frozenset({"2022-04-01"})
NETWORK_API_VERSIONS = frozenset(
    {
        "2023-09-01", "2023-11-01", "2024-01-01", "2024-03-01", "2024-05-01", "2024-07-01", "2024-10-01",
        "2025-01-01", "2025-03-01", "2025-05-01", "2025-07-01", "2025-09-01", "2026-01-01", "2026-03-01",
    }
)
AKS_API_VERSIONS = frozenset({"2024-09-01", "2024-10-01", "2025-01-01", "2025-05-01", "2025-07-01", "2025-10-01",
                              "2026-08-01"})
KUBERNETES_CONFIGURATION_API_VERSIONS = frozenset({"2023-05-01", "2024-11-01", "2025-03-01"})
AZUREML_EXTENSION_TYPE = "microsoft.azureml.kubernetes"
RESOURCES_API_VERSIONS = frozenset({"2021-04-01", "2022-09-01", "2024-03-01", "2024-11-01", "2025-04-01"})

# api-versions whose responses drop null-valued properties (the newer TypeSpec-generated examples do).
OMIT_NULLS_API_VERSIONS = frozenset({"2026-07-01"})

# Managed-network private endpoints live in a Microsoft-owned subscription, never the customer's.
MICROSOFT_MANAGED_SUBSCRIPTION_ID = "6a1c5f0e-3b7d-4c2a-9e8f-0d4b2a7c91e3"
MANAGED_PE_RESOURCE_GROUP_POOL = 64  # PEs land in shared pools named commonHoboRG<n>, as observed in Azure

# Built-in role definitions the simulator knows (role assignment PUT answers 400 RoleDefinitionDoesNotExist otherwise).
BUILTIN_ROLES = {
    "69566ab7-960f-475b-8e7c-b3118f30c6bd": "Storage File Data Privileged Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "0c867c2a-1d8c-454a-a3db-ab2ea1bdc8bb": "Storage File Data SMB Share Contributor",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f6c7c914-8db3-469d-8ca1-694a8f32e121": "AzureML Data Scientist",
    "64702f94-c441-49e6-a78b-ef80e0188fee": "Azure AI Developer",
    "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd": "Cognitive Services OpenAI User",
    "0b5fe924-9a61-425c-96af-cfe6e287ca2d": "Role used by the official RoleAssignments_CreateForResource example",
    "b556d68e-0be0-4f35-a333-ad7ee1ce17ea": "Azure AI Enterprise Network Connection Approver",
}
APPROVER_ROLE_ID = "b556d68e-0be0-4f35-a333-ad7ee1ce17ea"  # lets a workspace identity approve its managed network's PEs

PE_STATES = ("Pending", "Approved", "Rejected", "Disconnected")
PE_BEHAVIOURS = ("auto-approve", "pending", "reject")
ISOLATION_MODES = ("Disabled", "AllowInternetOutbound", "AllowOnlyApprovedOutbound")
# Isolation is a one-way ratchet: Disabled -> either mode, AllowInternetOutbound -> AllowOnlyApprovedOutbound.
CHANGEABLE_ISOLATION_MODES = {
    "Disabled": ["AllowInternetOutbound", "AllowOnlyApprovedOutbound"],
    "AllowInternetOutbound": ["AllowOnlyApprovedOutbound"],
    "AllowOnlyApprovedOutbound": [],
}
# Service tags Azure ML adds as Required rules in AllowOnlyApprovedOutbound mode.
REQUIRED_SERVICE_TAGS = (
    "AzureActiveDirectory",
    "AzureMachineLearning",
    "BatchNodeManagement",
    "AzureResourceManager",
    "AzureFrontDoor.FirstParty",
    "MicrosoftContainerRegistry",
    "AzureMonitor",
)

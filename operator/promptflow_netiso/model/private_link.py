"""Private-link-capable Azure resource types and their sub-resources (group IDs): one table.

Read by the CRD generator (a PrivateEndpoint OutboundRule's `serviceResourceId` must be one of these types and its
`subresourceTarget` one of that type's group IDs, checked at admission) and tied to azure/pec.py's PROVIDERS (every
type PrivateEndpointApproval can approve is here; tests/unit/test_private_link.py asserts it), so the two tables
cannot drift apart.

Group IDs as Azure documents them for private endpoints ("Private-link resource" table of the Private Endpoint
overview) and as the Azure ML managed-network outbound-rule examples use them (`account`, `blob`, `searchService`).
Azure compares group IDs case-insensitively; so does the CRD.
"""

from __future__ import annotations

_STORAGE = ("blob", "blob_secondary", "table", "table_secondary", "queue", "queue_secondary", "file",
            "file_secondary", "web", "web_secondary", "dfs", "dfs_secondary")

# resource type (as ARM spells it) -> group IDs. Not `Microsoft.Network/privateEndpoints`: that is the endpoint
# itself, never the target of one.
GROUP_IDS: dict[str, tuple[str, ...]] = {
    "Microsoft.CognitiveServices/accounts": ("account",),  # Azure OpenAI, AI Services, Content Safety
    "Microsoft.Search/searchServices": ("searchService",),
    "Microsoft.Storage/storageAccounts": _STORAGE,
    "Microsoft.KeyVault/vaults": ("vault",),
    "Microsoft.ContainerRegistry/registries": ("registry",),
    "Microsoft.MachineLearningServices/workspaces": ("amlworkspace",),
    "Microsoft.MachineLearningServices/registries": ("amlregistry",),
    "Microsoft.DocumentDB/databaseAccounts": ("Sql", "MongoDB", "Cassandra", "Gremlin", "Table", "Analytical"),
    "Microsoft.Sql/servers": ("sqlServer",),
    "Microsoft.DBforPostgreSQL/flexibleServers": ("postgresqlServer",),
    "Microsoft.DBforMySQL/flexibleServers": ("mysqlServer",),
    "Microsoft.Cache/redis": ("redisCache",),
    "Microsoft.Web/sites": ("sites",),
    "Microsoft.EventHub/namespaces": ("namespace",),
    "Microsoft.ServiceBus/namespaces": ("namespace",),
    "Microsoft.AppConfiguration/configurationStores": ("configurationStores",),
    "Microsoft.ApiManagement/service": ("Gateway",),
    "Microsoft.Databricks/workspaces": ("databricks_ui_api", "browser_authentication"),
    "Microsoft.Synapse/workspaces": ("Sql", "SqlOnDemand", "Dev"),
}


def group_ids(resource_type: str) -> tuple[str, ...] | None:
    """The group IDs of a resource type (case-insensitive), or None when it cannot be a private endpoint target."""
    for type_, ids in GROUP_IDS.items():
        if type_.lower() == resource_type.lower():
            return ids
    return None

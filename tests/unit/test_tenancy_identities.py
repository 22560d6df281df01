"""Which Azure facade a namespace's objects use: the operator's, or one per namespace identity (cached, bounded)."""

from __future__ import annotations

import asyncio

from promptflow_netiso.handlers import tenancy
from promptflow_netiso.model.grant import GrantSpec

CLIENT_A, CLIENT_B = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"


class FakeAzure:
    def __init__(self, credential=None):
        self.credential, self.closed = credential, False

    def credential_options(self):
        return {"authority": "https://login.example", "disable_instance_discovery": True}

    def with_credential(self, credential):
        return FakeAzure(credential)

    async def close(self):
        self.closed = True


def grants(**by_namespace):
    return {ns: [GrantSpec.from_dict(spec)] for ns, spec in by_namespace.items()}


def identity(client_id):
    return {"workspaces": ["/"], "identity": {"serviceAccountName": "promptflow-azure", "clientId": client_id}}


async def test_namespaces_without_an_identity_use_the_operators():
    memo = {"azure": FakeAzure()}
    memo = type("Memo", (), memo)()
    assert tenancy.azure_for(memo, "team-a", grants(**{"team-a": {"workspaces": ["/"]}})) is memo.azure
    assert tenancy.azure_for(memo, "team-a", {}) is memo.azure


async def test_a_namespace_identity_gets_its_own_cached_facade_replaced_when_the_grant_changes():
    memo = type("Memo", (), {"azure": FakeAzure()})()
    first = tenancy.azure_for(memo, "team-a", grants(**{"team-a": identity(CLIENT_A)}))
    assert first is not memo.azure and first.credential._client._client_id == CLIENT_A
    assert tenancy.azure_for(memo, "team-a", grants(**{"team-a": identity(CLIENT_A)})) is first
    other = tenancy.azure_for(memo, "team-b", grants(**{"team-b": identity(CLIENT_B)}))
    assert other is not first
    changed = tenancy.azure_for(memo, "team-a", grants(**{"team-a": identity(CLIENT_B)}))
    await asyncio.sleep(0)  # the replaced facade is closed in the background
    assert changed is not first and first.closed and not other.closed
    await tenancy.close_all()
    assert changed.closed and other.closed

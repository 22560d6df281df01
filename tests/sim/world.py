"""The simulator's state and behaviour in one place, shared by ARM routes and the admin API."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from .armhttp import ArmError, not_found
from .managed_network import ManagedNetworks
from .model import Estate, Workspace
from .operations import Operations
from .private_endpoints import PrivateEndpoints
from .scheduler import Scheduler
from .throttle import ThrottleLimits


@dataclass
class SimConfig:
    """Knobs tests and the demo may change at runtime (admin PATCH /_sim/config)."""

    lro_duration_s: float = 0.5  # how long PATCH / PUT rule / provision / cognitive PUT stay running
    provision_duration_s: float = 1.0
    # Rule and managed-network operations (rule PUT/DELETE, batchOutboundRules POST, managed network PUT). None: as
    # lro_duration_s. In Azure they take minutes; benchmarks set a realistic figure, tests leave it off.
    rule_duration_s: float | None = None
    # batchOutboundRules shows its rules at once (Provisioning, like a rule PUT) or only when it ends: the contract
    # does not say, so a client must cope with both (tests switch it).
    batch_rules_at_end: bool = False
    retry_after_s: int = 1  # Retry-After on 202s and polls
    token_lifetime_s: int = 3600
    page_size: int = 5  # outbound rules / role assignments per list page (small, so nextLink is exercised)
    default_pe_behaviour: str = "auto-approve"
    default_approve_after_s: float = 0.5
    throttle: ThrottleLimits | None = field(default_factory=ThrottleLimits.arm)


class World:
    def __init__(self, seed: int, config: SimConfig, tenant_id: str):
        self.seed = seed
        self.config = config
        self.tenant_id = tenant_id
        self.rng = random.Random(seed)
        self.scheduler = Scheduler()
        self.estate = Estate()
        self.ops = Operations(self.scheduler, config)
        self.pe = PrivateEndpoints(self.estate, self.scheduler)
        self.mn = ManagedNetworks(self.estate, self.pe, self.guid)
        self.rbac_principals: set[str] = set()  # object IDs authorized by their role assignments (rbac.py)

    def rule_duration(self) -> float:
        c = self.config
        return c.lro_duration_s if c.rule_duration_s is None else c.rule_duration_s

    def guid(self) -> str:
        """Seeded GUIDs: the same seed and call sequence gives the same principal/network IDs."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def reset(self) -> None:
        self.rng = random.Random(self.seed)
        self.scheduler.clear()
        self.ops.clear()
        self.estate = Estate()
        self.pe.estate = self.estate
        self.mn.estate = self.estate

    # ---- lookups that answer like ARM ----------------------------------------------------------------------
    def require_subscription(self, sub: str) -> None:
        if self.estate.subscription(sub) is None:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")

    def require_resource_group(self, sub: str, rg: str) -> None:
        self.require_subscription(sub)
        if self.estate.resource_group(sub, rg) is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")

    def require_workspace(self, sub: str, rg: str, name: str) -> Workspace:
        self.require_resource_group(sub, rg)
        ws = self.estate.workspace(sub, rg, name)
        if ws is None:
            raise not_found("Microsoft.MachineLearningServices/workspaces", name, rg)
        return ws

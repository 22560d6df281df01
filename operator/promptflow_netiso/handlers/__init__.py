"""Importing this package registers every kopf handler of the operator."""

from . import kopf_patches  # noqa: F401  (before kopf builds its start-up gate: linear, not quadratic)
from . import startup  # noqa: F401  (first: persistence settings and the Azure facade)
from . import leadership  # noqa: F401  (the peering object replicas elect a leader in)
from . import tenancy  # noqa: F401  (grant and ownership indexes every kind reads)
from . import workspace, outbound_rule, approval  # noqa: F401,E401

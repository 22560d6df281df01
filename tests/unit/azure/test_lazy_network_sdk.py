"""azure-mgmt-network's models cost about 43 MB of Python objects: an operator with managed networks only never
needs them, so they are imported on the first VNet/subnet/peering/private-endpoint read, not at start."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import promptflow_netiso.cli, promptflow_netiso.azure
from promptflow_netiso.handlers import workspace, outbound_rule, approval, byo_network
loaded = sorted(m for m in sys.modules if m.startswith("azure.mgmt.network"))
assert not loaded, loaded
"""


def test_starting_the_operator_does_not_import_the_network_sdk():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]

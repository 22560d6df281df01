"""Azure Resource Manager + Entra ID simulator for promptflow-netiso tests and the local demo.

    from tests.sim import Simulator
    sim = Simulator(seed=0); await sim.start(); sim.url, sim.ca_file, sim.env(); await sim.stop()

See README.md for the served API, the admin API and the private endpoint connection shape.
"""

from .server import Simulator

__all__ = ["Simulator"]

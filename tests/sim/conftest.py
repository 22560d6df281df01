"""Makes the simulator fixtures available when tests/sim runs on its own, without registering them twice when
tests/conftest.py already lists `tests.sim.fixtures` in pytest_plugins."""


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("tests.sim.fixtures"):
        config.pluginmanager.import_plugin("tests.sim.fixtures")

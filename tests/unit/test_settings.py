import pytest

from promptflow_netiso.settings import Settings


def test_defaults_are_production_values(monkeypatch):
    for k in list(__import__("os").environ):
        if k.startswith("PROMPTFLOW_NETISO_"):
            monkeypatch.delenv(k)
    s = Settings.from_env()
    assert s.drift_interval == 300 and s.metrics_port == 8080 and s.slow_retry == 120


def test_env_overrides(monkeypatch):
    monkeypatch.setenv("PROMPTFLOW_NETISO_DRIFT_INTERVAL", "2.5")
    assert Settings.from_env().drift_interval == 2.5


@pytest.mark.parametrize("raw", ["soon", "-1"])
def test_bad_values_name_the_variable(monkeypatch, raw):
    monkeypatch.setenv("PROMPTFLOW_NETISO_DRIFT_INTERVAL", raw)
    with pytest.raises(ValueError, match="PROMPTFLOW_NETISO_DRIFT_INTERVAL"):
        Settings.from_env()

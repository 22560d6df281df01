"""The image build is reproducible: a hashed lock file installed with --require-hashes, the base image pinned by
digest (overridable), and the lock covering every dependency pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements.lock"
CONTAINERFILE = (REPO / "Containerfile").read_text()


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    return {_canon(m.group(1)): m.group(2) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", LOCK.read_text(), re.M)}


def test_every_locked_package_is_pinned_with_hashes():
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text())
    pins = [b for b in blocks if re.match(r"^[A-Za-z0-9_.-]+==", b)]
    assert pins and all("--hash=sha256:" in b for b in pins)
    assert "find-links" not in LOCK.read_text().split("#    pip-compile", 1)[1].split("\n", 2)[2]
    assert not re.search(r"^-e |^--index-url|^--extra-index-url", LOCK.read_text(), re.M)


def test_lock_covers_the_declared_dependencies_and_the_build_backend():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    names = {_canon(re.split(r"[<>=!~\[; ]", d, 1)[0]) for d in project["project"]["dependencies"]}
    names |= {_canon(re.split(r"[<>=!~\[; ]", d, 1)[0]) for d in project["build-system"]["requires"]}
    assert names <= set(locked()), names - set(locked())


def test_containerfile_installs_the_lock_with_hashes_and_pins_the_base_by_digest():
    assert "pip install --require-hashes --no-deps -r requirements.lock" in CONTAINERFILE
    assert "--no-deps --no-index --no-build-isolation ." in CONTAINERFILE
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", CONTAINERFILE, re.M).group(1)
    assert re.fullmatch(r"docker\.io/library/python:3\.11-slim@sha256:[0-9a-f]{64}", base), base
    assert CONTAINERFILE.count("FROM ${PYTHON_IMAGE}") == 2

# promptflow-netiso — every entry point a person or CI needs. Works on a fresh machine: it builds its own tools.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test unit e2e bench tools venv crds lock argocd-health lint clean

## demo: local control plane + Azure simulator + operator + samples, converging (Ctrl-C stops everything)
demo: tools venv
	$(PY) -m tests.demo

## test: every test (unit, simulator, end-to-end against a real kube-apiserver)
test: tools venv
	$(PY) -m pytest -q -ra

unit: venv
	$(PY) -m pytest -q tests/unit

e2e: tools venv
	$(PY) -m pytest -q tests/e2e

## bench: benchmarks; they print figures and never fail on timings
bench: tools venv
	@for b in tests/bench/bench_*.py; do m=$$(basename $$b .py); echo "== $$m"; $(PY) -m tests.bench.$$m || exit 1; done

## tools: etcd, kube-apiserver, helm, kubeconform, prometheus + promtool, luahealth, kstatus (built from Go modules,
## cached per machine, no root; versions in scripts/build-tools.sh)
tools:
	@bash scripts/build-tools.sh all >/dev/null

venv: $(STAMP)
$(STAMP): pyproject.toml
	@command -v python3 >/dev/null || { echo "python3 (3.11+) is required"; exit 1; }
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	@touch $@

## crds: regenerate crds/ from the Python models (the single source of truth)
crds: venv
	$(VENV)/bin/promptflow-netiso crds --out crds

## lock: re-lock the image's Python dependencies (and build backend) with hashes; the Containerfile installs them with
## --require-hashes. Resolve with the image's Python (3.11).
lock: venv
	$(VENV)/bin/pip install -q pip-tools
	PIP_FIND_LINKS= $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links --all-build-deps --output-file requirements.lock pyproject.toml

## argocd-health: regenerate deploy/argocd/argocd-cm-health.yaml from deploy/argocd/health/health.lua
argocd-health:
	python3 deploy/argocd/health/render.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info operator/*.egg-info

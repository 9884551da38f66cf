# Two commands: `make run` and `make test`. Both create .venv and install everything first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 2024
PYTHON ?= python3
# Debian packages the tests use: the code sandbox, the browser for UI tests, Prometheus.
# (Debian's `loki` package is a genetics tool, not Grafana Loki, so it is not installed.)
SYSTEM_PACKAGES := bubblewrap passt chromium prometheus
SYSTEM_BINARIES := bwrap pasta chromium prometheus

.PHONY: run test install system-deps clean-data lint

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# torch first and pinned: the CPU build, so nothing pulls gigabytes of CUDA wheels.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed

system-deps:
	@missing=""; for b in $(SYSTEM_BINARIES); do command -v $$b >/dev/null || missing="$$missing $$b"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages for:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	  else echo "missing:$$missing — run: sudo apt-get install $(SYSTEM_PACKAGES)"; exit 1; fi; \
	fi

run: install
	PORT=$(PORT) $(VENV)/bin/agentdesk run

test: install system-deps
	$(VENV)/bin/pytest -q

clean-data:
	rm -rf .data

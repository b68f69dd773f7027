# One command surface for people and CI. `make test` and `make demo` install what they need by themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the tests and the demo run for real.
SYSDEPS := mosquitto mosquitto-clients rabbitmq-server influxdb victoria-metrics chromium fonts-noto-cjk postgresql openssl systemd prometheus
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help sysdeps venv lint typecheck test test-fast demo bench soak docs clean

help:
	@echo "make demo   run louyu with simulated Darong traffic on local services"
	@echo "make test   lint, type checks and every test (installs what it needs)"
	@echo "make bench  benchmarks, with ratios against baselines measured in the same run"
	@echo "make docs   regenerate docs/configuration.md from louyu/settings.py"
	@echo "make soak   the whole system at district load for 30 minutes while faults strike (SOAK_MINUTES=...)"

sysdeps:
	@missing=$$(for p in $(SYSDEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if ! $(PYTHON) -c 'import ensurepip' >/dev/null 2>&1; then missing="$$missing python3-venv"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BIN)/.installed: requirements/lock.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r requirements/lock.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

venv: $(BIN)/.installed

# Regenerate the lock file after changing dependencies in pyproject.toml.
lock:
	$(BIN)/pip install -q uv && $(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
	  --generate-hashes -o requirements/lock.txt -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: sysdeps venv lint
	$(BIN)/pytest -q --durations=30

test-fast: venv
	$(BIN)/pytest -q -m "not integration and not browser"

demo: sysdeps venv
	$(BIN)/louyu up --demo

bench: sysdeps venv
	$(BIN)/python -m bench

docs: venv
	$(BIN)/python -m louyu.config_reference

SOAK_MINUTES ?= 30
soak: sysdeps venv
	$(BIN)/python -m bench.soak --minutes $(SOAK_MINUTES)

clean:
	rm -rf $(VENV) var/demo .pytest_cache .mypy_cache .ruff_cache

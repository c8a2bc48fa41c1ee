# trading-monitoring: `make up` deploys a stack (dev by default), `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

STACK ?= dev
VENV ?= .venv
PY := $(VENV)/bin/python
PULUMI_HOME_BIN := $(HOME)/.pulumi/bin
# Local file state backend inside the repo; override with PULUMI_BACKEND_URL.
PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
DEV_PASSPHRASE := trading-monitoring-dev-only-not-a-secret
export PATH := $(PULUMI_HOME_BIN):$(PATH)
export PULUMI_BACKEND_URL
export PULUMI_SKIP_UPDATE_CHECK := true

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help venv tools checkov up preview destroy test lint typecheck pytest synth drill bench clean pulumi-cli docker-check stack

help:
	@echo "make up [STACK=dev]       deploy a stack (installs .venv and the Pulumi CLI if missing)"
	@echo "make preview STACK=prod   show what 'up' would change"
	@echo "make destroy STACK=dev    tear a stack down"
	@echo "make test                 ruff, mypy and pytest (installs what the tests need)"
	@echo "make synth STACK=dev      render the plan and every config file offline into out/STACK"
	@echo "make bench                run the benchmarks in benchmarks/"

# --- Python environment -------------------------------------------------------------------
$(VENV)/.installed: requirements.lock
	@command -v python3 >/dev/null || { echo "python3 is required (3.11 or newer)."; exit 1; }
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.lock
	touch $@

venv: $(VENV)/.installed

# checkov in a virtualenv of its own (its pins clash with requirements.lock); the tests run it
# over the rendered prod manifests (tests/security/test_checkov.py).
CHECKOV_VENV := $(VENV)/checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.lock
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.lock
	touch $@

checkov: $(CHECKOV_VENV)/.installed

# --- Real tools for the tests (Debian packages): Prometheus, Alertmanager, PostgreSQL, Redis,
# NGINX and the third-party exporters the components and services run against. -------------
TEST_PACKAGES := prometheus prometheus-alertmanager postgresql redis-server nginx \
  prometheus-blackbox-exporter prometheus-postgres-exporter prometheus-redis-exporter \
  prometheus-nginx-exporter prometheus-sql-exporter
TEST_BINARIES := promtool amtool prometheus prometheus-alertmanager redis-server \
  prometheus-blackbox-exporter prometheus-postgres-exporter prometheus-redis-exporter \
  prometheus-nginx-exporter prometheus-sql-exporter

tools:
	@missing=""; for binary in $(TEST_BINARIES); do \
	  command -v $$binary >/dev/null || [ -x /usr/sbin/$$binary ] || missing="$$missing $$binary"; \
	done; \
	[ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing initdb"; \
	if [ -z "$$missing" ]; then \
	  echo "The test tools are installed ($(TEST_BINARIES) nginx initdb)."; \
	else \
	  echo "Installing the test tools (missing:$$missing)."; \
	  command -v apt-get >/dev/null || { echo "The tests need Debian's packages $(TEST_PACKAGES), and apt-get is not available here: install them by hand."; exit 1; }; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    $(TEST_PACKAGES) >/dev/null; \
	fi

define with_passphrase
	@[ -n "$$PULUMI_CONFIG_PASSPHRASE$$PULUMI_CONFIG_PASSPHRASE_FILE" ] || export PULUMI_CONFIG_PASSPHRASE="$(DEV_PASSPHRASE)"; \
	  $(1)
endef


# --- Deploy ---------------------------------------------------------------------------------
pulumi-cli:
	@if ! command -v pulumi >/dev/null; then \
	  echo "Installing the Pulumi CLI with the official installer (https://get.pulumi.com)..."; \
	  installer=$$(mktemp); \
	  { curl -fsSL https://get.pulumi.com -o "$$installer" && sh "$$installer" >/dev/null; } 2>/dev/null; \
	  rm -f "$$installer"; \
	fi; \
	command -v pulumi >/dev/null \
	  || { echo "The Pulumi CLI is missing and could not be installed: install it from https://www.pulumi.com/docs/install/ and run make again."; exit 1; }

# Both stacks build the exporter image with the local engine (dev also runs every container).
# Alloy's Docker client speaks API 1.43; Docker 29.0-29.2 refuse anything below 1.44.
docker-check:
	@docker info >/dev/null 2>&1 || { echo "Docker is not reachable: start the Docker engine (or check DOCKER_HOST) and run make again."; exit 1; }
	@min_api=$$(docker version --format '{{.Server.MinAPIVersion}}' 2>/dev/null); \
	if [ -n "$$min_api" ] && [ "$$(printf '%s\n' "$$min_api" 1.43 | sort -V | tail -n 1)" != 1.43 ]; then \
	  echo "WARNING: this Docker engine needs API >= $$min_api, so Alloy cannot list containers and no container logs reach Loki: upgrade to Docker >= 29.3 or set \"min-api-version\": \"1.24\" in /etc/docker/daemon.json."; \
	fi

stack: venv pulumi-cli
	@if [ -z "$$PULUMI_CONFIG_PASSPHRASE" ] && [ -z "$$PULUMI_CONFIG_PASSPHRASE_FILE" ]; then \
	  if [ "$(STACK)" != dev ]; then \
	    echo "Set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) for stack '$(STACK)': the dev-only default is refused outside dev."; exit 1; \
	  fi; \
	  echo "################################################################################"; \
	  echo "# WARNING: using the DEV-ONLY Pulumi passphrase '$(DEV_PASSPHRASE)'."; \
	  echo "# It protects nothing. Set PULUMI_CONFIG_PASSPHRASE for any shared or prod stack."; \
	  echo "################################################################################"; \
	fi
	@mkdir -p .pulumi-state
	$(call with_passphrase,pulumi login "$(PULUMI_BACKEND_URL)" >/dev/null && \
	  { pulumi stack select "$(STACK)" 2>/dev/null || pulumi stack init "$(STACK)"; })

up: docker-check stack
	$(call with_passphrase,pulumi up --stack "$(STACK)" --yes)

preview: stack
	$(call with_passphrase,pulumi preview --stack "$(STACK)" --diff)

destroy: stack
	$(call with_passphrase,pulumi destroy --stack "$(STACK)" --yes)

# --- Tests ----------------------------------------------------------------------------------
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy

# Two stages: everything else first, then the live pipeline (real processes on 127.0.0.1).
# pytest exits 5 when it collects no tests; that fails here like any other non-zero status.
pytest: venv tools checkov
	@for stage in "not live" "live"; do \
	  echo "== pytest -m '$$stage'"; \
	  $(PY) -m pytest -m "$$stage"; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no '$$stage' tests: failing on purpose."; fi; \
	  [ $$status -eq 0 ] || exit $$status; \
	done

test: lint typecheck pytest

synth: venv
	$(PY) -m infra synth --stack "$(STACK)" --out "out/$(STACK)"

# After `make up`: one synthetic alert per route of the deployed stack; non-zero on a failure.
# Prod: port-forward an Alertmanager pod and add ALERTMANAGER=http://127.0.0.1:9093.
drill: venv pulumi-cli
	$(call with_passphrase,$(PY) -m infra drill --stack "$(STACK)" $(if $(ALERTMANAGER),--alertmanager "$(ALERTMANAGER)"))

bench: venv tools
	$(PY) benchmarks/exporter_scrape.py
	$(PY) benchmarks/exporter_scale.py
	$(PY) benchmarks/alert_latency.py
	$(PY) benchmarks/synth_scale.py

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache

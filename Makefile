# Carepath: the two commands are `make run` and `make test`; both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .local/tools
UV := $(TOOLS)/uv/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
LAUNCHER := $(PYTHON) -m deploy.local.launcher
PYTEST_ARGS ?=
# Test files run in two processes (pytest-xdist; a file stays in one, so its tests keep their
# order and fixed ports). Measured on 2 cores: 92 s against 110 s serially when the machine was
# otherwise quiet, about even when it was busy (229/242 s against 222/352 s); 4 workers were slower.
# Kafka and MongoDB are started once, before any test (tests/conftest.py). PYTEST_PARALLEL= runs serially.
PYTEST_PARALLEL ?= -n 2 --dist loadfile

# uv uses the machine's Python 3.11+ and never downloads an interpreter.
export UV_PYTHON_DOWNLOADS := never
# Dependencies are compiled to bytecode as they are installed (as in the image). Where the
# environment sets PYTHONDONTWRITEBYTECODE, imports never cache it, so every process compiled
# some 900 modules at each start: a service's imports took 2.2 s of CPU, 1.0 s compiled.
export UV_COMPILE_BYTECODE := 1
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
# Local development only: services and `make token` sign/verify with this secret.
export JWT_SECRET ?= carepath-local-development-secret-do-not-use-in-production
# Local development only: derived event ids are an HMAC under this key, the same for every
# service and replica; production refuses it (set your own CAREPATH_EVENT_ID_SECRET).
export CAREPATH_EVENT_ID_SECRET ?= carepath-local-event-id-secret-do-not-use-in-production
# Local development only: the key intake seals free text with (make your own with
# `python -m shared.security.field_encryption new-key`; never reuse this one).
export FIELD_ENCRYPTION_KEYS ?= dev1:fq75Ylyaec7u9/RYYeE8Rkhqj9KjW8XxFHjOn2QV7VY=
export FIELD_ENCRYPTION_ACTIVE_KEY ?= dev1

.PHONY: help install run demo test test-faults test-unit test-integration test-e2e lint up down status token docs schemas package bench clean compose-up compose-down compose-test

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Installs every dependency group too (dev, demo, sinks: pyproject's [tool.uv] default-groups);
# the service image installs none of them (Dockerfile: uv sync --no-default-groups).
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

# The project's own modules compiled too, for the same reason (at every run: they change): a
# service's imports took 1.2-1.4 s without their bytecode, 1.05-1.10 s with it (matching, idle).
install: $(VENV)/.installed ## Install the locked dependencies into .venv
	@$(PY) -m compileall -q -j 0 services shared deploy > /dev/null

run: install ## Start Kafka, MongoDB and every service (foreground; Ctrl-C stops services)
	$(PY) -m deploy.local.run_services

demo: install ## Own services on a fast clock: seed therapists, walk sample clients from intake to check-in completed
	$(PY) -m deploy.local.demo

test: lint contract-tools ## Lint, then the whole suite against real Kafka and MongoDB (starts them if needed)
	$(PY) -m pytest $(PYTEST_PARALLEL) tests/unit tests/integration tests/e2e $(PYTEST_ARGS)

# The two fault scenarios run one after the other: each keeps the 2 cores busy with its own
# services, stream of intakes and (the infrastructure one) a private Kafka and FerretDB, so side
# by side each one's recovery times measured mostly the other's load (a kill -9 restart took
# 2.7-15.8 s to consume again beside it, 1.2-1.6 s alone).
test-faults: install ## Fault injection under 200+ intakes: kill -9, SIGTERM, poison, broker and database restarts
	CAREPATH_FAULTS=1 $(PY) -m pytest tests/e2e/faults $(PYTEST_ARGS)

test-unit: install ## Unit tests only (no infrastructure)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: install ## Integration tests (real Kafka and MongoDB)
	$(PY) -m pytest $(PYTEST_PARALLEL) tests/integration $(PYTEST_ARGS)

test-e2e: install ## End-to-end tests (whole services on real infrastructure)
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

lint: install ## Ruff (lint, format check) and mypy --strict on shared/ and services/
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

up: ## Start the local Kafka broker and MongoDB-wire server (reuses caches)
	$(LAUNCHER) up

down: ## Stop exactly what `make up` started
	$(LAUNCHER) down

status: ## Show what the local launcher runs
	$(LAUNCHER) status

token: install ## Mint a local JWT: make token ROLE=clinician SUBJECT=therapist-1 (ROLE=service SCOPE="intake:read ...")
	@$(PY) -m shared.http.mint_token --role $(or $(ROLE),admin) --subject $(or $(SUBJECT),local-admin) $(if $(SCOPE),--scope "$(SCOPE)")

docs: install ## Export each service's OpenAPI and AsyncAPI documents to services/<name>/docs/
	$(PY) -m shared.http.api_docs $(notdir $(patsubst %/app.py,%,$(wildcard services/*/app.py)))

schemas: install ## Export every event's JSON Schema to shared/events/schemas/ and the system AsyncAPI to docs/
	$(PY) -m shared.events.export_schemas
	$(PY) -m shared.events.export_asyncapi

package: install ## Build the carepath-events wheel (event models, envelope, JSON Schemas) into dist/
	$(UV) build --wheel --out-dir dist packages/carepath-events

# The OpenAPI validators (Redocly CLI, swagger-parser) at the versions of the committed lockfile,
# into a git-ignored folder (nothing global); tests/unit/shared/test_openapi_validators.py runs them.
CONTRACT_TOOLS := $(TOOLS)/contracts
CONTRACT_MANIFEST := tests/support/contracts
.PHONY: contract-tools
contract-tools: $(CONTRACT_TOOLS)/.installed ## Install the OpenAPI validators (pinned by tests/support/contracts/package-lock.json)

$(CONTRACT_TOOLS)/.installed: $(CONTRACT_MANIFEST)/package.json $(CONTRACT_MANIFEST)/package-lock.json
	@command -v npm >/dev/null || { echo "npm (with Node.js 20.19+) is needed for the OpenAPI validators" >&2; exit 1; }
	mkdir -p $(CONTRACT_TOOLS)
	cp $(CONTRACT_MANIFEST)/package.json $(CONTRACT_MANIFEST)/package-lock.json $(CONTRACT_TOOLS)/
	npm ci --prefix $(CONTRACT_TOOLS) --ignore-scripts --no-audit --no-fund
	@touch $@

bench: install ## Performance suite on real infrastructure (results in bench-results/)
	$(PY) -m tests.bench

# Docker: official images where they can be pulled, images built here where not; a Docker
# engine installed (Debian, root) and started if none answers (deploy/compose, README "Docker").
compose-up: ## The whole stack in containers (docker compose), healthy; installs/starts Docker if needed
	$(PYTHON) -m deploy.compose up

compose-down: ## Remove the compose stack (and stop a dockerd compose-up started)
	$(PYTHON) -m deploy.compose down

compose-test: ## The journey suite in a container against the compose stack, then with 3 matching replicas
	$(PYTHON) -m deploy.compose test

clean: down ## Stop the infrastructure and delete its data (keeps downloads and builds)
	$(LAUNCHER) clean

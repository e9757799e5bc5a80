# terraform-aws-ml-gateway: every task a developer or CI runs. `make help` lists them.
SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
LOCK    := requirements-dev.txt
# What make local needs, a subset of LOCK (tests/test_requirements.py), installed first and alone.
LOCAL_LOCK := requirements-local.txt
CLIENT  := client/pyproject.toml
# The installer the locks are installed with (uv), pinned.
BOOTSTRAP := requirements-bootstrap.txt
UV      := $(VENV)/bin/uv
STAMP   := $(VENV)/.installed-dev-$(shell cat $(LOCK) $(CLIENT) $(BOOTSTRAP) | sha256sum | cut -c1-16)
LOCAL_STAMP := $(VENV)/.installed-local-$(shell cat $(LOCAL_LOCK) $(CLIENT) $(BOOTSTRAP) | sha256sum | cut -c1-16)
MLGW    := $(VENV)/bin/mlgw
TFH     := PYTHONPATH=tests $(PY) -m tfharness
EXAMPLE ?= examples/complete
# make local serves examples/local unless EXAMPLE is given explicitly.
LOCAL_EXAMPLE := $(if $(filter command line environment,$(origin EXAMPLE)),$(EXAMPLE),examples/local)
LOCAL   := PYTHONPATH=local:tests $(PY) -m mlgw_local
VARS    ?=
PYTEST_ARGS ?=
# pytest workers: one more than the machine has cores. A quarter of the suite's time is spent
# waiting (local mode's processes, sockets, retry back-offs, child processes), and with one
# worker per core those waits leave the cores idle; on 2 cores a third worker made `make test`
# 20-40 s faster and a fourth slower.
# The cores this process may use (CPU affinity, as pytest-xdist's -n auto counts them).
PYTEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(1 + (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))')

export CHECKPOINT_DISABLE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Python's bytecode cache lives in the venv for every target: each module is compiled once, by
# the first process that imports it, even where PYTHONDONTWRITEBYTECODE is set (without it, each
# of the many Python processes of a test run compiled everything it imported), and the source
# tree stays clean.
export PYTHONPYCACHEPREFIX := $(CURDIR)/$(VENV)/pycache
export PYTHONDONTWRITEBYTECODE :=

.PHONY: help venv local local-batch local-actuals local-smoke local-invoke test lint validate plan openapi security pytest smoke redrive bench docs docs-check schemas lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Locks install with uv, pinned in $(BOOTSTRAP) and installed into the venv by pip first: it
# installs the dev lock in seconds where pip takes a minute. uv reads no pip configuration, so
# where pip is given an index of its own (PIP_INDEX_URL, or index-url in pip's configuration),
# and where uv cannot be had or fails, pip installs the lock, with a one-line progress count
# instead of its page of output. Neither compiles bytecode: imports do, into PYTHONPYCACHEPREFIX.
# The mlgw client is installed editable from ./client alone (its build backend, flit_core, is
# pinned in both locks), by uv where the venv has it.
define pip_install
	@echo "installing the $(shell grep -c '==' $(1)) packages pinned in $(1) into $(VENV)"
	@own_index=no; \
	  if test -n "$${PIP_INDEX_URL:-}"; then own_index=yes; fi; \
	  for key in global.index-url install.index-url; do \
	    if $(PY) -m pip config get $$key >/dev/null 2>&1; then own_index=yes; fi; done; \
	  if test $$own_index = no && $(PY) -m pip install --quiet --requirement $(BOOTSTRAP) \
	    && $(UV) pip install --python $(PY) --requirement $(1); then echo "  done"; else \
	  if test $$own_index = yes; then echo "  pip has an index of its own: installing with pip"; \
	  else echo "  uv could not install the lock: installing with pip"; fi; \
	  $(PY) -m pip install --no-compile --progress-bar off --requirement $(1) | awk -v total=$(shell grep -c '==' $(1)) \
	  '/^Collecting /{n++; printf "\r  %d/%d collected", n, total; fflush()} \
	   /^Installing collected/{printf "\n  installing...\n"; fflush()} /^Successfully installed/{print "  done"}'; fi
	@if test -x $(UV) && $(UV) pip install --quiet --python $(PY) --no-deps --no-build-isolation --editable ./client; \
	  then :; else $(PY) -m pip install --quiet --no-index --no-deps --no-build-isolation --editable ./client; fi
endef

$(LOCAL_STAMP): $(LOCAL_LOCK) $(CLIENT) $(BOOTSTRAP)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(call pip_install,$(LOCAL_LOCK))
	@rm -f $(VENV)/.installed-local-* && touch $@

# The dev lock holds every pin of the local lock, so installing it satisfies both stamps.
$(STAMP): $(LOCK) $(CLIENT) $(BOOTSTRAP)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(call pip_install,$(LOCK))
	@rm -f $(VENV)/.installed-* && touch $@ $(LOCAL_STAMP)

venv: $(STAMP) ## create .venv and install exactly the pinned dev requirements and the mlgw client

local: $(LOCAL_STAMP) ## serve an example's plan on localhost with bundled models: make local [EXAMPLE=examples/<name>] [LOCAL_ARGS=--api-port=9000]
	$(LOCAL) serve --example $(LOCAL_EXAMPLE) $(LOCAL_ARGS)

local-batch: $(LOCAL_STAMP) ## drop FILE under the running local mode's batch input, wait for its report, print rows and error rows [PORT=<API port>]
	$(LOCAL) batch $(FILE) $(if $(PORT),--port $(PORT))

local-actuals: $(LOCAL_STAMP) ## drop FILE under the running local mode's actuals prefix, wait for the outcome, print it [PORT=<API port>]
	$(LOCAL) actuals $(FILE) $(if $(PORT),--port $(PORT))

local-smoke: $(LOCAL_STAMP) ## call every route of the running local mode with a sample that fits it [PORT=<API port>]
	$(MLGW) smoke --local $(if $(PORT),--port $(PORT))

local-invoke: $(LOCAL_STAMP) ## invoke FUNCTION of the running local mode with the JSON event in EVENT: make local-invoke FUNCTION=<name> EVENT=event.json [PORT=<API port>]
	$(LOCAL) invoke $(FUNCTION) $(EVENT) $(if $(PORT),--port $(PORT))

# pytest validates and plans every directory and checks the generated docs itself
# (tests/terraform/test_harness.py, tests/test_repository.py). checkov runs beside it, its report
# printed when both are done, so pytest's output streams; either failing fails the target, and an
# interrupt stops checkov too (a background job ignores SIGINT).
test: lint ## everything CI runs: lint, then checkov and the test suites side by side
	@$(MAKE) --no-print-directory security > $(VENV)/security.log 2>&1 & checkov=$$!; \
	  trap 'kill $$checkov 2>/dev/null; cat $(VENV)/security.log; exit 130' INT TERM; \
	  tests=0; $(MAKE) --no-print-directory pytest || tests=$$?; \
	  security=0; wait $$checkov || security=$$?; \
	  cat $(VENV)/security.log; \
	  if test $$security -ne 0; then echo "make security failed (exit $$security)" >&2; fi; \
	  test $$tests -eq 0 && test $$security -eq 0

lint: $(STAMP) ## ruff lint + format check, terraform fmt -check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(TFH) fmt-check

validate: $(STAMP) ## terraform init + validate of the root, every module and every example (offline)
	$(TFH) validate

plan: $(STAMP) ## offline plan of an example: make plan EXAMPLE=examples/<name> [VARS=file.tfvars]
	$(TFH) plan $(EXAMPLE) $(if $(VARS),--var-file $(VARS))

openapi: $(STAMP) ## write the OpenAPI document (REST API body) of an example's offline plan: make openapi EXAMPLE=examples/<name> [OUT=openapi.json] [VARS=file.tfvars]
	$(TFH) openapi $(EXAMPLE) --out $(or $(OUT),openapi.json) $(if $(VARS),--var-file $(VARS))

security: $(STAMP) ## checkov over every module and example (skips carry their reason inline)
	$(VENV)/bin/checkov --config-file .checkov.yaml

pytest: $(STAMP) ## the Python and Terraform test suites
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

smoke: $(LOCAL_STAMP) ## call every prediction route of a deployed root once: make smoke EXAMPLE=examples/<name> [SMOKE_ARGS=...]
	terraform -chdir=$(EXAMPLE) output -json | $(MLGW) smoke $(SMOKE_ARGS)

redrive: $(LOCAL_STAMP) ## re-invoke a pipeline function with its failure queue's events: make redrive QUEUE=batch|actuals [EXAMPLE=...] [REDRIVE_ARGS=--dry-run]
	@test -n "$(QUEUE)" || { echo "make redrive needs QUEUE=batch or QUEUE=actuals" >&2; exit 2; }
	terraform -chdir=$(EXAMPLE) output -json | $(MLGW) redrive --queue $(QUEUE) $(REDRIVE_ARGS)

bench: $(STAMP) ## every benchmark under bench/ (BENCH=batch for one): prints a table, writes bench/results.json
	$(PY) bench/run.py $(BENCH)

docs: $(STAMP) ## regenerate the input/output tables of every Terraform README and the root's module-shaped input types
	$(PY) scripts/gen_docs.py

docs-check: $(STAMP)
	$(PY) scripts/gen_docs.py --check

schemas: $(STAMP) ## refresh committed aws provider schemas (needs terraform + the registry)
	PYTHONPATH=tests $(PY) -m tfharness.refresh_schemas --from-terraform

lock: ## re-resolve requirements-local.in and requirements-dev.in into their pinned .txt locks
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --requirement requirements-local.in
	{ echo "# Generated by 'make lock' from requirements-local.in. Do not edit by hand."; \
	  .lock-venv/bin/pip freeze --exclude-editable; } > $(LOCAL_LOCK)
	.lock-venv/bin/pip install --quiet --requirement requirements-dev.in
	{ echo "# Generated by 'make lock' from requirements-dev.in (which includes requirements-local.in). Do not edit by hand."; \
	  .lock-venv/bin/pip freeze --exclude-editable; } > $(LOCK)
	rm -rf .lock-venv

clean: ## remove the virtualenv, caches and offline toolchain
	rm -rf $(VENV) .tf-offline .pytest_cache .ruff_cache bench/results.json
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -name .build -type d -prune -exec rm -rf {} +

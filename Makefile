# Every target does its own set-up: a fresh clone needs only python3.11 and the package registries.
# Each venv holds exactly what its lock in locks/ pins (uv pip sync), so a fresh machine installs
# what the last green run installed; `make lock` refreshes the locks and runs the suites on them.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK_33 := locks/requirements-airflow-3.3.txt
# uv is in every lock (the test extra); the one that bootstraps a venv is the locked one.
UV_VERSION := $(shell sed -n 's/^uv==//p' $(LOCK_33))

.PHONY: test lint demo platform bench clean fuzz test-airflow-3.1 test-airflow-3.4 dist test-dist \
	test-deployment test-browser test-faults deploy-debs deploy-provider test-kubernetes \
	test-kubernetes-full bench-deployment bench-scale lock docs mutation

# $(call locked_venv,DIR,LOCK): the venv DIR holding exactly LOCK's packages (and nothing else).
define locked_venv
	$(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	$(1)/bin/uv pip sync -q --compile-bytecode -p $(1)/bin/python $(2)
endef

# The provider on top, editable, without resolving anything; `uv pip check` then fails if the
# lock lacks something pyproject.toml asks for (a lock older than a new dependency).
define editable_provider
	$(1)/bin/uv pip install -q --compile-bytecode --no-deps -p $(1)/bin/python -e .
	$(1)/bin/uv pip check -q -p $(1)/bin/python
endef

$(STAMP): pyproject.toml Makefile $(LOCK_33)
	$(call locked_venv,$(VENV),$(LOCK_33))
	$(call editable_provider,$(VENV))
	touch $(STAMP)

# mypy on both packages, then --strict on the provider's typed core.
STRICT_PACKAGES := craft_airflow/operators craft_airflow/sensors craft_airflow/triggers \
	craft_airflow/hooks craft_airflow/protocol

lint: $(STAMP)
	$(BIN)/ruff check craft_airflow craft_local tests example_dags benchmarks docs
	$(BIN)/ruff format --check craft_airflow craft_local tests example_dags benchmarks docs
	$(BIN)/mypy craft_airflow craft_local
	$(BIN)/mypy --strict $(STRICT_PACKAGES)

# Two pytest processes (pytest-xdist, each with its own Airflow home and platform): most tests wait
# on a platform or an Airflow run rather than use the CPU. PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2
PARALLEL := -n $(PYTEST_WORKERS) --dist worksteal

# pytest exits 5 when no test ran, which fails this target too.
test: lint
	$(BIN)/pytest $(PARALLEL)

# The provider-facing tests on Airflow 3.1 (the oldest supported), in their own venv; not part of
# `make test`. craft_local/ (with its conformance/), chaos/ and security/ do not depend on the
# Airflow version.
AF31_VENV := .venv-af31
AF31_STAMP := $(AF31_VENV)/.installed
AF31_LOCK := locks/requirements-airflow-3.1.txt

$(AF31_STAMP): pyproject.toml Makefile $(AF31_LOCK)
	$(call locked_venv,$(AF31_VENV),$(AF31_LOCK))
	$(call editable_provider,$(AF31_VENV))
	touch $(AF31_STAMP)

PROVIDER_TESTS := tests/test_*.py tests/protocol tests/inputs tests/example_dags tests/operators \
	tests/sensors tests/triggers tests/integration tests/hooks

test-airflow-3.1: $(AF31_STAMP)
	$(AF31_VENV)/bin/pytest -q $(PARALLEL) $(PROVIDER_TESTS)

# The same tests on the next Airflow, a pre-release (locks/requirements-airflow-3.4.in names it):
# what breaks there is found before users upgrade.
AF34_VENV := .venv-af34
AF34_STAMP := $(AF34_VENV)/.installed
AF34_LOCK := locks/requirements-airflow-3.4.txt

$(AF34_STAMP): pyproject.toml Makefile $(AF34_LOCK)
	$(call locked_venv,$(AF34_VENV),$(AF34_LOCK))
	$(call editable_provider,$(AF34_VENV))
	touch $(AF34_STAMP)

test-airflow-3.4: $(AF34_STAMP)
	$(AF34_VENV)/bin/pytest -q $(PARALLEL) $(PROVIDER_TESTS)

# Every lock anew from the registry's newest versions (within pyproject.toml and locks/*.in),
# then the suites on them: drift is met here, on purpose, and fixed in its own commit.
LOCK_LEGS := airflow-3.3 airflow-3.1 airflow-3.4 deployment
LOCK_SUITES ?= test test-dist test-airflow-3.1 test-airflow-3.4 test-deployment
lock: $(STAMP)
	for leg in $(LOCK_LEGS); do \
		$(BIN)/uv pip compile -q --upgrade --universal --python-version 3.11 --extra test --extra docs \
			--custom-compile-command "make lock" pyproject.toml locks/requirements-$$leg.in \
			-o locks/requirements-$$leg.txt || exit 1; \
	done
	$(BIN)/uv pip compile -q --upgrade --universal --python-version 3.11 \
		--custom-compile-command "make lock" locks/requirements-mutation.in \
		-o locks/requirements-mutation.txt
	$(MAKE) $(LOCK_SUITES)

# An sdist and a wheel in dist/ (uv builds them in an isolated environment from pyproject.toml).
dist: $(STAMP)
	rm -rf dist
	$(BIN)/uv build -q --out-dir dist
	$(BIN)/twine check --strict dist/*

# The documentation site (docs/, Sphinx with MyST) into docs/_build/html. Warnings are errors and
# nitpicky mode is on: every link between pages, every anchor, every code reference and every
# included file must resolve (docs/development.md, "This site").
# autodoc imports the provider, so Airflow: its home is a throwaway folder under docs/_build.
docs: $(STAMP)
	rm -rf docs/_build
	AIRFLOW_HOME=$(CURDIR)/docs/_build/airflow-home $(BIN)/sphinx-build -q -b html -W --keep-going \
		-n docs docs/_build/html

# The built wheel in a fresh venv next to Airflow: `airflow providers list`, the wheel's
# Requires-Dist (the platform's dependencies only in the `local` extra), craft-local without and
# with the extra. Prints its timings. Not part of `make test` (pytest skips dist/ folders).
test-dist: dist
	$(BIN)/pytest -p no:cacheprovider tests/dist

# A real deployment (tests/deployment/, tests/browser/): PostgreSQL, Redis and Chromium from
# Debian's packages; Airflow, the Celery provider and the provider itself installed NON-editable in
# their own venv, as a user installs them (the provider is reinstalled from the tree at each run,
# without its dependencies: those come from the lock).
DEPLOY_VENV := .venv-deploy
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed
DEPLOY_DEBS := postgresql redis-server chromium chromium-driver
DEPLOY_LOCK := locks/requirements-deployment.txt

$(DEPLOY_STAMP): pyproject.toml Makefile $(DEPLOY_LOCK)
	$(call locked_venv,$(DEPLOY_VENV),$(DEPLOY_LOCK))
	touch $(DEPLOY_STAMP)

# The Debian packages, installed only when one is missing (CI runs as root).
deploy-debs:
	@dpkg -s $(DEPLOY_DEBS) >/dev/null 2>&1 || { apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
		--no-install-recommends $(DEPLOY_DEBS); }

# The provider from this tree, as a wheel build (not editable), on top of the venv's packages.
deploy-provider: $(DEPLOY_STAMP)
	$(DEPLOY_VENV)/bin/uv pip install -q --compile-bytecode -p $(DEPLOY_VENV)/bin/python \
		--reinstall-package craft-airflow --refresh-package craft-airflow --no-deps .
	$(DEPLOY_VENV)/bin/uv pip check -q -p $(DEPLOY_VENV)/bin/python

test-deployment: deploy-debs deploy-provider
	$(DEPLOY_VENV)/bin/pytest -q tests/deployment

test-browser: deploy-debs deploy-provider
	$(DEPLOY_VENV)/bin/pytest -q tests/browser

# The Celery deployment under faults (tests/faults/, docs/running/faults.md): FAULTS_TASKS Craft tasks
# while triggerer, worker, scheduler, PostgreSQL, Redis and the platform are killed or restarted
# one after another. The CI-sized run by default; `make test-faults FAULTS_TASKS=200` is the full
# run (outside CI).
FAULTS_TASKS ?= 42
test-faults: deploy-debs deploy-provider
	FAULTS_TASKS=$(FAULTS_TASKS) $(DEPLOY_VENV)/bin/pytest -q -p no:cacheprovider tests/faults

# The side-by-side benchmark under a real deployment (benchmarks/side_by_side.py, ~25 min on
# 2 cores); not part of `make bench` or CI. BENCH_ARGS="--n 4 --variants b,d" for a quick run.
BENCH_ARGS ?=
bench-deployment: deploy-debs deploy-provider
	$(DEPLOY_VENV)/bin/python benchmarks/side_by_side.py $(BENCH_ARGS)

# 1,000 deferred tasks at once in one real deployment (benchmarks/deployment_scale.py), the Craft
# trigger against a 30-s poll (~50 min on 2 cores); not part of `make bench` or CI.
# BENCH_ARGS="--n 20 --hold 10" for a quick run.
bench-scale: deploy-debs deploy-provider
	$(DEPLOY_VENV)/bin/python benchmarks/deployment_scale.py $(BENCH_ARGS)

# The Kubernetes runtime against a real single-node cluster (tools/k8s-local.sh: built once
# under K8S_BASE, ~7 min and ~5.5 GB the first time); the cluster is stopped even on failure.
# Not part of `make test`.
K8S := tools/k8s-local.sh

# CI re-runs the example DAGs' integration tests on the cluster; test-kubernetes-full all of them.
test-kubernetes: $(STAMP)
	$(K8S) setup
	$(K8S) start && CRAFT_TEST_KUBECONFIG=$$($(K8S) kubeconfig) $(BIN)/pytest -q tests/kubernetes; \
		status=$$?; $(K8S) stop; exit $$status

test-kubernetes-full:
	CRAFT_K8S_ALL_INTEGRATION=1 $(MAKE) test-kubernetes

# The embedded platform's fuzz suite (Schemathesis, every route from its OpenAPI schema) with many
# more examples than the CI run (tests/craft_local/test_openapi_fuzz.py); not part of `make test`.
FUZZ_EXAMPLES ?= 300
fuzz: $(STAMP)
	CRAFT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q -p no:cacheprovider tests/craft_local/test_openapi_fuzz.py

# Mutation testing (tools/mutation.sh: cosmic-ray over craft_airflow/protocol and the ending of a
# task, in a copy of the committed tree). Slow (minutes per surviving mutant): not part of
# `make test` or CI. MUTATION_MODULES / MUTATION_TESTS narrow a run; the session resumes.
MUTATION_VENV := .venv-mutation
MUTATION_STAMP := $(MUTATION_VENV)/.installed
MUTATION_LOCK := locks/requirements-mutation.txt

$(MUTATION_STAMP): $(STAMP) $(MUTATION_LOCK)
	$(BIN)/uv venv -q -p $(PYTHON) $(MUTATION_VENV)
	$(BIN)/uv pip sync -q -p $(MUTATION_VENV)/bin/python $(MUTATION_LOCK)
	touch $(MUTATION_STAMP)

mutation: $(STAMP) $(MUTATION_STAMP)
	tools/mutation.sh

demo: $(STAMP)
	$(BIN)/python -m craft_local.demo

# Benchmarks that print figures (each starts and stops its own platform); docs/performance.md holds the figures.
bench: $(STAMP)
	$(BIN)/python benchmarks/requests_per_run.py
	$(BIN)/python benchmarks/output_streaming_memory.py
	$(BIN)/python benchmarks/datastore_memory.py
	$(BIN)/python benchmarks/import_cost.py
	$(BIN)/python benchmarks/platform_throughput.py
	$(BIN)/python benchmarks/triggerer_capacity.py

# The token goes through the environment (CRAFT_LOCAL_SDK_TOKEN), as the printed connection reads it.
CRAFT_LOCAL_SDK_TOKEN ?= local-sdk-token
platform: $(STAMP)
	CRAFT_LOCAL_SDK_TOKEN="$(CRAFT_LOCAL_SDK_TOKEN)" $(BIN)/craft-local serve --host 127.0.0.1 \
		--port 8765 --data-dir .craft-local --examples

clean:
	rm -rf $(VENV) $(AF31_VENV) $(AF34_VENV) $(DEPLOY_VENV) $(MUTATION_VENV) .mutation .craft-local \
		dist build docs/_build .pytest_cache .mypy_cache \
		.ruff_cache

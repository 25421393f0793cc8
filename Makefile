.DEFAULT_GOAL := help
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen
HOST ?= 127.0.0.1
PORT ?= 8000

# The web client (web/): built into web/dist, which the service serves at "/". Rebuilt when any of
# its sources is newer than the build; `npm ci` when the lockfile is newer than node_modules.
NPM ?= npm
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/package.json web/vite.config.ts web/tsconfig.json
HAVE_NPM := $(shell command -v $(NPM) >/dev/null 2>&1 && echo yes)

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

install: uv ## Install the locked environment into .venv
	$(UV) sync --frozen

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && $(NPM) ci --no-audit --no-fund --loglevel=error

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && $(NPM) run build

web: ## Build the web client into web/dist when it is missing or stale (npm and Node 20)
ifeq ($(HAVE_NPM),yes)
	@$(MAKE) --no-print-directory web/dist/index.html
else ifeq ($(CI),true)
	@echo "npm is not installed: the web client cannot be built (required when CI=true)"; exit 1
else
	@echo "npm is not installed: the web client is not built (the API works without it)"
endif

test-web: web ## The web client's component tests (Vitest)
ifeq ($(HAVE_NPM),yes)
	cd web && $(NPM) test --silent
else ifeq ($(CI),true)
	@echo "npm is not installed: the web tests cannot run (required when CI=true)"; exit 1
else
	@echo "npm is not installed: the web tests are skipped"
endif

run: install web ## Apply migrations and serve on $(HOST):$(PORT) (SQLite and ./uploads by default)
	$(RUN) chat-media serve --host $(HOST) --port $(PORT)

migrate: install ## Apply pending migrations to DATABASE_URL
	$(RUN) alembic upgrade head

migration: install ## Write a new migration from the models: make migration msg="what changed"
	$(RUN) alembic revision --autogenerate -m "$(msg)"

token: install ## Mint a development token: make token user=alice
	$(RUN) chat-media token $(user)

test: install test-web ## Every test: the web client's, then pytest (PostgreSQL, Redis, Chromium ones skip when those are missing, unless CI=true)
	$(RUN) pytest

test-unit: install ## Run the unit tests (no disk, no network)
	$(RUN) pytest tests/unit

test-integration: install ## Run the integration tests
	$(RUN) pytest tests/integration

lint: install ## ruff, mypy (strict) and the import-linter layer contracts
	$(RUN) ruff check src tests bench migrations
	$(RUN) ruff format --check src tests bench migrations
	$(RUN) mypy src
	$(RUN) lint-imports
ifeq ($(HAVE_NPM),yes)
	@$(MAKE) --no-print-directory web/node_modules/.package-lock.json
	cd web && $(NPM) run lint --silent
endif

fmt: install ## Format and autofix
	$(RUN) ruff format src tests bench migrations
	$(RUN) ruff check --fix src tests bench migrations

bench: install ## Measure upload, download and listing throughput on loopback, then the chat reads, signed URLs, the web client, event commits and the malware scan
	$(RUN) python -m bench
	$(RUN) python -m bench.reads
	$(RUN) python -m bench.signed_urls
	$(RUN) python -m bench.web_client
	$(RUN) python -m bench.event_commits
	$(RUN) python -m bench.scan

bench-upload: install ## Upload throughput alone (50 and 10 MiB, .zip and .mp4) beside dd, the worker's memory, and where a 50 MiB upload's milliseconds go
	$(RUN) python -m bench upload

bench-download: install ## Download throughput alone: the service, nginx in front of it (SQLite, PostgreSQL), nginx alone
	$(RUN) python -m bench download

bench-reads: install ## The chat reads (conversations, a messages page, a message's media) at 32 connections beside a bare Litestar app doing the same reads, SQLite and PostgreSQL, 1 and 2 workers
	$(RUN) python -m bench.reads

bench-signed: install ## A download by signed URL beside the bearer header: the check alone and the answer time
	$(RUN) python -m bench.signed_urls

bench-web: install web ## The web client's bundle size (gzip) and its time to the first painted message list
	$(RUN) python -m bench.web_client

bench-media: install ## Time a 12 MP photo's processing, and the listing's latency beside photo uploads
	$(RUN) python -m bench.media

bench-heic: install ## Time a 12 MP HEIC's decode and conversion beside a 12 MP JPEG's, and the 1600 px preview's cost
	$(RUN) python -m bench.heic

bench-events: install ## Event-logging commits per second: cursors in commit order (counter) beside the sequence before
	$(RUN) python -m bench.event_commits

bench-scan: install ## 50 MB through clamd's INSTREAM (the adapter, a raw socket, clamdscan) and a 50 MB upload with and without SCAN=clamav
	$(RUN) python -m bench.scan

bench-storage: install ## Upload and download throughput with files on local disk vs in S3 (moto on loopback)
	$(RUN) python -m bench.storage

.PHONY: help uv install web test-web run migrate migration token test test-unit test-integration lint fmt bench bench-upload bench-download bench-media bench-heic bench-reads bench-signed bench-web bench-events bench-storage bench-scan

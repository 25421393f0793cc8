.DEFAULT_GOAL := help
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen
HOST ?= 127.0.0.1
PORT ?= 8000

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

install: uv ## Install the locked environment into .venv
	$(UV) sync --frozen

run: install ## Apply migrations and serve on $(HOST):$(PORT) (SQLite and ./uploads by default)
	$(RUN) chat-media serve --host $(HOST) --port $(PORT)

migrate: install ## Apply pending migrations to DATABASE_URL
	$(RUN) alembic upgrade head

migration: install ## Write a new migration from the models: make migration msg="what changed"
	$(RUN) alembic revision --autogenerate -m "$(msg)"

token: install ## Mint a development token: make token user=alice
	$(RUN) chat-media token $(user)

test: install ## Run every test (PostgreSQL and Redis ones skip when those are down, unless CI=true)
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

fmt: install ## Format and autofix
	$(RUN) ruff format src tests bench migrations
	$(RUN) ruff check --fix src tests bench migrations

bench: install ## Measure upload, download and listing throughput on loopback, then the signed URLs' cost
	$(RUN) python -m bench
	$(RUN) python -m bench.signed_urls

bench-upload: install ## Upload throughput alone (50 and 10 MiB, .zip and .mp4) beside dd, and the worker's memory
	$(RUN) python -m bench upload

bench-download: install ## Download throughput alone: the service, nginx in front of it (SQLite, PostgreSQL), nginx alone
	$(RUN) python -m bench download

bench-signed: install ## A download by signed URL beside the bearer header: the check alone and the answer time
	$(RUN) python -m bench.signed_urls

bench-media: install ## Time a 12 MP photo's processing, and the listing's latency beside photo uploads
	$(RUN) python -m bench.media

bench-storage: install ## Upload and download throughput with files on local disk vs in S3 (moto on loopback)
	$(RUN) python -m bench.storage

.PHONY: help uv install run migrate migration token test test-unit test-integration lint fmt bench bench-upload bench-download bench-media bench-signed bench-storage

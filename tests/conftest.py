"""Shared fixtures: databases in tests/databases.py; the HTTP app and its clients in
tests/integration/http_fixtures.py."""

pytest_plugins = ["tests.databases", "tests.integration.http_fixtures"]

"""Shared fixtures: databases in tests/databases.py; moto's S3 server in tests/s3.py; clamd in
tests/clamd.py; the HTTP app
and its clients in tests/integration/http_fixtures.py."""

pytest_plugins = ["tests.databases", "tests.s3", "tests.clamd", "tests.integration.http_fixtures"]

"""Fixtures of the PostgreSQL-backed deployment tests: one real PostgreSQL server for the session
(esg_assets_tests/support/postgres.py); the moto server and `s3_env` are the root conftest.py's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from esg_assets_tests.support.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """Started once for the session, stopped (and its folder removed) at the end."""
    with PostgresServer() as server:
        yield server

"""Fixtures of the PostgreSQL-backed deployment tests: one real PostgreSQL server for the session
(esg_assets_tests/postgres_server.py), the moto server of the storage tests, and a DAGSTER_HOME
holding the deployment file users copy, deploy/dagster-postgres.yaml."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from esg_assets_tests.conftest import REPO
from esg_assets_tests.postgres_server import PostgresServer
from esg_assets_tests.storage.conftest import moto_endpoint  # noqa: F401 - the session's moto server

DEPLOY_FILE = REPO / "deploy" / "dagster-postgres.yaml"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """Started once for the session, stopped (and its folder removed) at the end."""
    with PostgresServer() as server:
        yield server


def deploy_home(path: Path) -> Path:
    """A DAGSTER_HOME whose dagster.yaml is the deployment file, byte for byte."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY_FILE, path / "dagster.yaml")
    return path

"""The deployment file users copy (deploy/dagster-postgres.yaml) and a DAGSTER_HOME holding it."""

from __future__ import annotations

import shutil
from pathlib import Path

from esg_assets_tests.support.job import REPO

DEPLOY_FILE = REPO / "deploy" / "dagster-postgres.yaml"


def deploy_home(path: Path) -> Path:
    """A DAGSTER_HOME whose dagster.yaml is the deployment file, byte for byte."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY_FILE, path / "dagster.yaml")
    return path

"""Fixtures of the output tests: `load_storage()` on the private environment of `storage_env`
(the root conftest.py, with the session's moto server and `s3_env`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from esg_assets.settings import StorageSettings, load_storage


@pytest.fixture
def settings(storage_env: Path) -> StorageSettings:
    return load_storage()

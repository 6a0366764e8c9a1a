"""`open_store`: the configured store, local or S3 (`ESG_STORAGE`).

Apart from `store.py` because both stores import the interface and the shared part from there:
the factory imports them, they never import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from esg_assets.settings import StorageSettings
from esg_assets.storage.store import Store

if TYPE_CHECKING:
    from dagster_aws.s3 import S3Resource


def open_store(settings: StorageSettings, actor: str | None = None, s3: S3Resource | None = None) -> Store:
    """The configured store (`ESG_STORAGE`); `actor` defaults to `settings.audit_actor`; the S3
    store's client comes from `s3` (the Dagster resource) when given."""
    if settings.storage == "s3":
        from esg_assets.storage.s3 import S3Store

        return S3Store(settings, actor, s3=s3)
    from esg_assets.storage.local import LocalStore

    return LocalStore(settings, actor)

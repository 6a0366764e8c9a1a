"""Secure storage of the output files: encrypted local store or S3 (SSE-KMS), plus the audit log.

The assets and the CLI use only `open_store(settings)` and the `Store` interface; every write,
read, deletion and refused read lands in the hash-chained audit log (`esg_assets.storage.audit`).
"""

from esg_assets.storage.errors import (
    AuditError,
    StoreAccessRefused,
    StoreError,
    StoreIntegrityError,
    StoreNotFoundError,
    StorePermissionError,
)
from esg_assets.storage.names import KINDS, logical_name, validate_logical_name
from esg_assets.storage.factory import open_store
from esg_assets.storage.store import Store, StoredFile, StoredFileInfo

__all__ = [
    "KINDS",
    "AuditError",
    "Store",
    "StoreAccessRefused",
    "StoreError",
    "StoreIntegrityError",
    "StoreNotFoundError",
    "StorePermissionError",
    "StoredFile",
    "StoredFileInfo",
    "logical_name",
    "open_store",
    "validate_logical_name",
]

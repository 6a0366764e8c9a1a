"""Errors of the storage layer. Every message is one line and never carries a key or secret."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every storage error."""


class StoreIntegrityError(StoreError):
    """Stored content failed authentication: tampered, truncated, reordered or the wrong key."""


class StorePermissionError(StoreError):
    """The output directory or a file is not private to the job's user; refused, not repaired."""


class StoreNotFoundError(StoreError):
    """No stored file under that logical name."""


class StoreAccessRefused(StoreError):
    """The actor is not in ESG_AUTHORIZED_READERS (the refusal is audited)."""


class AuditError(StoreError):
    """The audit log cannot be appended to (it is malformed or unwritable)."""

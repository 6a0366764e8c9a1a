"""How an asset fails on a storage error: one line naming it, and no retry."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from esg_assets.storage.errors import StoreError


@contextmanager
def storage_failure(context: dg.AssetExecutionContext) -> Iterator[None]:
    """A storage error (the output file system full or read-only, the store unreachable) fails
    the step with its one line; the store has already removed its temporary file. Retrying would
    meet the same full disk or refused bucket."""
    try:
        yield
    except StoreError as err:
        context.log.error(f"storage error: {err}")
        raise dg.Failure(description=f"storage error: {err}", allow_retries=False) from None

"""Opening the job's upstream clients against a hostile server, with fast backoff."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from esg_assets.resources.clients import UpstreamClients, open_upstream
from esg_assets.settings import load_upstream
from esg_assets_tests.hostile.server import Hostile

FAST = {"ESG_API_BACKOFF_BASE_SECONDS": "0.01", "ESG_API_BACKOFF_MAX_SECONDS": "0.02",
        "ESG_API_TIMEOUT_SECONDS": "2", "ESG_API_RATE_LIMIT_PER_SECOND": "1000"}


@contextmanager
def clients(hostile: Hostile, **extra: str) -> Iterator[UpstreamClients]:
    """The job's clients (token, AMS, ESG API) for `hostile`, which must be running."""
    with open_upstream(load_upstream({**hostile.env(), **FAST, **extra})) as upstream:
        yield upstream

"""The upstream clients of one step (`UpstreamClients`): token endpoint, AMS and ESG API clients
that share one session, one rate limiter and one in-flight ceiling per step, and one token per
process (`shared_token_provider`); `UpstreamResource` is the Dagster resource that opens them."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg

from esg_assets.resources.ams import AmsClient
from esg_assets.resources.auth import BearerGetter, shared_token_provider
from esg_assets.resources.counters import ApiCounters
from esg_assets.resources.esg_api import EsgApiClient
from esg_assets.resources.http import make_session
from esg_assets.resources.places import in_flight_places
from esg_assets.resources.rate_limiter import RateLimiter
from esg_assets.resources.retry import stoppable_sleep
from esg_assets.settings import UpstreamSettings


# Seconds of calls at R queued for the workers (`UpstreamClients.queued`): the calling thread
# that feeds them also commits each batch and reports the forecast, which hold it for a tenth of a
# second and more at times (docs/benchmarks.md, "The calling thread's stalls").
QUEUED_SECONDS = 2.0


@dataclass(frozen=True)
class UpstreamClients:
    settings: UpstreamSettings
    ams: AmsClient
    esg: EsgApiClient
    counters: ApiCounters
    # Set when the fetch stops early (the run is terminated, or a critical error): ESG API
    # backoff waits end at once and no further attempt is made (see worker_pool.py).
    stop: threading.Event

    @property
    def workers(self) -> int:
        """Worker threads: twice the in-flight ceiling, so accounts waiting out a backoff do
        not leave request slots idle."""
        return self.settings.max_concurrency * 2

    @property
    def queued(self) -> int:
        """Accounts that may wait for a worker: QUEUED_SECONDS of calls at the rate limit."""
        return max(self.workers * 2, math.ceil(self.settings.rate_limit_per_second * QUEUED_SECONDS))


@contextmanager
def open_upstream(settings: UpstreamSettings) -> Iterator[UpstreamClients]:
    session = make_session(pool_size=settings.max_concurrency + 2)
    counters = ApiCounters()
    stop = threading.Event()
    tokens = shared_token_provider(settings)
    in_flight = in_flight_places(settings.max_concurrency)
    limiter = RateLimiter(settings.rate_limit_per_second)
    esg_getter = BearerGetter(session, tokens, settings, in_flight, limiter, counters)
    # The AMS is not the ESG API: its requests are neither rate limited nor counted.
    ams_getter = BearerGetter(session, tokens, settings, in_flight_places(settings.max_concurrency))
    try:
        with tokens.counting(counters), tokens.stopping(stop):
            yield UpstreamClients(
                settings=settings,
                ams=AmsClient(ams_getter, settings, sleep=stoppable_sleep(stop)),
                esg=EsgApiClient(esg_getter, settings, counters, sleep=stoppable_sleep(stop)),
                counters=counters,
                stop=stop,
            )
    finally:
        session.close()


class UpstreamResource(dg.ConfigurableResource):
    """The firm's token endpoint, AMS and ESG API, configured from the ESG_* environment
    (configuration.md); secrets never pass through Dagster config or the UI."""

    @contextmanager
    def open(self, settings: UpstreamSettings) -> Iterator[UpstreamClients]:
        with open_upstream(settings) as upstream:
            yield upstream

"""configuration.md, "Upstream": the token endpoint, AMS and ESG API variables."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from esg_assets.settings.env import ConfigError, Env, Secret, scrub_secrets


@dataclass(frozen=True)
class UpstreamSettings:
    token_url: str
    client_id: Secret
    client_secret: Secret
    ams_base_url: str
    api_base_url: str
    ca_bundle: str | None
    rate_limit_per_second: float
    max_concurrency: int
    timeout_seconds: float
    max_attempts: int
    backoff_base_seconds: float
    backoff_max_seconds: float
    max_rating_age_days: int
    carry_check_sample: int = 20  # ESG_CARRY_CHECK_SAMPLE (docs/spec.md#carry-forward-check); 0 turns the check off
    # Longest Retry-After waited out (ESG_API_RETRY_AFTER_MAX_SECONDS); a longer one ends the
    # account's attempts, or fails the run on an AMS page or the token endpoint.
    retry_after_max_seconds: float = 120.0

    @property
    def verify(self) -> str | bool:
        """The `verify=` argument for requests: the extra CA bundle, or the system store."""
        return self.ca_bundle or True


@scrub_secrets
def load_upstream(env: Mapping[str, str] | None = None) -> UpstreamSettings:
    e = Env(os.environ if env is None else env)
    backoff_base = e.number("ESG_API_BACKOFF_BASE_SECONDS", 1.0, integer=False, minimum=0, maximum=600)
    backoff_max = e.number("ESG_API_BACKOFF_MAX_SECONDS", 30.0, integer=False, minimum=0, maximum=3600)
    return UpstreamSettings(
        token_url=e.url("ESG_AUTH_TOKEN_URL"),  # type: ignore[arg-type]
        client_id=Secret(e.required("ESG_CLIENT_ID")),
        client_secret=Secret(e.required("ESG_CLIENT_SECRET")),
        ams_base_url=e.url("ESG_AMS_BASE_URL"),  # type: ignore[arg-type]
        api_base_url=e.url("ESG_API_BASE_URL"),  # type: ignore[arg-type]
        ca_bundle=_ca_bundle(e),
        rate_limit_per_second=e.number("ESG_API_RATE_LIMIT_PER_SECOND", 50, integer=False, minimum=0.001, maximum=100_000),
        max_concurrency=int(e.number("ESG_API_MAX_CONCURRENCY", 16, integer=True, minimum=1, maximum=512)),
        timeout_seconds=e.number("ESG_API_TIMEOUT_SECONDS", 10.0, integer=False, minimum=0.001, maximum=600),
        max_attempts=int(e.number("ESG_API_MAX_ATTEMPTS", 3, integer=True, minimum=1, maximum=20)),
        backoff_base_seconds=backoff_base,
        backoff_max_seconds=max(backoff_max, 0.0),
        max_rating_age_days=int(e.number("ESG_MAX_RATING_AGE_DAYS", 7, integer=True, minimum=0, maximum=3650)),
        carry_check_sample=int(e.number("ESG_CARRY_CHECK_SAMPLE", 20, integer=True, minimum=0, maximum=100_000)),
        retry_after_max_seconds=e.number("ESG_API_RETRY_AFTER_MAX_SECONDS", 120.0, integer=False, minimum=0,
                                         maximum=3600),
    )


def _ca_bundle(e: Env) -> str | None:
    """A file that holds no PEM certificate is refused here, in one line: the TLS context that
    loads it (resources/tls.py) is only made at the first request."""
    path = e.raw("ESG_CA_BUNDLE")
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"ESG_CA_BUNDLE names {path!r}, which is not a readable file")
    if path is not None:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
        except (ssl.SSLError, OSError):
            raise ConfigError(f"ESG_CA_BUNDLE names {path!r}, which holds no PEM CA certificate") from None
    return path

"""Every environment variable of configuration.md, read, defaulted and validated in one place.

The job, the sensors and the `esg-ratings` command all read their configuration through
`load_settings()` (or one section's loader). It reads the environment once, applies the
documented defaults and turns a missing or malformed value into `ConfigError`, whose message is
one line naming the variable. Secrets are wrapped in `Secret`, whose `str()`/`repr()` never shows
the value. One module per section of configuration.md: `upstream.py`, `storage.py`, `alerts.py`;
the reading and checking of one variable is `env.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from esg_assets.settings.alerts import AlertSettings, load_alerts
from esg_assets.settings.env import ConfigError, Secret, check_url, is_loopback_host
from esg_assets.settings.storage import StorageSettings, load_storage
from esg_assets.settings.upstream import UpstreamSettings, load_upstream

__all__ = ["AlertSettings", "ConfigError", "Secret", "Settings", "StorageSettings", "UpstreamSettings",
           "check_url", "is_loopback_host", "load_alerts", "load_settings", "load_storage", "load_upstream"]


@dataclass(frozen=True)
class Settings:
    upstream: UpstreamSettings
    storage: StorageSettings
    alerts: AlertSettings


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """All settings of the job; raises ConfigError (one line) on the first bad variable."""
    return Settings(upstream=load_upstream(env), storage=load_storage(env), alerts=load_alerts(env))

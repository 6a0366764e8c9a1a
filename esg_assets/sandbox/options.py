"""The sandbox's knobs: command-line defaults plus the ones `POST /_sandbox/config` may change."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

FEED_MODES = ("ok", "501", "404", "broken")


def chicago_today() -> date:
    return datetime.now(ZoneInfo("America/Chicago")).date()


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 0
    accounts: int = 1000
    seed: int = 1
    today: date | None = None
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    token_ttl: int = 3600
    error_rate: float = 0.0
    partial_rate: float = 0.0
    duplicate_rate: float = 0.0
    timeout_delay: float = 15.0
    rate_limit: float = 0.0
    latency_ms: float = 0.0
    feed_mode: str = "ok"
    # Days before `today` of each account's initial analysis (inclusive range, per account by
    # hash). Real providers keep one analysis for months: "30-400" plays such a provider.
    analysis_age_days: tuple[int, int] = (0, 2)
    request_log: str | None = None
    max_log_entries: int = 2_000_000
    ready_file: str | None = None
    # TLS: with both set the server speaks HTTPS only (PEM files; the key must be unencrypted).
    tls_cert: str | None = None
    tls_key: str | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    def runtime(self) -> dict[str, Any]:
        """The knobs `/_sandbox/config` reads and sets."""
        return {k: v for k, v in asdict(self).items() if k in _RUNTIME}

    def update(self, spec: dict[str, Any]) -> None:
        """Validate the whole spec, then apply it; ValueError names the bad key."""
        new: dict[str, Any] = {}
        for key, value in spec.items():
            if key not in _RUNTIME:
                raise ValueError(f"not a runtime knob: {key!r} (known: {sorted(_RUNTIME)})")
            kind = _RUNTIME[key]
            if kind is str:
                if str(value) not in FEED_MODES:
                    raise ValueError(f"feed_mode must be one of {FEED_MODES}")
                new[key] = str(value)
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
            if key.endswith("_rate") and key != "rate_limit" and value > 1:
                raise ValueError(f"{key} must be between 0 and 1")
            new[key] = kind(value)
        for key, value in new.items():
            setattr(self, key, value)


_RUNTIME: dict[str, type] = {
    "feed_mode": str,
    "rate_limit": float,
    "latency_ms": float,
    "error_rate": float,
    "partial_rate": float,
    "duplicate_rate": float,
    "timeout_delay": float,
    "token_ttl": int,
}

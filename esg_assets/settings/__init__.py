"""Every environment variable of configuration.md, read, defaulted and validated in one place.

The job, the sensors and the `esg-ratings` command all read their configuration through
`load_settings()`. It reads the environment once, applies the documented defaults and turns a
missing or malformed value into `ConfigError`, whose message is one line naming the variable.
Secrets are wrapped in `Secret`, whose `str()`/`repr()` never shows the value.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from esg_assets.settings.env import ConfigError, Env, Secret, check_url, is_loopback_host, parse_master_key, scrub_secrets

__all__ = ["AlertSettings", "ConfigError", "Secret", "Settings", "StorageSettings", "UpstreamSettings",
           "check_url", "is_loopback_host", "load_alerts", "load_settings", "load_storage", "load_upstream"]


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


@dataclass(frozen=True)
class StorageSettings:
    state_db: Path
    storage: str  # "local" or "s3"
    output_dir: Path
    encryption_key: Secret  # base64 of 32 bytes; decoded by `encryption_key_bytes`
    s3_bucket: str | None
    s3_prefix: str
    s3_kms_key_id: str | None
    s3_endpoint_url: str | None
    retention_days: int
    audit_actor: str
    authorized_readers: tuple[str, ...]
    audit_log: Path
    log_dir: Path
    state_db_memory_limit: str = "128MB"

    @property
    def encryption_key_bytes(self) -> bytes:
        return parse_master_key(self.encryption_key.value, "ESG_FILE_ENCRYPTION_KEY")


@dataclass(frozen=True)
class AlertSettings:
    email_to: tuple[str, ...]
    smtp_host: str | None
    smtp_port: int
    smtp_user: str | None
    smtp_password: Secret
    smtp_starttls: bool
    email_from: str | None
    pagerduty_routing_key: Secret
    pagerduty_events_url: str

    @property
    def email_enabled(self) -> bool:
        return bool(self.email_to)

    @property
    def pagerduty_enabled(self) -> bool:
        return bool(self.pagerduty_routing_key)


@dataclass(frozen=True)
class Settings:
    upstream: UpstreamSettings
    storage: StorageSettings
    alerts: AlertSettings


def _encryption_key(env: Env) -> Secret:
    name = "ESG_FILE_ENCRYPTION_KEY"
    value = env.required(name)
    parse_master_key(value, name)  # validated once here: a bad key stops the run before any call
    return Secret(value)


def _dagster_home(env: Env, needed_for: str) -> Path:
    home = env.raw("DAGSTER_HOME")
    if home is None:
        raise ConfigError(f"{needed_for} is not set and DAGSTER_HOME is not set to derive it from")
    return Path(home)


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
    path = e.raw("ESG_CA_BUNDLE")
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"ESG_CA_BUNDLE names {path!r}, which is not a readable file")
    return path


@scrub_secrets
def load_storage(env: Mapping[str, str] | None = None) -> StorageSettings:
    e = Env(os.environ if env is None else env)
    state_db_raw = e.raw("ESG_STATE_DB")
    state_db = (
        Path(state_db_raw)
        if state_db_raw
        else _dagster_home(e, "ESG_STATE_DB") / "esg_state.duckdb"
    )
    storage = (e.raw("ESG_STORAGE") or "local").lower()
    if storage not in ("local", "s3"):
        raise ConfigError(f"ESG_STORAGE must be 'local' or 's3', got {storage!r}")
    output_raw = e.raw("ESG_OUTPUT_DIR")
    output_dir = Path(output_raw) if output_raw else _dagster_home(e, "ESG_OUTPUT_DIR") / "output"
    key = _encryption_key(e)
    bucket = e.raw("ESG_S3_BUCKET")
    kms = e.raw("ESG_S3_KMS_KEY_ID")
    endpoint = e.url("ESG_S3_ENDPOINT_URL", required=False)
    if storage == "s3":
        if bucket is None:
            raise ConfigError("ESG_S3_BUCKET is required when ESG_STORAGE=s3")
        if kms is None:
            raise ConfigError("ESG_S3_KMS_KEY_ID is required when ESG_STORAGE=s3")
    prefix = e.raw("ESG_S3_PREFIX") or "esg-ratings/"
    actor = e.raw("ESG_AUDIT_ACTOR") or _os_user()
    readers = e.csv_list("ESG_AUTHORIZED_READERS") or (_os_user(),)
    audit_raw = e.raw("ESG_AUDIT_LOG")
    log_raw = e.raw("ESG_LOG_DIR")
    base = state_db.parent
    return StorageSettings(
        state_db=state_db,
        storage=storage,
        output_dir=output_dir,
        encryption_key=key,
        s3_bucket=bucket,
        s3_prefix=prefix,
        s3_kms_key_id=kms,
        s3_endpoint_url=endpoint,
        retention_days=int(e.number("ESG_RETENTION_DAYS", 2555, integer=True, minimum=1, maximum=36500)),
        audit_actor=actor,
        authorized_readers=readers,
        audit_log=Path(audit_raw) if audit_raw else base / "esg_audit.jsonl",
        log_dir=Path(log_raw) if log_raw else base / "logs",
        state_db_memory_limit=_memory_size(e),
    )


def _memory_size(e: Env) -> str:
    """DuckDB's working-memory cap for the job's connections (spills beyond it)."""
    name = "ESG_STATE_DB_MEMORY_LIMIT"
    value = e.raw(name) or "128MB"
    if not re.fullmatch(r"[1-9][0-9]*(MB|GB)", value.replace(" ", "").upper()):
        raise ConfigError(f"{name} must be a size such as 128MB or 1GB, got {value!r}")
    return value.replace(" ", "").upper()


@scrub_secrets
def load_alerts(env: Mapping[str, str] | None = None) -> AlertSettings:
    e = Env(os.environ if env is None else env)
    email_to = e.csv_list("ESG_ALERT_EMAIL_TO")
    smtp_host = e.raw("ESG_SMTP_HOST")
    email_from = e.raw("ESG_ALERT_EMAIL_FROM")
    if email_to and smtp_host is None:
        raise ConfigError("ESG_SMTP_HOST is required when ESG_ALERT_EMAIL_TO is set")
    if email_to and email_from is None:
        raise ConfigError("ESG_ALERT_EMAIL_FROM is required when ESG_ALERT_EMAIL_TO is set")
    return AlertSettings(
        email_to=email_to,
        smtp_host=smtp_host,
        smtp_port=int(e.number("ESG_SMTP_PORT", 587, integer=True, minimum=1, maximum=65535)),
        smtp_user=e.raw("ESG_SMTP_USER"),
        smtp_password=Secret(e.raw("ESG_SMTP_PASSWORD") or ""),
        smtp_starttls=e.boolean("ESG_SMTP_STARTTLS", True),
        email_from=email_from,
        pagerduty_routing_key=Secret(e.raw("ESG_PAGERDUTY_ROUTING_KEY") or ""),
        pagerduty_events_url=e.url(  # type: ignore[arg-type]
            "ESG_PAGERDUTY_EVENTS_URL",
            required=False,
            default="https://events.pagerduty.com/v2/enqueue",
        ),
    )


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """All settings of the job; raises ConfigError (one line) on the first bad variable."""
    return Settings(upstream=load_upstream(env), storage=load_storage(env), alerts=load_alerts(env))


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())

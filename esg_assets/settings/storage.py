"""configuration.md, "State, storage, security": the state database, the output store (local or
S3), the files key, retention, the audit log and the job log."""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from esg_assets.settings.env import ConfigError, Env, Secret, parse_master_key, scrub_secrets


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


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())

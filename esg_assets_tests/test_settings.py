"""Configuration: defaults, and one clear line naming a missing or malformed variable."""

import base64

import pytest

from esg_assets.settings import ConfigError, load_settings

KEY = base64.b64encode(bytes(range(32))).decode()


def base_env(**extra: str) -> dict[str, str]:
    env = {
        "DAGSTER_HOME": "/tmp/esg-home",
        "ESG_AUTH_TOKEN_URL": "http://127.0.0.1:9/oauth2/token",
        "ESG_CLIENT_ID": "id",
        "ESG_CLIENT_SECRET": "s3cr3t-value",
        "ESG_AMS_BASE_URL": "http://localhost:9/ams",
        "ESG_API_BASE_URL": "https://esg.example.com/api",
        "ESG_FILE_ENCRYPTION_KEY": KEY,
    }
    env.update(extra)
    return env


def test_defaults() -> None:
    s = load_settings(base_env())
    u = s.upstream
    assert (u.rate_limit_per_second, u.max_concurrency, u.timeout_seconds, u.max_attempts) == (50, 16, 10.0, 3)
    assert (u.backoff_base_seconds, u.backoff_max_seconds, u.max_rating_age_days) == (1.0, 30.0, 7)
    assert u.carry_check_sample == 20
    assert str(s.storage.state_db) == "/tmp/esg-home/esg_state.duckdb"
    assert str(s.storage.output_dir) == "/tmp/esg-home/output"
    assert s.storage.storage == "local" and s.storage.s3_prefix == "esg-ratings/"
    assert s.storage.retention_days == 2555
    assert s.storage.state_db_memory_limit == "128MB"
    assert s.alerts.smtp_port == 587 and s.alerts.smtp_starttls is True
    assert s.alerts.pagerduty_events_url == "https://events.pagerduty.com/v2/enqueue"
    assert not s.alerts.email_enabled and not s.alerts.pagerduty_enabled


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("ESG_CLIENT_SECRET", "", "ESG_CLIENT_SECRET is required"),
        ("ESG_AUTH_TOKEN_URL", "", "ESG_AUTH_TOKEN_URL is required"),
        ("ESG_API_BASE_URL", "http://esg.example.com/api", "ESG_API_BASE_URL uses plain http://"),
        ("ESG_AMS_BASE_URL", "ftp://127.0.0.1/ams", "ESG_AMS_BASE_URL must be an http(s) URL"),
        ("ESG_API_RATE_LIMIT_PER_SECOND", "fast", "ESG_API_RATE_LIMIT_PER_SECOND must be a number"),
        ("ESG_API_MAX_CONCURRENCY", "0", "ESG_API_MAX_CONCURRENCY must be at least 1"),
        ("ESG_API_MAX_ATTEMPTS", "2.5", "ESG_API_MAX_ATTEMPTS must be an integer"),
        ("ESG_FILE_ENCRYPTION_KEY", "", "ESG_FILE_ENCRYPTION_KEY is required"),
        ("ESG_FILE_ENCRYPTION_KEY", "not base64!", "ESG_FILE_ENCRYPTION_KEY must be base64"),
        ("ESG_FILE_ENCRYPTION_KEY", base64.b64encode(b"short").decode(), "decodes to 5"),
        ("ESG_STORAGE", "ftp", "ESG_STORAGE must be 'local' or 's3'"),
        ("ESG_CA_BUNDLE", "/nonexistent/ca.pem", "ESG_CA_BUNDLE names"),
        ("ESG_SMTP_STARTTLS", "maybe", "ESG_SMTP_STARTTLS must be true or false"),
        ("ESG_STATE_DB_MEMORY_LIMIT", "lots", "ESG_STATE_DB_MEMORY_LIMIT must be a size"),
        ("ESG_CARRY_CHECK_SAMPLE", "-1", "ESG_CARRY_CHECK_SAMPLE must be at least 0"),
        ("ESG_CARRY_CHECK_SAMPLE", "twenty", "ESG_CARRY_CHECK_SAMPLE must be an integer"),
        ("ESG_MAX_RATING_AGE_DAYS", "1.5", "ESG_MAX_RATING_AGE_DAYS must be an integer"),
        ("ESG_PAGERDUTY_EVENTS_URL", "http://pagerduty.example.com/x", "ESG_PAGERDUTY_EVENTS_URL uses plain http://"),
    ],
)
def test_bad_variable_is_one_line_naming_it(name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(base_env(**{name: value}))
    message = str(info.value)
    assert fragment in message
    assert name in message
    assert "\n" not in message


def test_s3_needs_bucket_and_kms_key() -> None:
    with pytest.raises(ConfigError, match="ESG_S3_BUCKET"):
        load_settings(base_env(ESG_STORAGE="s3"))
    with pytest.raises(ConfigError, match="ESG_S3_KMS_KEY_ID"):
        load_settings(base_env(ESG_STORAGE="s3", ESG_S3_BUCKET="b"))


def test_secrets_never_print() -> None:
    s = load_settings(base_env())
    assert "s3cr3t-value" not in repr(s) and "s3cr3t-value" not in str(s.upstream.client_secret)
    assert KEY not in repr(s)


def test_loopback_http_is_accepted() -> None:
    s = load_settings(base_env(ESG_API_BASE_URL="http://[::1]:8080/esg"))
    assert s.upstream.api_base_url == "http://[::1]:8080/esg"

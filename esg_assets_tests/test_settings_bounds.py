"""Hostile or careless settings: every value has an upper bound as well as a lower one, and no
configuration error ever shows a URL's userinfo or the value of a secret variable."""

from __future__ import annotations

import pytest

from esg_assets.settings import ConfigError, load_settings
from esg_assets_tests.test_settings import base_env


def test_retry_after_ceiling_defaults_to_120_and_is_read() -> None:
    assert load_settings(base_env()).upstream.retry_after_max_seconds == 120
    assert load_settings(base_env(ESG_API_RETRY_AFTER_MAX_SECONDS="5")).upstream.retry_after_max_seconds == 5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ESG_RETENTION_DAYS", "1000000"),
        ("ESG_API_RATE_LIMIT_PER_SECOND", "1e300"),
        ("ESG_API_MAX_CONCURRENCY", "1_000_000"),
        ("ESG_API_MAX_CONCURRENCY", "1000000"),
        ("ESG_API_MAX_ATTEMPTS", "100000"),
        ("ESG_API_TIMEOUT_SECONDS", "1e9"),
        ("ESG_API_BACKOFF_BASE_SECONDS", "1e9"),
        ("ESG_API_BACKOFF_MAX_SECONDS", "1e9"),
        ("ESG_MAX_RATING_AGE_DAYS", "99999999"),
        ("ESG_API_RETRY_AFTER_MAX_SECONDS", "1e9"),
        ("ESG_API_RETRY_AFTER_MAX_SECONDS", "-1"),
        ("ESG_SMTP_PORT", "70000"),
    ],
)
def test_a_value_above_its_bound_is_one_line_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(base_env(**{name: value}))
    message = str(info.value)
    assert name in message and "\n" not in message
    assert "at most" in message or "at least" in message or "integer" in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ESG_AUTH_TOKEN_URL", "htps://esg-client:TopSecret123@auth.example.com/token"),
        ("ESG_AUTH_TOKEN_URL", "https://esg-client:TopSecret123@auth.example.com/token"),
        ("ESG_AMS_BASE_URL", "http://esg-client:TopSecret123@ams.example.com/"),
        ("ESG_API_BASE_URL", "https://TopSecret123@[::1/x"),
        ("ESG_S3_ENDPOINT_URL", "ftp://u:TopSecret123@127.0.0.1:9000"),
        ("ESG_PAGERDUTY_EVENTS_URL", "http://x:TopSecret123@pagerduty.example.com/"),
    ],
)
def test_a_bad_url_never_echoes_its_userinfo(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(base_env(**{name: value}))
    message = str(info.value)
    assert name in message and "\n" not in message
    assert "TopSecret123" not in message and "esg-client" not in message


@pytest.mark.parametrize("secret_var", ["ESG_CLIENT_SECRET", "ESG_SMTP_PASSWORD", "ESG_PAGERDUTY_ROUTING_KEY"])
def test_a_secret_pasted_into_another_variable_is_not_echoed(secret_var: str) -> None:
    """The operator pasted the secret into the wrong variable: the error names the variable
    but never shows the value, which is also a secret's."""
    secret = "Sup3rSecretValue"
    env = base_env(**{secret_var: secret, "ESG_API_MAX_CONCURRENCY": secret})
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert "ESG_API_MAX_CONCURRENCY" in str(info.value) and secret not in str(info.value)

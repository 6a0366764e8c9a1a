"""configuration.md: a missing or malformed required variable stops the run at its start with one
line naming the variable; nothing is called, nothing is written (no file, no state DB, no audit
record) and no secret is shown. Proven here on the asset functions themselves (direct.py), one
case a few milliseconds; conformance/test_cli_config.py keeps a few of these cases through the
`dagster asset materialize` command line, which shows that the line reaches the operator."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from esg_assets.assets.accounts import active_accounts
from esg_assets.assets.files import ratings_csv
from esg_assets.assets.ratings import RatingsConfig, esg_ratings
from esg_assets.assets.summary import daily_summary
from esg_assets_tests.assets.direct import direct_env, failure, use_env
from esg_assets_tests.sandbox.harness import SandboxProcess

S3 = {"ESG_STORAGE": "s3", "ESG_S3_BUCKET": "esg-bucket", "ESG_S3_KMS_KEY_ID": "alias/esg"}
# (variable, value or None for "left out", other variables, the line the run stops with)
CASES = [
    *((name, None, {}, f"{name} is required but not set") for name in (
        "ESG_AUTH_TOKEN_URL", "ESG_CLIENT_ID", "ESG_CLIENT_SECRET", "ESG_AMS_BASE_URL", "ESG_API_BASE_URL",
        "ESG_FILE_ENCRYPTION_KEY")),
    ("ESG_CLIENT_SECRET", "", {}, "ESG_CLIENT_SECRET is required but not set"),
    ("ESG_FILE_ENCRYPTION_KEY", "this is not base64 at all!!", {},
     "ESG_FILE_ENCRYPTION_KEY must be base64 of 32 random bytes (it is not valid base64)"),
    ("ESG_FILE_ENCRYPTION_KEY", base64.b64encode(bytes(range(16))).decode(), {},  # fixed: xdist workers must collect the same ids
     "ESG_FILE_ENCRYPTION_KEY must be base64 of 32 random bytes (it decodes to 16)"),
    ("ESG_API_MAX_CONCURRENCY", "sixteen", {}, "ESG_API_MAX_CONCURRENCY must be an integer, got 'sixteen'"),
    ("ESG_API_MAX_CONCURRENCY", "many", {}, "ESG_API_MAX_CONCURRENCY must be an integer, got 'many'"),
    ("ESG_API_BASE_URL", "http://esg.example.com/esg-api", {},
     "ESG_API_BASE_URL uses plain http:// to a non-loopback host 'esg.example.com'; use https://"),
    ("ESG_API_BASE_URL", "http://esg.example.com/api", {},
     "ESG_API_BASE_URL uses plain http:// to a non-loopback host 'esg.example.com'; use https://"),
    ("ESG_STORAGE", "ftp", {}, "ESG_STORAGE must be 'local' or 's3', got 'ftp'"),
    ("ESG_S3_ENDPOINT_URL", "http://s3.example.com:9000", S3,
     "ESG_S3_ENDPOINT_URL uses plain http:// to a non-loopback host 's3.example.com'; use https://"),
]
IDS = [f"{name}={'unset' if value is None else value[:20]}" for name, value, _, _ in CASES]
SECRETS = ("ESG_CLIENT_SECRET", "ESG_FILE_ENCRYPTION_KEY", "ESG_SMTP_PASSWORD", "ESG_PAGERDUTY_ROUTING_KEY")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(accounts=3, seed=2) as sb:
        yield sb


def bad_env(home: Path, sandbox: SandboxProcess, name: str, value: str | None, extra: dict[str, str]) -> dict[str, str]:
    env = direct_env(home, sandbox, ESG_SMTP_PASSWORD="smtp-" + secrets.token_hex(12),
                     ESG_PAGERDUTY_ROUTING_KEY="R" + secrets.token_hex(15), **extra)
    if value is None:
        del env[name]
    else:
        env[name] = value
    return env


def nothing_written(home: Path) -> bool:
    """No file, no state DB, no audit record: the home holds nothing at all."""
    return [p for p in home.rglob("*")] == []


def assert_stops_at_start(err: dg.Failure, line: str, env: dict[str, str], sandbox: SandboxProcess, mark: int) -> None:
    assert err.description == f"configuration error: {line}" and "\n" not in err.description
    assert not err.allow_retries
    assert sandbox.requests(mark) == []  # nothing is called (not even the token endpoint)
    for name in SECRETS:
        if env.get(name):
            assert env[name] not in err.description


@pytest.mark.parametrize(("name", "value", "extra", "line"), CASES, ids=IDS)
def test_a_bad_variable_stops_the_first_asset_before_any_call_or_write(sandbox, tmp_path, monkeypatch,
                                                                      name, value, extra, line) -> None:
    home = tmp_path / "home"
    env = bad_env(home, sandbox, name, value, extra)
    use_env(monkeypatch, env)
    mark = sandbox.next_index()
    assert_stops_at_start(failure(active_accounts), line, env, sandbox, mark)
    assert nothing_written(home)


@pytest.mark.parametrize("asset", [esg_ratings, ratings_csv, daily_summary], ids=lambda a: a.key.to_user_string())
def test_every_later_asset_stops_at_its_start_alike(sandbox, tmp_path, monkeypatch, asset) -> None:
    home = tmp_path / "home"
    env = bad_env(home, sandbox, "ESG_CLIENT_SECRET", None, {})
    use_env(monkeypatch, env)
    mark = sandbox.next_index()
    config = {"config": RatingsConfig()} if asset is esg_ratings else {}
    assert_stops_at_start(failure(asset, **config), "ESG_CLIENT_SECRET is required but not set", env, sandbox, mark)
    assert nothing_written(home)

"""configuration.md, as an outside suite checks it: a missing or malformed required variable stops
the run at its start with a line naming the variable; nothing is called, nothing is written (no
file, no state DB, no audit record) and no secret is shown."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from esg_assets_tests.conformance.cli_world import (
    DAY,
    the_world,
    files_under,
    contract_env,
    secrets_of,
    store_of,
    state_db_of,
    audit_log_of,
)
from esg_assets_tests.conformance.harness import Ran, materialize_apart
from esg_assets_tests.conformance.upstream import Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


# ---- configuration.md: "A missing or malformed required variable stops the run at its start ..." ------
@dataclass(frozen=True)
class BadConfig:
    label: str
    variable: str
    value: str | None  # None: the variable is left out
    extra: tuple[tuple[str, str], ...] = ()


# One missing secret, one malformed value, one that needs other variables: the line reaches the
# operator through the command line. Every other case (each required variable missing, the
# 16-byte key, a non-number, plain http://, an unknown store) is proven on the assets themselves,
# with the same checks, in assets/test_bad_config_direct.py.
CONFIG_CASES = [
    BadConfig("missing-ESG_CLIENT_SECRET", "ESG_CLIENT_SECRET", None),
    BadConfig("key-not-base64", "ESG_FILE_ENCRYPTION_KEY", "this is not base64 at all!!"),
    BadConfig("s3-endpoint-http-not-loopback", "ESG_S3_ENDPOINT_URL", "http://s3.example.com:9000",
              (("ESG_STORAGE", "s3"), ("ESG_S3_BUCKET", "esg-bucket"), ("ESG_S3_KMS_KEY_ID", "alias/esg"))),
]


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Ran]:
    # Made here, not in the threads: pytest's temp factory is not thread-safe on first use.
    homes = {case.label: tmp_path_factory.mktemp(case.label) for case in CONFIG_CASES}
    cases = {case.label: case for case in CONFIG_CASES}

    def setup(label: str, home: Path, upstream: Upstream) -> dict[str, str]:
        case = cases[label]
        env = contract_env(home, upstream, **dict(case.extra))
        if case.value is None:
            del env[case.variable]
        else:
            env[case.variable] = case.value
        return env

    return materialize_apart(homes, {label: the_world() for label in cases}, DAY, setup)


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c.label for c in CONFIG_CASES])
def test_bad_variable_stops_the_run_at_start(bad_runs: dict[str, Ran], case: BadConfig) -> None:
    bad = bad_runs[case.label]
    output = bad.done.stdout + bad.done.stderr
    assert bad.done.returncode != 0, output[-2000:]
    naming = [line for line in output.splitlines() if case.variable in line and len(line) < 300]
    assert naming, f"no clear line naming {case.variable}:\n{output[-3000:]}"
    assert bad.log == [], [(e.kind, e.path) for e in bad.log]  # nothing is called
    assert files_under(store_of(bad.env)) == []  # nothing is written
    assert not state_db_of(bad.env).exists(), "the state DB was created"
    assert not audit_log_of(bad.env).exists() or not audit_log_of(bad.env).read_bytes().strip(), "audit records written"
    for secret in secrets_of(bad.env):
        assert secret not in output

"""The job's processes run with umask 077, set when the package is imported. What a real CLI run
then leaves under DAGSTER_HOME (nothing open to group or others but the Prometheus textfile) is
checked on the e2e module's one CLI run: test_cli_e2e.py::test_a_cli_run_leaves_nothing_readable_by_others."""

from __future__ import annotations

import subprocess
import sys

import pytest

from esg_assets_tests.support.job import clean_environ

pytestmark = pytest.mark.e2e


def test_importing_the_package_sets_umask_077() -> None:
    code = "import os, esg_assets; print(oct(os.umask(0)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=clean_environ())
    assert done.stdout.strip() == "0o77", done.stderr

"""The definitions load, validate, and hold the four assets, the check, job and schedule."""

import dagster as dg

from esg_assets.definitions import defs


def test_definitions_validate() -> None:
    dg.Definitions.validate_loadable(defs)


def test_the_four_assets_and_the_check_are_defined() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {"active_accounts", "esg_ratings", "ratings_csv", "daily_summary"}
    checks = {c.name for c in graph.asset_check_keys}
    assert "call_failure_rate_within_5_percent" in checks
    assert defs.resolve_job_def("esg_daily_job") is not None


def test_workspace_and_module_entry_points_validate_with_the_dagster_cli() -> None:
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    dagster = Path(sys.executable).parent / "dagster"
    for target in (["-w", "workspace.yaml"], ["-m", "esg_assets"]):
        done = subprocess.run([str(dagster), "definitions", "validate", *target], cwd=repo,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]


def test_the_package_loads_its_definitions_only_when_asked() -> None:
    """`esg-ratings files get`, the sandbox and spawned children import `esg_assets` without Dagster
    (2.4 CPU-s each otherwise); `esg_assets.defs` and `dir(esg_assets)` still give the loader its
    `Definitions` (the `-m esg_assets` case of the test above runs the real loader)."""
    import subprocess
    import sys

    probe = ("import sys, esg_assets, esg_assets.cli, esg_assets.cli.files, esg_assets.sandbox.server; "
             "print('dagster' in sys.modules, 'defs' in dir(esg_assets)); "
             "from esg_assets import defs; import dagster as dg; print(isinstance(defs, dg.Definitions))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "True"]

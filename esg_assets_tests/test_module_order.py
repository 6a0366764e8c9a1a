"""The suite's module order for xdist (support/module_order.py) and the figures behind it
(scripts/module_seconds.py)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from esg_assets_tests.support.module_order import SECONDS_FILE, load_known, longest_first

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Item:
    """What the order reads of a collected test: its id and its markers."""

    nodeid: str
    markers: list[pytest.Mark] = field(default_factory=list)

    def iter_markers(self) -> list[pytest.Mark]:
        return self.markers


def ids(items: list[Item]) -> list[str]:
    return [i.nodeid for i in items]


def test_modules_go_longest_first_and_keep_their_own_order() -> None:
    items = [Item("t/test_a.py::one"), Item("t/test_a.py::two"), Item("t/test_b.py::one"),
             Item("t/test_c.py::two"), Item("t/test_c.py::one")]
    known = {"t/test_a.py": 5.0, "t/test_b.py": 50.0, "t/test_c.py": 20.0}
    assert ids(longest_first(items, known)) == [  # type: ignore[arg-type]
        "t/test_b.py::one", "t/test_c.py::two", "t/test_c.py::one", "t/test_a.py::one", "t/test_a.py::two"]


def test_a_module_the_file_does_not_know_is_guessed_from_its_markers() -> None:
    e2e, integration = pytest.mark.e2e.mark, pytest.mark.integration.mark
    items = [Item("t/test_fast.py::x"), Item("t/test_int.py::x", [integration]),
             Item("t/test_e2e.py::x"), Item("t/test_e2e.py::y", [e2e, integration]),
             Item("t/test_known.py::x")]
    order = ids(longest_first(items, {"t/test_known.py": 30.0}))  # type: ignore[arg-type]
    # e2e (60 s) > known (30 s) > integration (10 s) > unmarked (1 s); ties by module id.
    assert order == ["t/test_e2e.py::x", "t/test_e2e.py::y", "t/test_known.py::x", "t/test_int.py::x",
                     "t/test_fast.py::x"]


def test_the_committed_figures_name_modules_that_exist() -> None:
    known = load_known()
    assert known, SECONDS_FILE
    missing = [m for m in known if not (REPO / m).is_file()]
    assert missing == [], "module_seconds.json names modules that are gone: rerun scripts/module_seconds.py"
    assert all(isinstance(s, float | int) and s >= 0 for s in known.values())


def test_module_seconds_sums_a_junit_file_per_module(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("module_seconds", REPO / "scripts" / "module_seconds.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="esg_assets_tests.ui.test_flows" name="a" time="10.25"/>'
        '<testcase classname="esg_assets_tests.ui.test_flows" name="b" time="2.5"/>'
        '<testcase classname="esg_assets_tests.x.test_y.TestGroup" name="c" time="1.0"/>'
        '</testsuite></testsuites>')
    assert script.module_seconds(junit) == {"esg_assets_tests/ui/test_flows.py": 12.8,
                                            "esg_assets_tests/x/test_y.py": 1.0}

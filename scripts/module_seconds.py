"""Write esg_assets_tests/module_seconds.json from the JUnit XML of a whole run.

    .venv/bin/python scripts/module_seconds.py .pytest_cache/junit.xml

`make test` writes that XML on every run (pytest's `--junitxml`); each test's time there is its
setup, call and teardown. The figures only order the modules for the xdist workers
(esg_assets_tests/support/module_order.py): commit them when the suite's shape has changed.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "esg_assets_tests" / "module_seconds.json"


def module_seconds(junit_xml: Path) -> dict[str, float]:
    """Seconds per test module: `classname` `esg_assets_tests.x.test_y[.Class]` -> its file."""
    totals: dict[str, float] = defaultdict(float)
    for case in ET.parse(junit_xml).getroot().iter("testcase"):
        parts = case.get("classname", "").split(".")
        while parts and not parts[-1].startswith("test_"):
            parts.pop()  # a test class inside the module
        if parts:
            totals["/".join(parts) + ".py"] += float(case.get("time", "0"))
    return {module: round(seconds, 1) for module, seconds in sorted(totals.items())}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: module_seconds.py JUNIT_XML", file=sys.stderr)
        return 2
    OUT.write_text(json.dumps(module_seconds(Path(argv[0])), indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

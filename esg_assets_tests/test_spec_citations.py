"""The code and the docs cite the project's specification (docs/spec.md) by anchor: every anchor
cited exists in it, and nothing cites the contract's section numbers instead (the contract file
is not part of the repository, so a `§N` citation cannot be followed)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "spec.md"
# `docs/spec.md#summary-json`, `spec.md#alerts` in Markdown links, and the continuation form
# `docs/spec.md: #resume, #targeted-rerun` / `(docs/spec.md#error-csv, #summary-json)`.
_CITE = re.compile(r"spec\.md(?::\s*|(?=#))((?:#[a-z0-9-]+(?:,\s*)?)+)")


def _sources() -> list[Path]:
    return [*sorted((ROOT / "esg_assets").rglob("*.py")), *sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]


def test_every_cited_anchor_exists() -> None:
    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', SPEC.read_text(encoding="utf-8")))
    cited: dict[str, set[str]] = {}
    for path in _sources():
        text = " ".join(path.read_text(encoding="utf-8").split())  # citations may wrap
        for group in _CITE.findall(text):
            for anchor in re.findall(r"#([a-z0-9-]+)", group):
                cited.setdefault(anchor, set()).add(str(path.relative_to(ROOT)))
    assert len(cited) >= 10
    missing = {a: sorted(where) for a, where in cited.items() if a not in anchors}
    assert not missing


def test_no_contract_section_numbers_are_cited() -> None:
    pattern = re.compile(r"output-and-behaviour\.md\s*§|§\s*[0-9]+[a-z]?\b(?!\.)")
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in _sources() if p.name != "spec.md"
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if pattern.search(line) and "RFC" not in line and "CCPA" not in line]
    assert not offenders

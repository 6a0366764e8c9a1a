"""The carry-forward check's verdicts (domain/carry_check.py, §5b): matched on exact decimals,
differed on any value, the pillar or the Analysis Date, unverified when the call did not end in
a valid 200; the summary figures and the report's sentence."""

from __future__ import annotations

from dataclasses import replace

from esg_assets.domain.carry_check import CarryCheck, Outcome, StoredRow, outcome

P = StoredRow("Successful", ("72.455", "60.1", "70", "80.25", "Social", "70"), "2026-03-01", "carried")
CALLED = replace(P, source="called")


def called(**values: str | None) -> StoredRow:
    names = ("overall", "environmental", "social", "governance", "primary_pillar", "primary_score")
    return replace(CALLED, values=tuple(values.get(n, v) for n, v in zip(names, P.values)))


def test_exact_decimals_match_whatever_their_trailing_zeros() -> None:
    today = called(overall="72.4550", environmental="60.10", social="70.000", primary_score="70.0")
    assert outcome(P, today) is Outcome.MATCHED


def test_any_value_pillar_or_date_differs() -> None:
    for change in ({"overall": "72.456"}, {"governance": None}, {"primary_pillar": "Governance"}):
        assert outcome(P, called(**change)) is Outcome.DIFFERED, change
    assert outcome(P, replace(CALLED, analysis_date="2026-11-27")) is Outcome.DIFFERED
    assert outcome(P, replace(called(social=None), status="Partial")) is Outcome.DIFFERED


def test_no_valid_answer_is_unverified() -> None:
    failed = StoredRow("Failed", (None,) * 6, None, "called")
    assert outcome(P, failed) is Outcome.UNVERIFIED
    assert outcome(P, None) is Outcome.UNVERIFIED
    assert outcome(P, P) is Outcome.UNVERIFIED  # already restored from P by an earlier attempt of D


def test_summary_figures_and_sentence() -> None:
    check = CarryCheck.of({"ACC-3": Outcome.MATCHED, "ACC-9": Outcome.DIFFERED, "ACC-1": Outcome.DIFFERED,
                           "ACC-5": Outcome.UNVERIFIED, "ACC-2": Outcome.MATCHED})
    assert check.to_json() == {"sampled": 5, "matched": 2, "differed": ["ACC-1", "ACC-9"], "unverified": ["ACC-5"]}
    assert check.sentence() == ("5 carried rows re-checked against the API: 2 matched, 2 differed: ACC-1, ACC-9; "
                                "1 could not be verified: ACC-5.")
    twenty = CarryCheck.of({f"ACC-{i:02d}": Outcome.MATCHED for i in range(19)} | {"ACC-99": Outcome.DIFFERED})
    assert twenty.sentence() == "20 carried rows re-checked against the API: 19 matched, 1 differed: ACC-99."
    assert CarryCheck().to_json() == {"sampled": 0, "matched": 0, "differed": [], "unverified": []}

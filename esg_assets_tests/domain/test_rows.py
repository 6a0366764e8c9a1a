"""`domain/rows.py`: a stored result becomes the fields of its ratings-file row and error-file
row (output-and-behaviour.md §1-2): half-up from the stored text, N/A for what is missing, every
ESG field of a Failed row N/A, an empty HTTP Status where no response came."""

from __future__ import annotations

import pytest

from esg_assets.domain.models import ErrorRow, RatingRow
from esg_assets.domain.rows import error_fields, rating_fields


def row(status: str | None, **fields: str | None) -> RatingRow:
    values = {"overall": "72.455", "environmental": "68.1", "social": "75", "governance": "74.324999",
              "primary_pillar": "Social", "primary_score": "0.005", "analysis_date": "2026-11-20", **fields}
    return RatingRow("ACC-1", "Müller, \"Ünal\" & Co", status, **values)  # type: ignore[arg-type]


def test_a_successful_row_is_rounded_half_up_from_the_stored_text() -> None:
    assert rating_fields(row("Successful")) == [
        "ACC-1", 'Müller, "Ünal" & Co', "72.46", "68.10", "75.00", "74.32", "Social", "0.01", "2026-11-20", "Successful"]


def test_a_partial_row_says_n_a_for_each_missing_value_only() -> None:
    got = rating_fields(row("Partial", environmental=None, primary_pillar=None, primary_score=None))
    assert got[2:] == ["72.46", "N/A", "75.00", "74.32", "N/A", "N/A", "2026-11-20", "Partial"]


def test_every_esg_field_of_a_failed_row_is_n_a_even_if_values_were_stored() -> None:
    assert rating_fields(row("Failed")) == ["ACC-1", 'Müller, "Ünal" & Co', *["N/A"] * 7, "Failed"]


def test_a_partial_row_without_an_analysis_date_says_n_a() -> None:
    assert rating_fields(row("Partial", analysis_date=None))[8] == "N/A"


def test_an_account_without_a_result_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="account ACC-1 has no result"):
        rating_fields(row(None))


def test_error_fields_leave_http_status_empty_when_no_response_came() -> None:
    assert error_fields(ErrorRow("ACC-1", 3, "timeout", None, "read timeout after 1 s", "2026-11-27T06:00:00Z")) == [
        "ACC-1", "3", "timeout", "", "read timeout after 1 s", "2026-11-27T06:00:00Z"]
    assert error_fields(ErrorRow("ACC-2", 1, "partial_data", 200, "not available: social", "2026-11-27T06:00:01Z"))[3] == "200"


def test_error_fields_of_a_row_with_nothing_recorded_are_empty_not_none() -> None:
    assert error_fields(ErrorRow("ACC-1", 0, None, None, None, None)) == ["ACC-1", "0", "", "", "", ""]

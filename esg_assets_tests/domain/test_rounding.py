"""Half-up rounding from the exact decimal the API sent (output-and-behaviour.md §1)."""

from decimal import Decimal

import pytest

from esg_assets.domain.analysis import load_json_exact
from esg_assets.domain.rounding import format_score, round_half_up


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.675", "2.68"),  # 2.675 is 2.67499999... as a binary float
        ("72.455", "72.46"),
        ("0.125", "0.13"),
        ("72.454999", "72.45"),
        ("80", "80.00"),
        ("0", "0.00"),
        ("100", "100.00"),
        ("99.995", "100.00"),
        ("1.005", "1.01"),
        ("33.333333", "33.33"),
    ],
)
def test_format_score_rounds_half_up_from_the_json_text(text: str, expected: str) -> None:
    value = load_json_exact(f'{{"v": {text}}}'.encode())["v"]
    assert isinstance(value, Decimal)
    assert format_score(value) == expected


def test_missing_score_is_na() -> None:
    assert format_score(None) == "N/A"


def test_round_half_up_to_four_places() -> None:
    assert round_half_up(Decimal("0.04445"), 4) == Decimal("0.0445")
    assert str(round_half_up(Decimal(1) / Decimal(3), 4)) == "0.3333"

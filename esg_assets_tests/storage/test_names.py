"""Logical names: exact formats, real dates only, nothing path-like."""

from __future__ import annotations

import pytest

from esg_assets.storage.names import logical_name, partition_of, validate_logical_name


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("ratings", "FirmESGRatings_20261127.csv"),
        ("errors", "FirmESGErrors_20261127.csv"),
        ("summary", "FirmESGSummary_20261127.json"),
        ("report", "FirmESGReport_20261127.html"),
    ],
)
def test_logical_names(kind: str, expected: str) -> None:
    assert logical_name("2026-11-27", kind) == expected
    assert validate_logical_name(expected) == expected
    assert partition_of(expected).isoformat() == "2026-11-27"


@pytest.mark.parametrize("partition", ["2026-13-01", "2026-02-30", "20261127", "2026-1-01", "../2026-11-27", "２０２６-11-27", ""])
def test_bad_partitions(partition: str) -> None:
    with pytest.raises(ValueError, match="invalid date"):
        logical_name(partition, "ratings")


@pytest.mark.parametrize("kind", ["../etc", "/etc/passwd", "Ratings", "", "ratings/"])
def test_bad_kinds(kind: str) -> None:
    with pytest.raises(ValueError, match="invalid kind"):
        logical_name("2026-11-27", kind)


@pytest.mark.parametrize(
    "name", ["FirmESGRatings_20261127.json", "FirmESGRatings_20260230.csv", "../FirmESGRatings_20261127.csv", "FirmESGRatings_20261127.csv/"]
)
def test_bad_names(name: str) -> None:
    with pytest.raises(ValueError):
        validate_logical_name(name)

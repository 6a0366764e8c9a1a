"""Rows for the file writers: the ratings CSV's fields, hostile names included."""

from __future__ import annotations

HOSTILE_NAMES = (
    '=HYPERLINK("http://evil.example","Click")', "+1-555-0100", "-2+3", "@SUM(A1:A9)", "N/A",
    'Smith, "J" & Co', "line one\r\nline two", "Zoë 株式会社 🌿", "  padded  ", "0042", "1e5", "TRUE",
)


def sample_rows() -> list[list[str]]:
    """CSV fields as `rating_fields` makes them: Successful, Partial (N/A) and Failed rows."""
    rows = []
    for i, name in enumerate(HOSTILE_NAMES):
        account = f"ACC-{i:07d}"
        if i % 4 == 1:
            rows.append([account, name, "N/A", "N/A", "N/A", "N/A", "N/A", "N/A", "N/A", "Failed"])
        elif i % 4 == 2:
            rows.append([account, name, "55.50", "N/A", "60.00", "0.00", "N/A", "N/A", "2026-11-19", "Partial"])
        else:
            rows.append([account, name, "72.46", "68.10", "100.00", "74.32", "Social", "100.00", "2026-11-26", "Successful"])
    return rows

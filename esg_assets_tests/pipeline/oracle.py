"""An independent reading of output-and-behaviour.md §1: the expected ratings file built from
the sandbox's own view of its accounts with the standard library's csv module."""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

HEADER = [
    "Account ID", "Account Name", "Overall ESG Score", "Environmental Score", "Social Score",
    "Governance Score", "Primary ESG Focus", "Primary Focus Score", "Analysis Date", "Processing Status",
]


def two_places(value: Any) -> str:
    if value is None:
        return "N/A"
    return str(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def expected_row(account: dict[str, Any], status: str = "Successful") -> list[str]:
    if status == "Failed":
        return [account["account_id"], account["account_name"]] + ["N/A"] * 7 + ["Failed"]
    a = account["analysis"]
    s = a.get("scores") or {}
    f = a.get("primary_focus") or {}
    return [
        account["account_id"], account["account_name"],
        two_places(s.get("overall")), two_places(s.get("environmental")),
        two_places(s.get("social")), two_places(s.get("governance")),
        f.get("pillar") or "N/A", two_places(f.get("score")), a["analysis_date"], status,
    ]


def expected_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(HEADER)
    for row in sorted(rows, key=lambda r: r[0].encode()):
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


def parse_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))

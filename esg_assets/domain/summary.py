"""The daily summary (output-and-behaviour.md §3), computed from a partition's exact figures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from esg_assets.domain.models import Pillar, Status
from esg_assets.domain.rounding import RATE_PLACES, SCORE_PLACES, round_half_up

SCORE_KEYS = ("overall", "environmental", "social", "governance")


def rate(numerator: int, denominator: int) -> Decimal:
    """numerator/denominator rounded half-up to 4 decimals; 0 when the denominator is 0."""
    if denominator == 0:
        return Decimal(0)
    return round_half_up(Decimal(numerator) / Decimal(denominator), RATE_PLACES)


def average(total: Decimal, count: int) -> Decimal | None:
    if count == 0:
        return None
    return round_half_up(total / Decimal(count), SCORE_PLACES)


def call_failure_rate(failed: int, accounts_called: int) -> Decimal:
    return rate(failed, accounts_called)


def build_summary(
    *,
    partition: str,
    generated_at: str,
    total_accounts: int,
    status_counts: dict[str, int],
    accounts_called: int,
    carried_forward: int,
    score_sums: dict[str, tuple[Decimal, int]],
    focus_counts: dict[str, int],
    failed_accounts: list[str],
    api: dict[str, int],
    duration_seconds: float,
    carry_check: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The summary document, keys in the contract's order; numbers as Decimal or int."""
    counts = {s.value: int(status_counts.get(s.value, 0)) for s in Status}
    return {
        "partition": partition,
        "generated_at": generated_at,
        "total_accounts": total_accounts,
        "status_counts": counts,
        "success_rate": rate(counts[Status.SUCCESSFUL.value], total_accounts),
        "accounts_called": accounts_called,
        "carried_forward": carried_forward,
        "call_failure_rate": call_failure_rate(counts[Status.FAILED.value], accounts_called),
        "average_scores": {key: average(*score_sums.get(key, (Decimal(0), 0))) for key in SCORE_KEYS},
        "primary_focus_distribution": {p.value: int(focus_counts.get(p.value, 0)) for p in Pillar},
        "failed_accounts": list(failed_accounts),
        "api": {
            "requests": int(api.get("requests", 0)),
            "retries": int(api.get("retries", 0)),
            "rate_limited": int(api.get("rate_limited", 0)),
            "token_refreshes": int(api.get("token_refreshes", 0)),
        },
        "carry_check": dict(carry_check or {"sampled": 0, "matched": 0, "differed": [], "unverified": []}),
        "duration_seconds": round(float(duration_seconds), 1),
    }


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)  # 2- and 4-decimal values print exactly as their shortest float
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def summary_json(summary: dict[str, Any]) -> bytes:
    import json

    return (json.dumps(summary, indent=2, ensure_ascii=False, default=_json_default) + "\n").encode("utf-8")


def _check(summary: dict[str, Any]) -> str:
    check = summary.get("carry_check") or {}
    differed = check.get("differed") or []
    return f"{check.get('sampled', 0)} / {check.get('matched', 0)} / {len(differed)}" + (
        f" ({', '.join(differed)})" if differed else "")


def summary_markdown(summary: dict[str, Any]) -> str:
    """The same figures, readable by people in the Dagster UI."""
    c = summary["status_counts"]
    avg = summary["average_scores"]
    focus = summary["primary_focus_distribution"]
    failed = summary["failed_accounts"]
    shown = ", ".join(failed[:50]) + (f" … and {len(failed) - 50} more" if len(failed) > 50 else "")
    lines = [
        f"### ESG ratings {summary['partition']}",
        "",
        "| figure | value |",
        "|---|---|",
        f"| total accounts | {summary['total_accounts']} |",
        f"| Successful / Partial / Failed | {c['Successful']} / {c['Partial']} / {c['Failed']} |",
        f"| success rate | {summary['success_rate']} |",
        f"| accounts called / carried forward | {summary['accounts_called']} / {summary['carried_forward']} |",
        f"| call failure rate | {summary['call_failure_rate']} |",
        "| average overall / E / S / G | "
        + " / ".join("n/a" if avg[k] is None else str(avg[k]) for k in SCORE_KEYS)
        + " |",
        "| primary focus E / S / G | "
        + " / ".join(str(focus[p.value]) for p in Pillar)
        + " |",
        f"| API requests / retries / rate limited | {summary['api']['requests']} / {summary['api']['retries']} / {summary['api']['rate_limited']} |",
        f"| carried rows re-checked / matched / differed | {_check(summary)} |",
        f"| duration (s) | {summary['duration_seconds']} |",
        "",
        f"**Failed accounts ({len(failed)}):** {shown or 'none'}",
    ]
    return "\n".join(lines)

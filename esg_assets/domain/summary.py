"""The daily summary (docs/spec.md#summary-json) as a frozen record, computed from a partition's
exact figures; the one place that writes and reads the summary file."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from esg_assets.domain.carry_check import CarryCheck
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


_API_FIELDS = ("requests", "retries", "rate_limited", "token_refreshes")
_KEYS = ("partition", "generated_at", "total_accounts", "status_counts", "success_rate", "accounts_called",
         "carried_forward", "call_failure_rate", "average_scores", "primary_focus_distribution", "failed_accounts",
         "api", "carry_check", "duration_seconds")


@dataclass(frozen=True)
class ApiCounts:
    """The summary's `api` block: the run's traffic to the ESG API."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    token_refreshes: int = 0

    @classmethod
    def of(cls, counts: Mapping[str, object]) -> ApiCounts:
        return cls(*(int(counts.get(f) or 0) for f in _API_FIELDS))  # type: ignore[call-overload]

    def to_json(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in _API_FIELDS}


@dataclass(frozen=True)
class Summary:
    """The daily summary (docs/spec.md#summary-json), one attribute per key of the file.

    Rates and averages are exact Decimals (averages None when no account has the score); the
    three blocks keyed by contract names (statuses, score keys, pillars) are read-only mappings
    in the file's order. `to_json()` writes the file; `from_json()` reads it back, exactly."""

    partition: str
    generated_at: str
    total_accounts: int
    status_counts: Mapping[str, int]
    success_rate: Decimal
    accounts_called: int
    carried_forward: int
    call_failure_rate: Decimal
    average_scores: Mapping[str, Decimal | None]
    primary_focus_distribution: Mapping[str, int]
    failed_accounts: tuple[str, ...]
    api: ApiCounts
    carry_check: CarryCheck
    duration_seconds: float

    def __post_init__(self) -> None:
        for name in ("status_counts", "average_scores", "primary_focus_distribution"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        object.__setattr__(self, "failed_accounts", tuple(self.failed_accounts))

    def to_dict(self) -> dict[str, Any]:
        """The document, keys in the contract's order; numbers as Decimal or int."""
        return {
            "partition": self.partition,
            "generated_at": self.generated_at,
            "total_accounts": self.total_accounts,
            "status_counts": dict(self.status_counts),
            "success_rate": self.success_rate,
            "accounts_called": self.accounts_called,
            "carried_forward": self.carried_forward,
            "call_failure_rate": self.call_failure_rate,
            "average_scores": dict(self.average_scores),
            "primary_focus_distribution": dict(self.primary_focus_distribution),
            "failed_accounts": list(self.failed_accounts),
            "api": self.api.to_json(),
            "carry_check": self.carry_check.to_json(),
            "duration_seconds": self.duration_seconds,
        }

    def to_json(self) -> bytes:
        """`FirmESGSummary_YYYYMMDD.json`: two-space indent, UTF-8, one final newline."""
        return (json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=_json_default) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> Summary:
        """A summary file read back; numbers as the file wrote them (decimals exact). A file
        that is not a summary raises ValueError in one line naming what is wrong."""
        try:
            doc = json.loads(data, parse_float=Decimal)
        except ValueError as err:
            raise ValueError(f"the summary is not valid JSON: {err}") from None
        missing = [k for k in _KEYS if not isinstance(doc, dict) or k not in doc]
        if missing:
            raise ValueError(f"the summary lacks {', '.join(missing)}")
        check = doc["carry_check"]
        return cls(
            partition=doc["partition"], generated_at=doc["generated_at"], total_accounts=doc["total_accounts"],
            status_counts=doc["status_counts"], success_rate=_read_rate(doc["success_rate"], doc["total_accounts"]),
            accounts_called=doc["accounts_called"], carried_forward=doc["carried_forward"],
            call_failure_rate=_read_rate(doc["call_failure_rate"], doc["accounts_called"]),
            average_scores={k: None if v is None else round_half_up(Decimal(v), SCORE_PLACES)
                            for k, v in doc["average_scores"].items()},
            primary_focus_distribution=doc["primary_focus_distribution"], failed_accounts=doc["failed_accounts"],
            api=ApiCounts.of(doc["api"]),
            carry_check=CarryCheck(sampled=check["sampled"], matched=check["matched"],
                                   differed=tuple(check["differed"]), unverified=tuple(check["unverified"])),
            duration_seconds=float(doc["duration_seconds"]),
        )


def build_summary(
    *,
    partition: str,
    generated_at: str,
    total_accounts: int,
    status_counts: Mapping[str, int],
    accounts_called: int,
    carried_forward: int,
    score_sums: Mapping[str, tuple[Decimal, int]],
    focus_counts: Mapping[str, int],
    failed_accounts: Sequence[str],
    api: Mapping[str, int],
    duration_seconds: float,
    carry_check: CarryCheck | None = None,
) -> Summary:
    """The summary of a partition from its exact figures: rates and averages rounded half-up,
    every status and pillar present (0 when none), the duration to a tenth of a second."""
    counts = {s.value: int(status_counts.get(s.value, 0)) for s in Status}
    return Summary(
        partition=partition,
        generated_at=generated_at,
        total_accounts=total_accounts,
        status_counts=counts,
        success_rate=rate(counts[Status.SUCCESSFUL.value], total_accounts),
        accounts_called=accounts_called,
        carried_forward=carried_forward,
        call_failure_rate=call_failure_rate(counts[Status.FAILED.value], accounts_called),
        average_scores={key: average(*score_sums.get(key, (Decimal(0), 0))) for key in SCORE_KEYS},
        primary_focus_distribution={p.value: int(focus_counts.get(p.value, 0)) for p in Pillar},
        failed_accounts=tuple(failed_accounts),
        api=ApiCounts.of(api),
        carry_check=carry_check or CarryCheck(),
        duration_seconds=round(float(duration_seconds), 1),
    )


def _read_rate(value: object, denominator: int) -> Decimal:
    """A rate as `rate()` made it: the file drops trailing zeros (0.9980 is written 0.998)."""
    return Decimal(0) if denominator == 0 else round_half_up(Decimal(str(value)), RATE_PLACES)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)  # 2- and 4-decimal values print exactly as their shortest float
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _check(check: CarryCheck) -> str:
    return f"{check.sampled} / {check.matched} / {len(check.differed)}" + (
        f" ({', '.join(check.differed)})" if check.differed else "")


def summary_markdown(summary: Summary) -> str:
    """The same figures, readable by people in the Dagster UI."""
    c = summary.status_counts
    avg = summary.average_scores
    focus = summary.primary_focus_distribution
    failed = summary.failed_accounts
    shown = ", ".join(failed[:50]) + (f" … and {len(failed) - 50} more" if len(failed) > 50 else "")
    lines = [
        f"### ESG ratings {summary.partition}",
        "",
        "| figure | value |",
        "|---|---|",
        f"| total accounts | {summary.total_accounts} |",
        f"| Successful / Partial / Failed | {c['Successful']} / {c['Partial']} / {c['Failed']} |",
        f"| success rate | {summary.success_rate} |",
        f"| accounts called / carried forward | {summary.accounts_called} / {summary.carried_forward} |",
        f"| call failure rate | {summary.call_failure_rate} |",
        "| average overall / E / S / G | "
        + " / ".join("n/a" if avg[k] is None else str(avg[k]) for k in SCORE_KEYS)
        + " |",
        "| primary focus E / S / G | "
        + " / ".join(str(focus[p.value]) for p in Pillar)
        + " |",
        f"| API requests / retries / rate limited | {summary.api.requests} / {summary.api.retries} / {summary.api.rate_limited} |",
        f"| carried rows re-checked / matched / differed | {_check(summary.carry_check)} |",
        f"| duration (s) | {summary.duration_seconds} |",
        "",
        f"**Failed accounts ({len(failed)}):** {shown or 'none'}",
    ]
    return "\n".join(lines)

"""What an operations alert is (docs/spec.md#alerts), independent of any channel.

An `Alert` is identified by (partition, kind): that pair is the PagerDuty dedup key and the
ledger's key, so the same incident is never sent twice on one channel. It carries only
operational facts (run ids, account ids, counts, timestamps) and never a secret or an account
name, because the details go verbatim to e-mail and PagerDuty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from esg_assets.clock import utc_text

SOURCE = "esg-ratings"
SUBJECT_PREFIX = "[ESG Ratings]"
MAX_SUMMARY_CHARS = 200  # PagerDuty truncates summaries at 1024; a subject line should stay short

DetailValue = str | int | float | bool | None


class AlertKind(StrEnum):
    """The alert kinds of the contract, spelled as they appear in subjects and dedup keys;
    `resolved` is the one "resolved" message of a recovered day (docs/spec.md#alert-resolution), whose
    summary lists the kinds it resolves; `window_at_risk` (contract 1.1) warns that the forecast end
    passes the window."""

    MISSED_START = "missed_start"
    WINDOW_EXCEEDED = "window_exceeded"
    RUN_FAILED = "run_failed"
    FAILURE_THRESHOLD = "failure_threshold"
    RESOLVED = "resolved"
    WINDOW_AT_RISK = "window_at_risk"  # contract 1.1: the forecast passes the window's end


# PagerDuty severities: a run that died or overran the window needs someone now ("critical");
# a late start or too many failed calls still produced (or may produce) a file ("error").
SEVERITY: Mapping[AlertKind, str] = {
    AlertKind.RUN_FAILED: "critical",
    AlertKind.WINDOW_EXCEEDED: "critical",
    AlertKind.MISSED_START: "error",
    AlertKind.FAILURE_THRESHOLD: "error",
    AlertKind.RESOLVED: "info",
    # The run is still going and may yet make it: someone should look, nobody is woken.
    AlertKind.WINDOW_AT_RISK: "warning",
}
# The details key of a `resolved` alert naming the kinds it resolves, separated by ", ".
RESOLVES = "resolves"


def one_line(text: str, limit: int = MAX_SUMMARY_CHARS) -> str:
    """Collapse whitespace (a newline in a subject would be header injection) and truncate."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True)
class Alert:
    """One alert: `kind` for `partition` (YYYY-MM-DD), a one-line `summary` and `details`."""

    kind: AlertKind
    partition: str
    summary: str
    details: Mapping[str, DetailValue] = field(default_factory=dict)
    component: str = "esg_daily_job"
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", AlertKind(self.kind))
        object.__setattr__(self, "summary", one_line(self.summary))
        object.__setattr__(self, "partition", one_line(self.partition, 60))

    @property
    def severity(self) -> str:
        return SEVERITY[self.kind]

    @property
    def dedup_key(self) -> str:
        return f"{SOURCE}/{self.partition}/{self.kind.value}"

    @property
    def resolves(self) -> list[str]:
        """For a `resolved` alert, the kinds it resolves (each gets its own PagerDuty resolve)."""
        return [k for k in str(self.details.get(RESOLVES) or "").split(", ") if k]

    @property
    def subject(self) -> str:
        return f"{SUBJECT_PREFIX} {self.kind.value} {self.partition}: {self.summary}"

    def body(self) -> str:
        """Plain-text e-mail body: the headline facts, then the details one per line."""
        lines = [
            self.summary,
            "",
            f"kind: {self.kind.value}",
            f"partition: {self.partition}",
            f"severity: {self.severity}",
            f"component: {self.component}",
            f"occurred_at: {utc_text(self.occurred_at)}",
            f"dedup_key: {self.dedup_key}",
        ]
        lines += [f"{key}: {'' if value is None else value}" for key, value in self.details.items()]
        lines += ["", "Runbook: docs/alerts.md, section of this alert kind."]
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        """Serialised form kept by the ledger so a later tick can resend a pending alert."""
        return json.dumps(
            {
                "kind": self.kind.value,
                "partition": self.partition,
                "summary": self.summary,
                "details": dict(self.details),
                "component": self.component,
                "occurred_at": self.occurred_at.astimezone(UTC).isoformat(),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Alert:
        data = json.loads(text)
        return cls(
            kind=AlertKind(data["kind"]),
            partition=data["partition"],
            summary=data["summary"],
            details=data.get("details") or {},
            component=data.get("component") or "esg_daily_job",
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
        )


class ChannelError(Exception):
    """A channel could not deliver. `retryable` is False for answers that retrying won't change
    within this tick (e.g. PagerDuty 400); the alert still stays pending for a later tick."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


class Channel:
    """A delivery channel. `send` delivers one alert or raises `ChannelError` (never a secret
    in the message)."""

    name: str = "channel"

    def send(self, alert: Alert) -> None:  # pragma: no cover - interface
        raise NotImplementedError

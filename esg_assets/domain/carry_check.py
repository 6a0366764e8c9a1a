"""The carry-forward check (docs/spec.md#carry-forward-check): what each sampled call proved.

The sample itself is rule 6 of the day's plan (`domain.plan.choose_sample`); this module
judges the answers. Plain Python: the state layer hands over each sampled account's row of P
and its row of D as stored (exact decimal text), and applies the verdicts (an unverified
account gets P's row back).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from esg_assets.domain.models import Status

FINAL = (Status.SUCCESSFUL.value, Status.PARTIAL.value)


class Outcome(str, Enum):
    MATCHED = "matched"
    DIFFERED = "differed"
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class StoredRow:
    """One stored result, as text: its status, the six values (overall, environmental, social,
    governance, primary pillar, primary score), the Analysis Date and where it came from."""

    status: str
    values: tuple[str | None, ...]
    analysis_date: str | None
    source: str  # "called" or "carried"

    def compared(self) -> tuple[object, ...]:
        """What must be equal for a match: the scores as exact decimals (72.455 = 72.4550),
        the pillar and the Analysis Date as text."""
        pillar_at = 4
        return (*(v if i == pillar_at else _decimal(v) for i, v in enumerate(self.values)), self.analysis_date)


def _decimal(text: str | None) -> Decimal | str | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # never stored by this job; compare such text as it is
        return text


def outcome(previous: StoredRow, today: StoredRow | None) -> Outcome:
    """The verdict on one sampled account. Its call must have ended in a valid 200 (Successful
    or Partial row of D, produced by a call); anything else leaves it unverified, and it keeps
    P's row. A row of D that is already carried is one an earlier attempt of D restored."""
    if today is None or today.status not in FINAL or today.source != "called":
        return Outcome.UNVERIFIED
    return Outcome.MATCHED if today.compared() == previous.compared() else Outcome.DIFFERED


@dataclass(frozen=True)
class CarryCheck:
    """The summary's `carry_check`: sampled = matched + len(differed) + len(unverified)."""

    sampled: int = 0
    matched: int = 0
    differed: tuple[str, ...] = ()
    unverified: tuple[str, ...] = ()
    verdicts: Mapping[str, Outcome] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, verdicts: Mapping[str, Outcome]) -> CarryCheck:
        by = {o: sorted(a for a, v in verdicts.items() if v is o) for o in Outcome}
        return cls(
            sampled=len(verdicts), matched=len(by[Outcome.MATCHED]), differed=tuple(by[Outcome.DIFFERED]),
            unverified=tuple(by[Outcome.UNVERIFIED]), verdicts=dict(verdicts),
        )

    def to_json(self) -> dict[str, Any]:
        return {"sampled": self.sampled, "matched": self.matched, "differed": list(self.differed),
                "unverified": list(self.unverified)}

    def sentence(self) -> str:
        """The line of the HTML report, in the business's words."""
        if self.sampled == 0:
            return "No carried rows were re-checked against the API today."
        rows = "row" if self.sampled == 1 else "rows"
        text = f"{self.sampled} carried {rows} re-checked against the API: {self.matched} matched"
        if self.differed:
            text += f", {len(self.differed)} differed: {', '.join(self.differed)}"
        else:
            text += ", 0 differed"
        if self.unverified:
            text += f"; {len(self.unverified)} could not be verified: {', '.join(self.unverified)}"
        return text + "."

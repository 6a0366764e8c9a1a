"""Deterministic generators: every name, score and date the sandbox serves comes from here.

Everything is a pure function of (seed, account index, version), so a world of 1,000,000
accounts needs no storage beyond the few values that were changed at runtime.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PILLARS: tuple[str, str, str] = ("Environmental", "Social", "Governance")
SCORE_KEYS: tuple[str, str, str, str] = ("overall", "environmental", "social", "governance")

_ADJ = (
    "Northwind", "Blue Ridge", "Granite", "Silver Lake", "Evergreen", "Harbor", "Summit", "Pioneer",
    "Cedar", "Atlas", "Meridian", "Redwood", "Lakeshore", "Prairie", "Beacon", "Ironwood",
    "Crescent", "Falcon", "Juniper", "Keystone", "Liberty", "Maple", "Orion", "Riverside",
)
_NOUN = (
    "Capital", "Holdings", "Partners", "Asset Management", "Investments", "Trust", "Advisors",
    "Pension Fund", "Endowment", "Family Office", "Growth Fund", "Income Fund",
)
_SURNAME = (
    "Smith", "Johnson", "Nguyen", "Garcia", "Okafor", "Kowalski", "Brown", "Patel", "Larsen",
    "Rossi", "Schmidt", "Tanaka", "Walker", "Hughes", "Murphy", "Klein",
)
_NON_ASCII = (
    "Société Générale", "Müller & Söhne", "Crédit Lyonnais", "Åkesson Förvaltning",
    "Øresund Kapital", "Zürich Vermögen", "São Paulo Ativos", "Dvořák Holdings",
    "Łódź Fundusz", "Ærø Sparekasse", "Ibáñez y Peña", "Çelik Yatırım", "Ελληνική Επενδυτική",
    "東京アセット", "Straße Invest", "Café Crème Capital",
)
_DEPT = ("Treasury", "Division B", "Attn: Operations", "Sub-account 2", "c/o Custody Desk")

# The name kinds and how often each special kind appears (a few percent each).
NAME_KINDS = ("plain", "comma", "quote", "non_ascii", "lf", "crlf")
_SPECIAL_SHARE = 0.03
# The first 20 accounts always hold one of each special kind, so small tests exercise them.
_FORCED_KINDS = {3: "comma", 6: "quote", 9: "non_ascii", 13: "lf", 17: "crlf"}


def h64(seed: int, tag: str, *parts: object) -> int:
    """A stable 64-bit hash of the seed, a tag naming the purpose, and any further parts."""
    text = "|".join([str(seed), tag, *map(str, parts)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def unit(seed: int, tag: str, *parts: object) -> float:
    """A stable uniform number in [0, 1)."""
    return h64(seed, tag, *parts) / 2.0**64


def account_id(index: int) -> str:
    return "ACC-%07d" % index


def parse_account_id(text: str) -> int | None:
    """The 1-based index of `ACC-nnnnnnn`, or None for anything else."""
    if len(text) == 11 and text.startswith("ACC-") and text[4:].isdigit():
        return int(text[4:])
    return None


def _kind(index: int, h: int) -> str:
    if index in _FORCED_KINDS:
        return _FORCED_KINDS[index]
    special = int(((h >> 44) & 0xFFFFF) / 2.0**20 / _SPECIAL_SHARE)
    return NAME_KINDS[1 + special] if special < len(NAME_KINDS) - 1 else "plain"


def name_kind(seed: int, index: int) -> str:
    return _kind(index, h64(seed, "name", index))


def account_name(seed: int, index: int) -> str:
    """A varied, deterministic account name; some hold commas, quotes, non-ASCII or line breaks."""
    h = h64(seed, "name", index)
    adj = _ADJ[h % len(_ADJ)]
    noun = _NOUN[(h >> 8) % len(_NOUN)]
    sur1 = _SURNAME[(h >> 16) % len(_SURNAME)]
    sur2 = _SURNAME[(h >> 24) % len(_SURNAME)]
    dept = _DEPT[(h >> 32) % len(_DEPT)]
    kind = _kind(index, h)  # one hash per name: AMS pages of 1,000 must stay cheap
    if kind == "comma":
        return f"{sur1}, {sur2} & Co"
    if kind == "quote":
        return f'The "{adj}" {noun}'
    if kind == "non_ascii":
        return _NON_ASCII[(h >> 40) % len(_NON_ASCII)]
    if kind == "lf":
        return f"{adj} {noun}\n{dept}"
    if kind == "crlf":
        return f"{adj} {noun}\r\n{dept}"
    return f"{adj} {noun}"


def score_text(h: int) -> str:
    """A score 0..100 as exact JSON number text with up to 6 decimals, edge cases included.

    The mix deliberately holds integers, values ending in 5 at the third decimal (half-up
    rounding), values just below such a tie (72.454999) and trailing zeros.
    """
    kind = h % 20
    whole = (h >> 8) % 100
    frac = (h >> 16) % 1_000_000
    if kind == 0:
        return str((h >> 8) % 101)  # integer, 0..100 inclusive
    if kind == 1:
        return ("100", "0", "100.0", "0.000")[(h >> 8) % 4]
    if kind in (2, 3, 4, 5):
        return f"{whole}.{frac % 100:02d}5"  # tie at the third decimal
    if kind in (6, 7):
        return f"{whole}.{frac % 100:02d}4999"  # just below a tie
    if kind == 8:
        return f"{whole}.{frac % 100:02d}5000"  # tie with trailing zeros
    if kind == 9:
        return f"{whole}.{frac % 10}"
    decimals = 1 + (h >> 40) % 6
    digits = f"{frac:06d}"[:decimals]
    return f"{whole}.{digits}"


@dataclass(frozen=True)
class Analysis:
    """One analysis: the six values as exact JSON number text (pillar as a plain string)."""

    overall: str
    environmental: str
    social: str
    governance: str
    pillar: str
    primary_score: str

    def scores(self) -> dict[str, str]:
        return {
            "overall": self.overall,
            "environmental": self.environmental,
            "social": self.social,
            "governance": self.governance,
        }


def analysis(seed: int, index: int, version: int) -> Analysis:
    vals = [score_text(h64(seed, "score", index, version, key)) for key in SCORE_KEYS]
    pillar = PILLARS[h64(seed, "pillar", index, version) % 3]
    primary = score_text(h64(seed, "score", index, version, "primary"))
    return Analysis(vals[0], vals[1], vals[2], vals[3], pillar, primary)

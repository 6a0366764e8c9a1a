"""What each ESG analysis request gets: scripted steps, the seeded error mix and the bodies.

A *step* is one of the strings accepted by `POST /_sandbox/script` (`ok`, `503`, `429:2`,
`timeout`, `invalid-pillar`, ...). Scripts, the `--error-rate` mix and `--partial-rate` all come
down to a step per request; `render` turns a step into a `Reply` (status, headers, body, action).
Pure Python: the server performs the delays and connection resets a reply asks for.
"""

from __future__ import annotations

import json
import math
from array import array
from dataclasses import dataclass, field
from datetime import date
from email.utils import formatdate

from esg_assets.sandbox import generate as gen

INVALID_STEPS = (
    "invalid-json", "invalid-array", "invalid-missing-id", "invalid-wrong-id",
    "invalid-score-type", "invalid-score-range", "invalid-pillar", "invalid-date",
)
WORD_STEPS = frozenset(
    ("ok", "partial", "partial-absent", "partial-mix", "nodata", "timeout", "reset", "429:date")
    + INVALID_STEPS
)

# The `--error-rate` mix: kind -> steps for attempts 1, 2, ... (the last one repeats).
ERROR_MIX: dict[str, tuple[str, ...]] = {
    "transient-500": ("500", "ok"),
    "transient-502": ("502", "502", "ok"),
    "transient-503": ("503", "ok"),
    "transient-504": ("504", "ok"),
    "persistent-503": ("503",),
    "rate-limited-429": ("429:1", "ok"),
    "timeout": ("timeout", "ok"),
    "reset": ("reset", "ok"),
    **{kind: (kind,) for kind in INVALID_STEPS},
    **{f"status-{code}": (code,) for code in ("400", "403", "404", "422", "501", "505")},
    "partial": ("partial-mix",),
    "nodata": ("nodata",),
}
_MIX_KINDS = tuple(ERROR_MIX)

REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 411: "Length Required",
    413: "Payload Too Large", 422: "Unprocessable Entity", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
}


def parse_step(step: object) -> str:
    """Validate one script step; ValueError names the bad one."""
    if isinstance(step, int):
        step = str(step)
    if not isinstance(step, str):
        raise ValueError(f"invalid step: {step!r}")
    if step in WORD_STEPS:
        return step
    code, _, arg = step.partition(":")
    if code.isdigit() and len(code) == 3 and 400 <= int(code) <= 599:
        if not arg or (code == "429" and arg.isdigit()):
            return step
    raise ValueError(f"invalid step: {step!r}")


@dataclass
class Reply:
    """What to answer. `action`: send; `reset` (drop the connection); `delay` (send after it)."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    action: str = "send"
    delay: float = 0.0
    content_type: str = "application/json"


def error_reply(status: int, error: str, message: str, headers: list[tuple[str, str]] | None = None) -> Reply:
    body = json.dumps({"error": error, "message": message}).encode()
    return Reply(status, body, headers or [])


def _num(value: str | None) -> str:
    return "null" if value is None else value


def analysis_body(
    account_id: str, day: str, values: dict[str, str | None], absent: frozenset[str] = frozenset(),
    pillar: str | None = None, focus_null: bool = False,
) -> bytes:
    """The JSON text, numbers written verbatim (exact decimals, never via float)."""
    scores = ",".join(
        f'"{k}":{_num(values[k])}' for k in gen.SCORE_KEYS if k not in absent
    )
    parts = [f'"account_id":{json.dumps(account_id)}', f'"analysis_date":"{day}"', f'"scores":{{{scores}}}']
    if focus_null:
        parts.append('"primary_focus":null')
    elif "primary_focus" not in absent:
        focus = []
        if "pillar" not in absent:
            focus.append(f'"pillar":{json.dumps(pillar)}')
        if "score" not in absent:
            focus.append(f'"score":{_num(values["score"])}')
        parts.append('"primary_focus":{' + ",".join(focus) + "}")
    return ("{" + ",".join(parts) + "}").encode()


_SIX = ("overall", "environmental", "social", "governance", "pillar", "score")


def render(step: str, account_id: str, a: gen.Analysis, day: date, seed: int, index: int,
           now: float, timeout_delay: float) -> Reply:
    """The reply for `step` to a request for `account_id` whose current analysis is `a`."""
    values: dict[str, str | None] = {**a.scores(), "score": a.primary_score}
    pillar: str | None = a.pillar
    iso = day.isoformat()
    if step == "ok":
        return Reply(200, analysis_body(account_id, iso, values, pillar=pillar))
    if step == "timeout":
        ok = analysis_body(account_id, iso, values, pillar=pillar)
        return Reply(200, ok, action="delay", delay=timeout_delay)
    if step == "reset":
        return Reply(0, b"", action="reset")
    if step in ("partial", "partial-absent"):
        if step == "partial":
            return Reply(200, analysis_body(account_id, iso, {**values, "governance": None, "score": None}, pillar=pillar))
        return Reply(200, analysis_body(account_id, iso, values, frozenset({"governance", "score"}), pillar))
    if step == "partial-mix":
        # A seeded, non-empty, non-full subset of the six, missing as null or absent.
        h = gen.h64(seed, "partial", index)
        mask = 1 + h % 62
        missing = {k for bit, k in enumerate(_SIX) if mask >> bit & 1}
        if (h >> 8) & 1:
            return Reply(200, analysis_body(account_id, iso, values, frozenset(missing), pillar))
        if {"pillar", "score"} <= missing and (h >> 9) & 1:
            return Reply(200, analysis_body(account_id, iso, values, pillar=None, focus_null=True))
        vals = {k: (None if k in missing else v) for k, v in values.items()}
        return Reply(200, analysis_body(account_id, iso, vals, pillar=None if "pillar" in missing else pillar))
    if step == "nodata":
        return Reply(200, analysis_body(account_id, iso, dict.fromkeys(values), pillar=None))
    if step.startswith("invalid-"):
        return Reply(200, _invalid(step, account_id, iso, values, pillar))
    code, _, arg = step.partition(":")
    status = int(code)
    headers: list[tuple[str, str]] = []
    if status == 429:
        retry = formatdate(math.ceil(now) + 1, usegmt=True) if arg == "date" else (arg or "1")
        headers.append(("Retry-After", retry))
    if status == 401:
        headers.append(("WWW-Authenticate", 'Bearer error="invalid_token"'))
    return error_reply(status, f"http_{status}", f"scripted {REASONS.get(status, 'error')}", headers)


def _invalid(step: str, account_id: str, iso: str, values: dict[str, str | None], pillar: str | None) -> bytes:
    if step == "invalid-json":
        return b'{"account_id": "' + account_id.encode() + b'", "scores": {"overall": 7'
    if step == "invalid-array":
        return b"[" + analysis_body(account_id, iso, values, pillar=pillar) + b"]"
    if step == "invalid-missing-id":
        body = analysis_body(account_id, iso, values, pillar=pillar)
        return body.replace(b'"account_id":' + json.dumps(account_id).encode() + b",", b"", 1)
    if step == "invalid-wrong-id":
        return analysis_body(account_id + "-X" if not account_id.startswith("ACC-") else "ACC-9999999",
                             iso, values, pillar=pillar)
    if step == "invalid-score-type":
        return analysis_body(account_id, iso, {**values, "overall": '"abc"'}, pillar=pillar)
    if step == "invalid-score-range":
        return analysis_body(account_id, iso, {**values, "environmental": "150"}, pillar=pillar)
    if step == "invalid-pillar":
        return analysis_body(account_id, iso, values, pillar="Economic")
    return analysis_body(account_id, "2026-13-45", values, pillar=pillar)  # invalid-date


class Behaviours:
    """Per-account scripts, attempt counters and the seeded error/partial mix."""

    def __init__(self, seed: int, error_rate: float = 0.0, partial_rate: float = 0.0) -> None:
        self.seed = seed
        self.error_rate = error_rate
        self.partial_rate = partial_rate
        self.scripts: dict[str, tuple[list[str], int]] = {}  # account_id -> (steps, served)
        # Attempt counters: an array for ACC-ids (4 bytes each at 1M accounts), a dict otherwise.
        self._attempts = array("I")
        self._other: dict[str, int] = {}

    def set_scripts(self, spec: dict[str, object]) -> None:
        parsed: dict[str, list[str] | None] = {}
        for account, steps in spec.items():
            if steps is None or steps == []:
                parsed[account] = None
            elif isinstance(steps, list):
                parsed[account] = [parse_step(s) for s in steps]
            else:
                raise ValueError(f"steps for {account} must be a list")
        for account, steps in parsed.items():
            if steps is None:
                self.scripts.pop(account, None)
            else:
                self.scripts[account] = (steps, 0)

    def reset_attempts(self) -> None:
        self._attempts = array("I")
        self._other.clear()

    def mix_kind(self, index: int | None) -> str | None:
        """The error-mix kind of an account, or None (also `partial` from --partial-rate)."""
        if index is None:
            return None
        if self.error_rate > 0 and gen.unit(self.seed, "err", index) < self.error_rate:
            return _MIX_KINDS[gen.h64(self.seed, "err-kind", index) % len(_MIX_KINDS)]
        if self.partial_rate > 0 and gen.unit(self.seed, "partial-rate", index) < self.partial_rate:
            return "partial"
        return None

    def next_attempt(self, account_id: str, index: int | None) -> int:
        if index is None or index > 50_000_000:
            self._other[account_id] = n = self._other.get(account_id, 0) + 1
            return n
        if len(self._attempts) <= index:
            self._attempts.extend([0] * (index + 1 - len(self._attempts) + 1024))
        self._attempts[index] += 1
        return self._attempts[index]

    def step_for(self, account_id: str, index: int | None, attempt: int) -> str:
        """The step for this request: a script first, then the mix, else `ok`."""
        script = self.scripts.get(account_id)
        if script is not None:
            steps, served = script
            self.scripts[account_id] = (steps, served + 1)
            return steps[min(served, len(steps) - 1)]
        kind = self.mix_kind(index)
        if kind is None:
            return "ok"
        steps_t = ERROR_MIX[kind]
        return steps_t[min(attempt - 1, len(steps_t) - 1)]

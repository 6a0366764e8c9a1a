"""The admin API under `/_sandbox/`: scripts, days, knobs, request log, stats and oracles.

No token needed; never rate limited, delayed or logged. Errors are 400 with a JSON message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from esg_assets.sandbox import generate as gen
from esg_assets.sandbox.behaviour import analysis_body
from esg_assets.sandbox.httpproto import Request, Response
from esg_assets.sandbox.state import Sandbox


def _json(value: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(value, ensure_ascii=False).encode())


def _body(req: Request) -> Any:
    return json.loads(req.body or b"{}")


def _int_param(req: Request, name: str, default: int) -> int:
    raw = parse_qs(req.query).get(name, [str(default)])[0]
    return int(raw)


def _script(sb: Sandbox, req: Request) -> Response:
    spec = _body(req)
    if not isinstance(spec, dict):
        raise ValueError("script must be a JSON object {account_id: [steps]}")
    sb.behaviours.set_scripts(spec)
    return _json({"scripted": sorted(sb.behaviours.scripts)})


def _script_clear(sb: Sandbox, req: Request) -> Response:
    sb.behaviours.scripts.clear()
    return _json({"scripted": []})


def _revoke(sb: Sandbox, req: Request) -> Response:
    return _json({"revoked": sb.tokens.revoke_all()})


def _revoke_plan(sb: Sandbox, req: Request) -> Response:
    spec = _body(req)
    if not isinstance(spec, dict):
        raise ValueError("revoke plan takes a JSON object {\"after\": [n, ...]}")
    sb.tokens.set_revoke_plan(spec.get("after"))
    return _json({"ok": True})


def _token_script(sb: Sandbox, req: Request) -> Response:
    sb.tokens.set_script(_body(req))
    return _json({"ok": True})


def _advance(sb: Sandbox, req: Request) -> Response:
    spec = _body(req)
    if not isinstance(spec, dict):
        raise ValueError("advance takes a JSON object")
    summary = sb.world.advance(spec, datetime.now(UTC))
    sb.behaviours.reset_attempts()  # a new day is a new run: transient failures start over
    return _json(summary)


def _config(sb: Sandbox, req: Request) -> Response:
    if req.method == "POST":
        sb.opts.update(_body(req))
        sb.apply_options()
    return _json(sb.opts.runtime())


def _requests(sb: Sandbox, req: Request) -> Response:
    entries, next_index = sb.log.entries(_int_param(req, "since_index", 0),
                                         _int_param(req, "limit", 100_000))
    return _json({"requests": entries, "next_index": next_index, "dropped": sb.log.dropped})


def _requests_clear(sb: Sandbox, req: Request) -> Response:
    sb.log.clear()
    sb.behaviours.reset_attempts()
    return _json({"next_index": sb.log.base})


def _stats(sb: Sandbox, req: Request) -> Response:
    stats = sb.log.stats()
    stats.update(tokens_issued=sb.tokens.issued, revocations=sb.tokens.revocations, today=sb.world.today.isoformat(),
                 total_accounts=sb.world.total, active_accounts=sb.world.total - len(sb.world.removed),
                 feed_entries=len(sb.world.changes))
    return _json(stats)


def _accounts(sb: Sandbox, req: Request) -> Response:
    """Active accounts with their current analysis, numbers as exact JSON text (test oracle)."""
    offset, limit = _int_param(req, "offset", 0), _int_param(req, "limit", 10_000_000)
    parts = []
    for n, i in enumerate(sb.world.active_indices()):
        if n < offset:
            continue
        if n >= offset + limit:
            break
        record = json.dumps(sb.world.account(i), ensure_ascii=False)[:-1]
        a, day = sb.world.analysis(i)
        ok = analysis_body(gen.account_id(i), day.isoformat(), {**a.scores(), "score": a.primary_score},
                           pillar=a.pillar).decode()
        extra = json.dumps({"behaviour": sb.behaviours.mix_kind(i),
                            "scripted": gen.account_id(i) in sb.behaviours.scripts})[1:-1]
        parts.append(f'{record},"analysis":{ok},{extra}}}')
    body = '{"today":"%s","accounts":[%s]}' % (sb.world.today.isoformat(), ",".join(parts))
    return Response(200, body.encode())


def _tokens(sb: Sandbox, req: Request) -> Response:
    """Every access token issued so far (test oracle: scans prove none leaked into the job's
    logs and files). The sandbox's tokens are worthless outside it, so listing them is safe."""
    return _json({"tokens": list(sb.tokens.issued_tokens)})


def _health(sb: Sandbox, req: Request) -> Response:
    return _json({"ok": True})


ROUTES: dict[tuple[str, str], Callable[[Sandbox, Request], Response]] = {
    ("POST", "/_sandbox/script"): _script,
    ("POST", "/_sandbox/script/clear"): _script_clear,
    ("POST", "/_sandbox/revoke"): _revoke,
    ("POST", "/_sandbox/token-script"): _token_script,
    ("POST", "/_sandbox/revoke-plan"): _revoke_plan,
    ("POST", "/_sandbox/advance"): _advance,
    ("GET", "/_sandbox/config"): _config,
    ("POST", "/_sandbox/config"): _config,
    ("GET", "/_sandbox/requests"): _requests,
    ("POST", "/_sandbox/requests/clear"): _requests_clear,
    ("GET", "/_sandbox/stats"): _stats,
    ("GET", "/_sandbox/accounts"): _accounts,
    ("GET", "/_sandbox/tokens"): _tokens,
    ("GET", "/_sandbox/health"): _health,
}


def handle(sb: Sandbox, req: Request, path: str) -> Response:
    route = ROUTES.get((req.method, path.rstrip("/")))
    if route is None:
        known = any(p == path.rstrip("/") for _, p in ROUTES)
        status = 405 if known else 404
        return _json({"error": "not_found" if status == 404 else "method_not_allowed",
                      "message": f"{req.method} {path}"}, status)
    try:
        return route(sb, req)
    except (ValueError, TypeError) as err:  # json.JSONDecodeError is a ValueError
        return _json({"error": "invalid_request", "message": str(err)}, 400)

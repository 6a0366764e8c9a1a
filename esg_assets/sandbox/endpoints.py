"""The three upstream systems of upstream-apis.yaml: token endpoint, AMS and ESG API handlers.

Each handler answers a parsed request with a `Reply`; `server.py` applies delays, resets, the
rate limiter and the request log around it.
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, unquote

from esg_assets.sandbox import generate as gen
from esg_assets.sandbox.behaviour import Reply, error_reply, render
from esg_assets.sandbox.httpproto import Request
from esg_assets.sandbox.world import MAX_PAGE, parse_rfc3339
from esg_assets.sandbox.state import Sandbox

TOKEN_PATH = "/oauth2/token"
AMS_PATH = "/ams/v1/accounts"
FEED_PATH = "/esg/v1/esg-analysis/changes"
_ANALYSIS_PREFIX, _ANALYSIS_SUFFIX = "/esg/v1/accounts/", "/esg-analysis"


def classify(path: str) -> tuple[str, str | None]:
    """(kind, account_id) of an upstream path; kind `unknown` for anything else."""
    if path.startswith(_ANALYSIS_PREFIX) and path.endswith(_ANALYSIS_SUFFIX):
        account = path[len(_ANALYSIS_PREFIX) : -len(_ANALYSIS_SUFFIX)]
        if account and "/" not in account:
            return "analysis", unquote(account)
    if path == TOKEN_PATH:
        return "token", None
    if path == AMS_PATH:
        return "ams", None
    if path == FEED_PATH:
        return "changes", None
    return "unknown", None


def _unauthorized() -> Reply:
    return error_reply(401, "invalid_token", "bearer token missing, expired or revoked",
                       [("WWW-Authenticate", 'Bearer error="invalid_token"')])


def _limit(params: dict[str, list[str]]) -> int:
    raw = params.get("limit", [str(MAX_PAGE)])[0]
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise ValueError(f"limit must be an integer 1..{MAX_PAGE}")
    return int(raw)


def token(sb: Sandbox, req: Request) -> Reply:
    if req.method != "POST":
        return error_reply(405, "method_not_allowed", "use POST")
    return sb.tokens.request(req.headers.get("authorization"), req.body, time.monotonic(),
                             sb.opts.timeout_delay)


def ams(sb: Sandbox, req: Request) -> Reply:
    if req.method != "GET":
        return error_reply(405, "method_not_allowed", "use GET")
    if not sb.tokens.valid(req.headers.get("authorization"), time.monotonic()):
        return _unauthorized()
    params = parse_qs(req.query, keep_blank_values=True)
    if params.get("status") != ["active"]:
        return error_reply(400, "invalid_request", "status=active is required")
    try:
        limit = _limit(params)
        cursor = params.get("cursor", [None])[0]
        data, next_cursor = sb.world.list_accounts(limit, cursor, sb.opts.duplicate_rate)
    except ValueError as err:
        return error_reply(400, "invalid_request", str(err))
    body = json.dumps({"data": data, "next_cursor": next_cursor}, ensure_ascii=False)
    return Reply(200, body.encode())


def changes(sb: Sandbox, req: Request) -> Reply:
    mode = sb.opts.feed_mode
    if mode in ("501", "404"):
        return error_reply(int(mode), "not_offered", "this provider does not offer the changes feed")
    if req.method != "GET":
        return error_reply(405, "method_not_allowed", "use GET")
    if not sb.tokens.valid(req.headers.get("authorization"), time.monotonic()):
        return _unauthorized()
    sb.tokens.accept_esg()
    params = parse_qs(req.query, keep_blank_values=True)
    cursor = params.get("cursor", [None])[0]
    if mode == "broken" and cursor:
        return error_reply(500, "server_error", "feed broken (sandbox feed_mode=broken)")
    try:
        since = parse_rfc3339(params.get("since", [""])[0])
        data, next_cursor = sb.world.changes_since(since, _limit(params), cursor)
    except ValueError as err:
        return error_reply(400, "invalid_request", f"since/limit/cursor: {err}")
    if mode == "broken" and next_cursor is None:
        next_cursor = "broken"  # so a client always asks for the second page, which fails
    return Reply(200, json.dumps({"data": data, "next_cursor": next_cursor}).encode())


def analysis(sb: Sandbox, req: Request, account_id: str, attempt: int) -> Reply:
    if req.method != "GET":
        return error_reply(405, "method_not_allowed", "use GET")
    if not sb.tokens.valid(req.headers.get("authorization"), time.monotonic()):
        return _unauthorized()
    sb.tokens.accept_esg()
    index = gen.parse_account_id(account_id)
    known = sb.world.exists(index)
    step = sb.behaviours.step_for(account_id, index if known else None, attempt)
    if not known and step in ("ok", "timeout"):
        return error_reply(404, "not_found", f"account {account_id} is not covered")
    a, day = sb.world.analysis(index if known and index else 1)
    return render(step, account_id, a, day, sb.opts.seed, index or 0, time.time(), sb.opts.timeout_delay)

"""The sandbox HTTP server: routing, rate limiter, delays and the request log around the handlers.

Run it with `esg-ratings sandbox serve` (or `python -m esg_assets.cli.sandbox serve`, same options).
It prints one line `sandbox listening on http://HOST:PORT` (`https://` with `--tls-cert` and
`--tls-key`) once it accepts connections, runs until SIGTERM/SIGINT and then exits 0 after
flushing the request log.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import ssl
import time
from collections.abc import Awaitable
from pathlib import Path

from esg_assets.sandbox import admin, endpoints
from esg_assets.sandbox.behaviour import Reply, error_reply
from esg_assets.sandbox.httpproto import HttpProtocol, Request, Response
from esg_assets.sandbox.options import Options
from esg_assets.sandbox.reqlog import DROPPED, RESET, Ctx
from esg_assets.sandbox.state import Sandbox

_SLASHES = re.compile("/{2,}")
_UNLIMITED = 1_000_000  # X-RateLimit-Limit advertised when no limit is configured


class Router:
    """The request handler the protocol calls: routes a request to the admin API or to an
    upstream endpoint, and applies the rate limiter, delays and the request log around it."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.log = sb.log

    def handle(self, req: Request) -> Response | Awaitable[Response]:
        sb = self.sb
        path = _SLASHES.sub("/", req.path) if "//" in req.path else req.path
        if path.startswith("/_sandbox/"):
            return admin.handle(sb, req, path)
        now = time.monotonic()
        kind, account_id = endpoints.classify(path)
        attempt = sb.behaviours.next_attempt(account_id, _index(account_id)) if account_id else None
        ctx = Ctx(now, time.time(), req.method, path, req.query, kind, account_id, attempt)
        self.log.start(ctx)
        headers: list[tuple[str, str]] = []
        if ctx.esg:
            before = self.log.esg_arrival(now)
            limit = sb.opts.rate_limit
            shown = int(limit) if limit > 0 else _UNLIMITED
            remaining = max(shown - before - 1, 0)
            headers = [("X-RateLimit-Limit", str(shown)), ("X-RateLimit-Remaining", str(remaining))]
            if limit > 0 and before >= limit:
                reply = error_reply(429, "rate_limited", f"more than {shown} requests per second",
                                    [("Retry-After", "1")])
                return self._answer(ctx, reply, headers, 0.0)
        if kind == "analysis":
            assert account_id is not None and attempt is not None
            reply = endpoints.analysis(sb, req, account_id, attempt)
            return self._answer(ctx, reply, headers, sb.opts.latency_ms / 1000.0)
        if kind == "changes":
            reply = endpoints.changes(sb, req)
        elif kind == "ams":
            reply = endpoints.ams(sb, req)
        elif kind == "token":
            reply = endpoints.token(sb, req)
        else:
            reply = error_reply(404, "not_found", f"no such path: {path}")
        return self._answer(ctx, reply, headers, 0.0)

    def _answer(self, ctx: Ctx, reply: Reply, headers: list[tuple[str, str]],
                latency: float) -> Response | Awaitable[Response]:
        if reply.status == 429 and headers:
            headers = [headers[0], ("X-RateLimit-Remaining", "0")]
        resp = Response(reply.status, reply.body, reply.headers + headers, reply.content_type,
                        reset=reply.action == "reset")
        delay = latency + (reply.delay if reply.action == "delay" else 0.0)
        if delay > 0:
            return self._delayed(ctx, resp, delay)
        self.log.finish(ctx, RESET if resp.reset else resp.status)
        return resp

    async def _delayed(self, ctx: Ctx, resp: Response, delay: float) -> Response:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self.log.finish(ctx, DROPPED)  # the client gave up (timeout) or we are shutting down
            raise
        self.log.finish(ctx, RESET if resp.reset else resp.status)
        return resp


def _index(account_id: str) -> int | None:
    from esg_assets.sandbox.generate import parse_account_id

    return parse_account_id(account_id)


def _write_ready_file(path: str, port: int) -> None:
    # Write then rename, so a reader polling for the file never sees it half written.
    tmp = Path(f"{path}.tmp{os.getpid()}")
    tmp.write_text(f"{port}\n")
    tmp.replace(path)


def tls_context(opts: Options) -> ssl.SSLContext | None:
    """The server-side TLS context, or None for plain HTTP.

    Loaded before the socket is bound, so a bad certificate or key stops the server at once
    instead of failing every handshake later. TLS 1.2 is the floor: older versions are broken.
    """
    if not opts.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(opts.tls_cert, opts.tls_key)
    return context


async def serve(opts: Options) -> int:
    loop = asyncio.get_running_loop()
    tls = tls_context(opts)
    log_file = open(opts.request_log, "a", encoding="utf-8") if opts.request_log else None  # noqa: SIM115
    sandbox = Sandbox(opts, log_file)
    router = Router(sandbox)
    connections: set[HttpProtocol] = set()
    server = await loop.create_server(
        lambda: HttpProtocol(router.handle, connections), opts.host, opts.port, backlog=2048, ssl=tls
    )
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"sandbox listening on {opts.scheme}://{opts.host}:{port}", flush=True)
    if opts.ready_file:
        _write_ready_file(opts.ready_file, port)

    async def flush_every_second() -> None:
        while True:
            await asyncio.sleep(1.0)
            sandbox.log.flush()

    flusher = asyncio.ensure_future(flush_every_second())
    try:
        await stop.wait()
    finally:
        server.close()
        for conn in list(connections):
            if conn.transport is not None:
                conn.transport.abort()  # cancels delayed answers (logged as dropped)
        await asyncio.sleep(0)
        flusher.cancel()
        sandbox.log.flush()
        if log_file is not None:
            log_file.close()
    return 0


def run(opts: Options) -> int:
    """Serve until SIGTERM/SIGINT, on uvloop when it is installed (several times faster)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(serve(opts))
    return uvloop.run(serve(opts))


"""The alert channels' counterparts on loopback: a real SMTP server (aiosmtpd) keeping what it
accepted, a PagerDuty Events API stand-in (http.server), the alert variables pointing at them,
and how a test stops a `dagster-daemon` it started."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from esg_assets.alerts import RetryPolicy
from esg_assets.settings import AlertSettings, load_alerts

ROUTING_KEY = "R0UT1NGKEY-test-0123456789abcdef"
SMTP_PASSWORD = "smtp-pa55word-never-logged"
RECIPIENTS = ("dev-team@example.com", "esg-stakeholders@example.com")
SENDER = "esg-alerts@example.com"
FAST = RetryPolicy(attempts=3, backoff_seconds=0.01, budget_seconds=20)


def stop_daemon(daemon: "subprocess.Popen[str] | subprocess.Popen[bytes]", wait: float = 30) -> None:
    """SIGTERM (dagster-daemon stops on it in 1-4 s), then SIGKILL after `wait` seconds."""
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(wait)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait(5)


def free_port() -> int:
    """A loopback port nobody listens on (closed until a test starts a server there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: Message


@dataclass
class SmtpSink:
    """aiosmtpd handler keeping every message and every login it accepted."""

    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd hook
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                      message_from_bytes(envelope.original_content, policy=policy.default)))
        return "250 OK"


@dataclass
class SmtpServer:
    port: int
    sink: SmtpSink
    controller: Controller


def start_smtp(port: int, *, with_auth: bool = False, tls: ssl.SSLContext | None = None) -> SmtpServer:
    """Without `with_auth` the server does not offer AUTH at all, so a client that called
    login() would fail: delivery itself proves no login was attempted. With `tls` (a server
    context) it offers STARTTLS and accepts no mail before it."""
    sink = SmtpSink()
    extra: dict[str, object] = {"authenticator": sink.authenticate, "auth_require_tls": False} if with_auth else {}
    if tls is not None:
        extra |= {"tls_context": tls, "require_starttls": True}
    controller = Controller(sink, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    return SmtpServer(port, sink, controller)


@dataclass
class PagerDutyStandIn:
    """Records every POSTed event; answers `statuses` in turn, then 202 forever."""

    port: int
    events: list[dict] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/v2/enqueue"


def start_pagerduty(port: int = 0, *, tls: ssl.SSLContext | None = None) -> tuple[PagerDutyStandIn, ThreadingHTTPServer]:
    """The stand-in, over HTTPS when `tls` (a server context) is given."""
    state = PagerDutyStandIn(port, scheme="https" if tls else "http")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server hook
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = state.statuses.pop(0) if state.statuses else 202
            if status == 202:
                event = json.loads(body)
                event["_content_type"] = self.headers.get("Content-Type")
                state.events.append(event)
                answer = {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}
            else:
                answer = {"status": "error", "message": "try again"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server


def alert_env(smtp_port: int, pagerduty_url: str, **extra: str) -> dict[str, str]:
    """The alert variables (configuration.md) pointing at the loopback servers: what a test
    daemon's environment holds, and what `alert_settings` loads."""
    return {
        "ESG_ALERT_EMAIL_TO": ",".join(RECIPIENTS),
        "ESG_SMTP_HOST": "127.0.0.1",
        "ESG_SMTP_PORT": str(smtp_port),
        "ESG_SMTP_STARTTLS": "false",  # aiosmtpd on loopback offers no TLS
        "ESG_ALERT_EMAIL_FROM": SENDER,
        "ESG_PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
        "ESG_PAGERDUTY_EVENTS_URL": pagerduty_url,
        **extra,
    }


def alert_settings(smtp_port: int, pagerduty_url: str, **extra: str) -> AlertSettings:
    """Settings through the real `load_alerts`, as the sensors read them."""
    return load_alerts(alert_env(smtp_port, pagerduty_url, **extra))

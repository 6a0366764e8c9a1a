"""The sandbox's OAuth 2.0 client-credentials token endpoint: issue, expiry, revocation, scripts.

Pure logic; the caller passes the monotonic clock so expiry is testable without sleeping.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from urllib.parse import parse_qs

from esg_assets.sandbox.behaviour import Reply, error_reply

TOKEN_STEPS = frozenset({"ok", "500", "401", "400", "timeout"})


class TokenStore:
    """Issued bearer tokens with their expiry (monotonic seconds)."""

    def __init__(self, client_id: str, client_secret: str, ttl: int) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.ttl = ttl
        self._tokens: dict[str, float] = {}
        self.issued = 0
        # Every token ever issued (also expired or revoked ones), for the secrets-scan tests that
        # must prove no token reached the job's logs or files. A sandbox-only test oracle.
        self.issued_tokens: list[str] = []
        self._script: list[str] = []
        self._served = 0
        # Revocation plan: after the n-th ESG request accepted with a valid token, every token
        # is revoked (close revocations and rotations, as a resource server may do them).
        self._revoke_after: list[int] = []
        self.esg_accepted = 0
        self.revocations = 0

    def set_script(self, steps: object) -> None:
        if not isinstance(steps, list) or not all(isinstance(s, (str, int)) for s in steps):
            raise ValueError("token script must be a list of steps")
        parsed = [str(s) for s in steps]
        if bad := [s for s in parsed if s not in TOKEN_STEPS]:
            raise ValueError(f"invalid token steps: {bad}")
        self._script, self._served = parsed, 0

    def revoke_all(self) -> int:
        count = len(self._tokens)
        self._tokens.clear()
        self.revocations += 1
        return count

    def set_revoke_plan(self, after: object) -> None:
        """Revoke every token after each listed count of accepted ESG requests (counted from
        now); two equal-but-one counts are two revocations in a row."""
        if not isinstance(after, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0
                                                  for n in after):
            raise ValueError("revoke plan must be a list of positive integers")
        self._revoke_after, self.esg_accepted = sorted(after), 0

    def accept_esg(self) -> None:
        """Count one ESG request answered with a valid token; revoke when the plan says so."""
        self.esg_accepted += 1
        while self._revoke_after and self._revoke_after[0] <= self.esg_accepted:
            self._revoke_after.pop(0)
            self.revoke_all()

    def valid(self, authorization: str | None, now: float) -> bool:
        if not authorization or not authorization[:7].lower() == "bearer ":
            return False
        token = authorization[7:].strip()
        expiry = self._tokens.get(token)
        if expiry is None:
            return False
        if now >= expiry:
            del self._tokens[token]
            return False
        return True

    def _client_ok(self, authorization: str | None, form: dict[str, list[str]]) -> bool:
        client_id = client_secret = None
        if authorization and authorization[:6].lower() == "basic ":
            try:
                raw = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            client_id, sep, client_secret = raw.partition(":")
            if not sep:
                return False
        elif "client_id" in form and "client_secret" in form:
            # RFC 6749 2.3.1 also allows the body; accepted, though the contract asks for Basic.
            client_id, client_secret = form["client_id"][0], form["client_secret"][0]
        if client_id is None or client_secret is None:
            return False
        return secrets.compare_digest(client_id.encode(), self.client_id.encode()) and \
            secrets.compare_digest(client_secret.encode(), self.client_secret.encode())

    def request(self, authorization: str | None, body: bytes, now: float, timeout_delay: float) -> Reply:
        """Answer one POST to the token endpoint."""
        step = "ok"
        if self._script:
            step = self._script[min(self._served, len(self._script) - 1)]
            self._served += 1
        if step == "500":
            return error_reply(500, "server_error", "scripted token endpoint failure")
        if step == "401":
            return error_reply(401, "invalid_client", "scripted rejection",
                               [("WWW-Authenticate", 'Basic realm="sandbox"')])
        if step == "400":
            return error_reply(400, "invalid_request", "scripted bad request")
        try:
            form = parse_qs(body.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            return error_reply(400, "invalid_request", "body is not UTF-8 form data")
        if not self._client_ok(authorization, form):
            return error_reply(401, "invalid_client", "client authentication failed",
                               [("WWW-Authenticate", 'Basic realm="sandbox"')])
        grant = form.get("grant_type", [""])[0]
        if grant != "client_credentials":
            error = "invalid_request" if not grant else "unsupported_grant_type"
            return error_reply(400, error, "grant_type must be client_credentials")
        token = secrets.token_urlsafe(32)
        self._tokens[token] = now + self.ttl
        self.issued += 1
        self.issued_tokens.append(token)
        body_out = (
            '{"access_token":"%s","token_type":"Bearer","expires_in":%d,"scope":"ams.read esg.read"}'
            % (token, self.ttl)
        ).encode()
        reply = Reply(200, body_out, [("Cache-Control", "no-store"), ("Pragma", "no-cache")])
        if step == "timeout":
            reply.action, reply.delay = "delay", timeout_delay
        return reply

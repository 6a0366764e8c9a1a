"""E-mail channel: one message per alert to every address of ESG_ALERT_EMAIL_TO, over SMTP.

Transport, chosen from the settings:
- port 465 -> implicit TLS (`SMTP_SSL`), whatever ESG_SMTP_STARTTLS says (465 is TLS-only);
- otherwise STARTTLS when ESG_SMTP_STARTTLS is true (the default) — if the server does not offer
  it we fail rather than fall back to plain text;
- otherwise plain SMTP (a relay on the same host or network).
`login()` is called only when ESG_SMTP_USER is set: many internal relays accept no AUTH at all.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from esg_assets.alerts.model import Alert, Channel, ChannelError
from esg_assets.resources.tls import upstream_context
from esg_assets.settings import AlertSettings, is_loopback_host

IMPLICIT_TLS_PORT = 465
DEFAULT_TIMEOUT_SECONDS = 10.0

_log = logging.getLogger(__name__)


class EmailChannel(Channel):
    """Sends alerts with smtplib; every connection has a timeout."""

    name = "email"

    def __init__(
        self,
        settings: AlertSettings,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        verify: str | bool = True,
    ):
        if not settings.email_to or not settings.smtp_host or not settings.email_from:
            raise ValueError("the e-mail channel needs ESG_ALERT_EMAIL_TO, ESG_SMTP_HOST, ESG_ALERT_EMAIL_FROM")
        self._settings = settings
        self._timeout = timeout
        self._verify = verify

    def message(self, alert: Alert) -> EmailMessage:
        """The message for `alert`: subject exactly as the contract spells it."""
        msg = EmailMessage()
        msg["Subject"] = alert.subject
        msg["From"] = self._settings.email_from
        msg["To"] = ", ".join(self._settings.email_to)
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(domain="esg-ratings")
        # Mail clients thread follow-ups of the same incident together.
        msg["X-ESG-Dedup-Key"] = alert.dedup_key
        msg.set_content(alert.body())
        return msg

    def _tls_context(self) -> ssl.SSLContext:
        # The upstreams' trust: the system store, plus ESG_CA_BUNDLE on top (never instead).
        return upstream_context(self._verify if isinstance(self._verify, str) else None)

    def _connect(self) -> smtplib.SMTP:
        s = self._settings
        host, port = s.smtp_host or "", s.smtp_port
        if port == IMPLICIT_TLS_PORT:
            return smtplib.SMTP_SSL(host, port, timeout=self._timeout, context=self._tls_context())
        smtp = smtplib.SMTP(host, port, timeout=self._timeout)
        try:
            smtp.ehlo()
            if s.smtp_starttls:
                smtp.starttls(context=self._tls_context())
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, alert: Alert) -> None:
        s = self._settings
        msg = self.message(alert)
        tls = s.smtp_port == IMPLICIT_TLS_PORT or s.smtp_starttls
        if s.smtp_user and not tls and not is_loopback_host(s.smtp_host):
            # Checked before connecting: the password would cross the network in clear text.
            raise ChannelError(
                f"refusing to send SMTP credentials without TLS to {s.smtp_host}: set ESG_SMTP_STARTTLS=true "
                f"or port {IMPLICIT_TLS_PORT} (clear-text login is allowed to a loopback host only)",
                retryable=False,
            )
        try:
            smtp = self._connect()
            try:
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password.value)
                refused = smtp.send_message(msg, from_addr=s.email_from, to_addrs=list(s.email_to))
                smtp.quit()
            finally:
                smtp.close()
        except smtplib.SMTPAuthenticationError as err:
            # The server's answer may echo the user name but never the password; log the code only.
            raise ChannelError(f"SMTP login refused ({err.smtp_code})", retryable=False) from None
        except smtplib.SMTPNotSupportedError as err:
            raise ChannelError(f"SMTP server does not support a required feature: {err}", retryable=False) from None
        except (smtplib.SMTPException, OSError) as err:
            raise ChannelError(f"SMTP {s.smtp_host}:{s.smtp_port}: {type(err).__name__}: {err}") from None
        if refused:
            # Delivered to the others; a resend would duplicate for them, so log and count it sent.
            _log.warning("SMTP server refused recipients %s for %s", sorted(refused), alert.dedup_key)

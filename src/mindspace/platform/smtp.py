"""Email delivery over SMTP: a `messaging.Provider` for the email channel.

Each message goes out as multipart/alternative: the stored plain text (always, and first, so
a client that shows only one part shows that) and an HTML rendering of the same text. Any
connection or SMTP error raises, so the caller keeps the message, counts the attempt and tries
again later; `EmailDeliveryError.permanent` says when trying again cannot help.
"""

from __future__ import annotations

import html
import re
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib

from mindspace.platform.clock import utc_now
from mindspace.platform.config import Settings
from mindspace.platform.messaging import Channel, OutboundMessage

DEFAULT_SUBJECT = "Mindspace"
# Only web links become anchors: a `javascript:` or `data:` URL in a body stays inert text.
_URL = re.compile(r"(https?://[^\s<>\"']+)")
_TRAILING_PUNCTUATION = ".,;:!?)]"


class EmailDeliveryError(RuntimeError):
    """The SMTP server could not be reached or refused the message.

    `permanent` is set for a 5xx refusal (no such mailbox, rejected sender): retrying the same
    message cannot succeed. Anything else (connection refused, 4xx, a timeout) is transient."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class SmtpEmail:
    channel = Channel.email

    def __init__(
        self,
        *,
        host: str,
        port: int = 587,
        from_address: str,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        starttls: bool | None = None,
        timeout_s: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """`use_tls` is TLS from the first byte (port 465). `starttls` True requires the
        upgrade, False never asks for it, None upgrades when the server offers it."""
        if use_tls and starttls:
            raise ValueError("use_tls and starttls are exclusive: pick one")
        name, address = parseaddr(from_address)
        if "@" not in address:
            raise ValueError(f"from_address has no email address: {from_address!r}")
        self._from = Address(display_name=name, addr_spec=address)
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._use_tls = use_tls
        self._starttls = starttls
        self._timeout_s = timeout_s
        self._tls_context = tls_context

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpEmail | None:
        """The provider the settings describe, or None when no SMTP host is configured."""
        if not settings.smtp_host:
            return None
        password = settings.smtp_password
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            from_address=settings.smtp_from,
            username=settings.smtp_username,
            password=password.get_secret_value() if password else None,
            use_tls=settings.smtp_security == "tls",
            starttls=settings.smtp_security == "starttls",
            timeout_s=settings.smtp_timeout_s,
        )

    def compose(self, message: OutboundMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self._from
        email["To"] = message.recipient
        # A subject is one header line: a newline in it must not start another header.
        email["Subject"] = " ".join((message.subject or DEFAULT_SUBJECT).split())
        # The time the message was written, not the time of this attempt: RFC 5322's "ready to
        # enter the mail system". After an outage it shows when the event really happened.
        email["Date"] = format_datetime(message.created_at or utc_now())
        # Stable across retries: if a server took the message but the connection died before
        # we recorded it, the copy sent on retry carries the same id and clients fold the two.
        email["Message-ID"] = f"<{message.id.hex}@{self._from.domain}>"
        email.set_content(message.body, cte="quoted-printable")
        email.add_alternative(text_to_html(message.body), subtype="html", cte="quoted-printable")
        return email

    async def deliver(self, message: OutboundMessage) -> None:
        email = self.compose(message)
        try:
            # One connection per message: no idle connection to go stale between batches, and
            # a failure cannot leave a half-used session for the next message.
            await aiosmtplib.send(
                email,
                sender=self._from.addr_spec,
                recipients=[message.recipient],
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._use_tls,
                start_tls=self._starttls,
                tls_context=self._tls_context,
                timeout=self._timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            # The message names the server and the reason, never the credentials.
            raise EmailDeliveryError(
                f"{self._host}:{self._port}: {type(exc).__name__}: {_reason(exc)}",
                permanent=_is_permanent(exc),
            ) from exc

    async def aclose(self) -> None:
        """Nothing is held between messages; here for the worker's shutdown loop."""


def text_to_html(text: str) -> str:
    """The plain text as a small HTML document: escaped, blank lines as paragraphs, single
    line breaks kept, web links clickable."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()) if p]
    body = "\n".join(
        "<p>" + "<br>\n".join(_linkify(line) for line in p.split("\n")) + "</p>" for p in paragraphs
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f'<body style="font-family: sans-serif; line-height: 1.5">\n{body}\n</body></html>\n'
    )


def _linkify(line: str) -> str:
    out = []
    for index, part in enumerate(_URL.split(line)):
        if index % 2 == 0:
            out.append(html.escape(part))
            continue
        url = part.rstrip(_TRAILING_PUNCTUATION)
        tail = part[len(url) :]
        out.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>{html.escape(tail)}')
    return "".join(out)


def _is_permanent(exc: BaseException) -> bool:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= r.code < 600 for r in exc.recipients)
    # Only refusals of this message: a refused login or greeting is our configuration or the
    # server's state, which can be fixed while the message waits.
    if isinstance(
        exc,
        aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPSenderRefused | aiosmtplib.SMTPDataError,
    ):
        return 500 <= exc.code < 600
    return False


def _reason(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
    return str(exc) or repr(exc)

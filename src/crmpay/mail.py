"""SMTP: checking a server and sending messages with attachments."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

from crmpay.config import SmtpSettings
from crmpay.core.errors import AuthError, OperationFailed, TemporaryError, UsageError


@contextmanager
def smtp_session(
    settings: SmtpSettings, password: str | None, *, timeout: float | None = None
) -> Iterator[smtplib.SMTP]:
    """A logged-in SMTP session; errors mapped to exit codes, the password never shown.
    Each socket operation waits at most `timeout` (default: the read timeout of
    `retry.attempt_timeouts()`), and the command's deadline names the server."""
    from crmpay.retry import attempt_timeouts, waiting_on

    where = f"{settings.host}:{settings.port}"
    timeout = timeout or attempt_timeouts()[1]
    try:
        with waiting_on(f"the SMTP server {where}"):
            yield from _session(settings, password, timeout)
    except smtplib.SMTPAuthenticationError:
        raise AuthError(f"the SMTP server {where} rejected the login for {settings.user}") from None
    except smtplib.SMTPNotSupportedError as exc:  # no AUTH, no STARTTLS: trying again cannot help
        raise UsageError(
            f"the SMTP server {where} does not support that: {exc}",
            hint="check --security, and give --user only to a server that offers a login",
        ) from None
    except ssl.SSLError as exc:  # TLS on a plain port, a certificate that does not verify
        raise UsageError(
            f"TLS with the SMTP server {where} failed: {exc.reason or exc}",
            hint="check --security (tls for port 465, starttls for 587)",
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise OperationFailed(f"the SMTP server {where} refused the recipient(s) {', '.join(exc.recipients)}") from None
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code < 100:  # smtplib's -1: a line that is no SMTP reply
            raise UsageError(
                f"{where} does not speak SMTP (it answered {_text(exc.smtp_error)[:60]!r})",
                hint="check the SMTP host and port",
            ) from None
        text = f"the SMTP server {where} answered {exc.smtp_code}: {_text(exc.smtp_error)}"
        if 400 <= exc.smtp_code < 500:
            raise TemporaryError(text, hint="try again later") from None
        raise OperationFailed(text) from None
    except (OSError, smtplib.SMTPException) as exc:  # refused, reset, timed out, unknown host
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise TemporaryError(f"cannot reach the SMTP server {where}: {reason}", hint="try again later") from None


def _session(settings: SmtpSettings, password: str | None, timeout: float) -> Iterator[smtplib.SMTP]:
    if settings.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    with client:
        client.ehlo()
        if settings.security == "starttls":
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if settings.user:
            client.login(settings.user, password or "")
        yield client


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def check_smtp(settings: SmtpSettings, password: str | None) -> None:
    with smtp_session(settings, password) as client:
        client.noop()


def send(settings: SmtpSettings, password: str | None, message: EmailMessage) -> None:
    with smtp_session(settings, password) as client:
        client.send_message(message)

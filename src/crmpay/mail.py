"""SMTP: checking a server and sending messages with attachments."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

from crmpay.config import SmtpSettings
from crmpay.core.errors import AuthError, TemporaryError


@contextmanager
def smtp_session(settings: SmtpSettings, password: str | None, *, timeout: float = 20) -> Iterator[smtplib.SMTP]:
    """A logged-in SMTP session; errors mapped to exit codes, the password never shown."""
    where = f"{settings.host}:{settings.port}"
    try:
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
    except smtplib.SMTPAuthenticationError:
        raise AuthError(f"the SMTP server {where} rejected the login for {settings.user}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise TemporaryError(f"the SMTP server {where} does not support that: {exc}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise TemporaryError(f"cannot talk to the SMTP server {where}: {exc}") from None


def check_smtp(settings: SmtpSettings, password: str | None) -> None:
    with smtp_session(settings, password) as client:
        client.noop()


def send(settings: SmtpSettings, password: str | None, message: EmailMessage) -> None:
    with smtp_session(settings, password) as client:
        client.send_message(message)

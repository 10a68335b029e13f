"""What a use case needs from the application: the profile's config, home and store.

`crmpay.Workspace` provides it; use cases take it as `ctx` and open providers, the CRM,
secrets, mailers and locks themselves, so every front end (the command line, the
Python API, the demo) runs the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

if TYPE_CHECKING:
    from email.message import EmailMessage

    from crmpay.config import Config
    from crmpay.crm.zoho import ZohoCRM
    from crmpay.paths import Home
    from crmpay.providers.base import PaymentProvider
    from crmpay.store import Store

Progress = Callable[[str, int, int | None], None]
"""(what, done so far, total when known): how a long use case reports its progress."""


class Context(Protocol):
    @property
    def profile(self) -> str: ...

    @property
    def home(self) -> Home: ...

    @property
    def config(self) -> Config: ...

    def store(self) -> Store: ...


@contextmanager
def profile_lock(ctx: Context, name: str, what: str) -> Iterator[None]:
    """One `what` per profile at a time (a second one exits 5, naming the holder)."""
    from crmpay.services.locks import exclusive

    ctx.home.ensure_profile_dir(ctx.profile)
    with exclusive(ctx.home.profile_dir(ctx.profile) / f"{name}.lock", what):
        yield


def providers(ctx: Context, only: str | None = None) -> dict[str, PaymentProvider]:
    """The connected payment providers (or `only` that one), opened with their secrets."""
    from crmpay.providers import connected_providers, open_provider

    names = [only] if only else connected_providers(ctx.config)
    return {name: open_provider(ctx.config, name) for name in names}


@overload
def crm(ctx: Context) -> ZohoCRM: ...
@overload
def crm(ctx: Context, *, required: Literal[True]) -> ZohoCRM: ...
@overload
def crm(ctx: Context, *, required: bool) -> ZohoCRM | None: ...


def crm(ctx: Context, *, required: bool = True) -> ZohoCRM | None:
    """The profile's CRM client; None when it is not connected and not `required`."""
    from crmpay.crm import open_crm, zoho_connected

    if not required and not zoho_connected(ctx.config):
        return None
    return open_crm(ctx.config)


def mailer(ctx: Context) -> tuple[Callable[[EmailMessage], Any] | None, str | None]:
    """A function sending one message through the profile's SMTP server, and the sender
    address; (None, None) when no SMTP server is configured."""
    settings = ctx.config.settings.smtp
    if settings is None:
        return None, None
    from crmpay import mail
    from crmpay.secrets import get_secret

    password = get_secret(ctx.profile, "smtp", "password") if settings.user else None
    return (lambda message: mail.send(settings, password, message)), (settings.from_address or settings.user)

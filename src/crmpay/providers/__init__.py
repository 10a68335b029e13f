"""Payment providers behind one Protocol (`base.PaymentProvider`).

`build_provider` makes one from a secret and settings; `open_provider` reads both from a
profile. The SDK modules are imported here, on first use only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmpay.core.errors import NotConnected, UsageError

if TYPE_CHECKING:
    from crmpay.config import Config, GoCardlessSettings, MollieSettings
    from crmpay.providers.base import PaymentProvider
    from crmpay.retry import RetryPolicy

PROVIDERS = ("gocardless", "mollie")
SECRET_FIELD = {"gocardless": "access_token", "mollie": "api_key"}


def build_provider(
    name: str,
    secret: str,
    settings: GoCardlessSettings | MollieSettings,
    *,
    retry_policy: RetryPolicy | None = None,
    webhook_url: str | None = None,
) -> PaymentProvider:
    if name == "gocardless":
        from crmpay.providers.gocardless import GoCardlessProvider

        return GoCardlessProvider(
            secret,
            environment=settings.environment,
            base_url=settings.base_url,
            retry_policy=retry_policy,
        )
    if name == "mollie":
        from crmpay.providers.mollie import MollieProvider

        return MollieProvider(
            secret,
            environment=settings.environment,
            base_url=settings.base_url,
            retry_policy=retry_policy,
            redirect_url=getattr(settings, "redirect_url", None),
            webhook_url=webhook_url,
        )
    raise UsageError(f"unknown provider {name!r}", hint=f"choose one of {', '.join(PROVIDERS)}")


def open_provider(config: Config, name: str) -> PaymentProvider:
    """The provider as the profile connected it; NotConnected (exit 4) when it is not."""
    from crmpay.config import GoCardlessSettings, MollieSettings
    from crmpay.secrets import require_secret

    secret = require_secret(config.profile, name, SECRET_FIELD[name])
    settings = getattr(config.settings, name, None)
    if settings is None:
        settings = GoCardlessSettings() if name == "gocardless" else MollieSettings()
    public = config.settings.webhooks.public_url
    return build_provider(name, secret, settings, webhook_url=f"{public}/webhooks/{name}" if public else None)


def connected_providers(config: Config) -> list[str]:
    from crmpay.secrets import read_secret

    return [name for name in PROVIDERS if read_secret(config.profile, name, SECRET_FIELD[name]) is not None]


def none_connected(only: str | None = None) -> NotConnected:
    """The error when no payment provider (or not `only`) is connected, saying how to
    connect one, and which variables to set when no keyring is available."""
    from crmpay.secrets import env_var, keyring_available

    names = [only] if only else list(PROVIDERS)
    hint = "run " + " or ".join(f"`crmpay connect {name}`" for name in names)
    if not keyring_available():
        hint += " (no keyring is available here: set " + " or ".join(env_var(n, SECRET_FIELD[n]) for n in names) + ")"
    return NotConnected(f"{only} is not connected" if only else "no payment provider is connected", hint=hint)

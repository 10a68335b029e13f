"""The CRM: Zoho CRM behind the `base.CRM` Protocol; `open_crm` reads a profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmpay.config import Config
    from crmpay.crm.zoho import ZohoCRM


def open_crm(config: Config) -> ZohoCRM:
    """The profile's Zoho CRM; NotConnected (exit 4) when it is not connected."""
    from crmpay.config import ZohoSettings
    from crmpay.crm.tokens import TokenCache
    from crmpay.crm.zoho import ZohoCRM
    from crmpay.secrets import require_secret

    fields = [require_secret(config.profile, "zoho", f) for f in ("client_id", "client_secret", "refresh_token")]
    settings = config.settings.zoho or ZohoSettings()
    cache = TokenCache(config.profile, config.home.profile_dir(config.profile))
    return ZohoCRM(
        *fields, token_cache=cache, dc=settings.dc, accounts=settings.accounts_url, api_url=settings.base_url
    )


def zoho_connected(config: Config) -> bool:
    from crmpay.secrets import read_secret

    return all(read_secret(config.profile, "zoho", f) for f in ("client_id", "client_secret", "refresh_token"))

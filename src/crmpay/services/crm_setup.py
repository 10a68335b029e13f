"""Connecting Zoho CRM and checking that the profile's CRM mapping exists there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmpay import secrets
from crmpay.config import Config, ZohoSettings
from crmpay.core.errors import UsageError

if TYPE_CHECKING:
    from crmpay.crm.base import CRM
    from crmpay.services.context import Context


def connect_zoho(
    config: Config,
    *,
    client_id: str,
    client_secret: str,
    grant_code: str,
    dc: str,
    environment: str,
    base_url: str | None,
) -> dict[str, Any]:
    """Exchange the grant code, check access with a cheap call, then store the secrets."""
    from pydantic import ValidationError

    from crmpay.crm.tokens import TokenCache
    from crmpay.crm.zoho import ZohoCRM, exchange_grant_code, revoke_refresh_token

    try:
        settings = ZohoSettings.model_validate(
            {
                "environment": environment,
                "dc": dc,
                "base_url": base_url,
                "accounts_url": base_url if environment == "local" else None,
            }
        )
    except ValidationError as exc:
        raise UsageError(f"zoho: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    previous = _previous_refresh_token(config)
    answer = exchange_grant_code(client_id, client_secret, grant_code, dc=dc, accounts=settings.accounts_url)
    cache = TokenCache(config.profile, config.home.profile_dir(config.profile))
    crm = ZohoCRM(
        client_id,
        client_secret,
        answer["refresh_token"],
        token_cache=cache,
        dc=dc,
        accounts=settings.accounts_url,
        api_url=settings.base_url,
    )
    # the token minted with the grant code serves this check and the runs after it
    token = crm.adopt(answer["access_token"], int(answer.get("expires_in", 3600)), answer.get("api_domain", ""))
    users = crm.users()
    for field, value in (
        ("client_id", client_id),
        ("client_secret", client_secret),
        ("refresh_token", answer["refresh_token"]),
    ):
        secrets.set_secret(config.profile, "zoho", field, value)
    cache.save(token)
    revoked = None
    if previous is not None and previous[0] != answer["refresh_token"]:
        revoked = revoke_refresh_token(previous[0], accounts=previous[1])
    config.update_section("zoho", settings.model_dump(mode="json", exclude_none=True))
    return {
        "service": "zoho",
        "profile": config.profile,
        "connected": True,
        "dc": dc,
        "users": len(users),
        "scope": answer.get("scope"),
        # None: there was no earlier token of ours; False: it could not be revoked
        "previous_token_revoked": revoked,
    }


def _previous_refresh_token(config: Config) -> tuple[str, str] | None:
    """The refresh token this profile kept in the keyring before, and its accounts server."""
    from crmpay.crm.zoho import accounts_url

    token = secrets.keyring_value(config.profile, "zoho", "refresh_token")
    if not token:
        return None
    settings = config.settings.zoho
    try:
        return token, accounts_url(settings.dc if settings else "eu", settings.accounts_url if settings else None)
    except UsageError:
        return None


def is_unique(fields: list[dict[str, Any]], api_name: str) -> bool:
    """Whether the field is marked unique in the module's field metadata."""
    return any(f.get("api_name") == api_name and f.get("unique") for f in fields)


def check_mapping(config: Config, crm: CRM) -> dict[str, Any]:
    """Every module and field the profile's mapping names exists; the scopes work."""
    mapping = config.settings.crm
    modules = {m["api_name"] for m in crm.modules()}
    missing: list[str] = []
    for key in ("contacts_module", "mandates_module", "payments_module"):
        module = getattr(mapping, key)
        if module not in modules:
            missing.append(
                f"crm.{key}: module {module!r} does not exist in Zoho CRM; create it in "
                "Setup > Modules and Fields (or set crm.{key} to an existing one)".replace("{key}", key)
            )
    if mapping.contacts_module in modules:
        fields = {f["api_name"] for f in crm.fields(mapping.contacts_module)}
        if mapping.contact_mandate_field not in fields:
            missing.append(
                f"crm.contact_mandate_field: field {mapping.contact_mandate_field!r} does not exist "
                f"in {mapping.contacts_module}; add a checkbox field with that API name"
            )
    for key in ("mandates_module", "payments_module"):  # upserted by Name
        module = getattr(mapping, key)
        if module in modules and not is_unique(crm.fields(module), "Name"):
            missing.append(
                f"crm.{key}: field 'Name' of {module} is not unique, and Zoho matches upserts only on unique "
                'fields (each sync would add records); tick "Do not allow duplicate values" for it in '
                "Setup > Modules and Fields"
            )
    users = crm.users()
    crm.query(f"select id from {mapping.contacts_module} limit 1") if mapping.contacts_module in modules else None
    return {"ok": not missing, "missing": missing, "modules_checked": 3, "active_users": len(users)}


def check(ctx: Context) -> dict[str, Any]:
    """`crmpay crm check`: the mapping checked against the connected CRM."""
    from crmpay.services import context

    return check_mapping(ctx.config, context.crm(ctx))

"""What every test home starts with (imported as `import _homes`, like `_paths`)."""

# The seller: no invoice is issued without its identity.
SELLER = {
    "name": "Acme SAS",
    "address": "1 rue de la Paix, 75002 Paris",
    "siren": "732829320",
    "vat_number": "FR44732829320",
}
SELLER_CONFIG = "[profiles.default.seller]\n" + "".join(f'{key} = "{value}"\n' for key, value in SELLER.items())


def seller_settings():
    """`SELLER` as the settings object the services take."""
    from crmpay.config import SellerSettings

    return SellerSettings(**SELLER)

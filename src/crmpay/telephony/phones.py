"""Phone numbers as E.164, the only form crmpay compares."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


@lru_cache(maxsize=200_000)  # a call file repeats its numbers; parsing one costs ~0.2 ms
def to_e164(text: str | None, region: str) -> str | None:
    """The number in E.164, or None for extensions, short numbers and non-numbers."""
    if not text:
        return None
    cleaned = text.strip()
    digits = sum(c.isdigit() for c in cleaned)
    if digits < 6:  # internal extensions (100-999) and short numbers are not callers
        return None
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def spellings(e164: str) -> list[str]:
    """The ways a person commonly types this number into a CRM: E.164, international
    ("+33 6 12 34 56 78"), national ("06 12 34 56 78") and national digits ("0612345678")."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return [e164]
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    forms = [
        e164,
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        national,
        "".join(c for c in national if c.isdigit() or c == "+"),
    ]
    return list(dict.fromkeys(forms))

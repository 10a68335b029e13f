"""SEPA and contact-data validation: each function returns the problems it found.

An empty list means valid. Messages are short and say what is wrong, so an importer
can print `line N: column: problem` for every problem of every row.
"""

from __future__ import annotations

import re
import string
from datetime import date
from functools import cache

# IBAN countries of the SEPA schemes' geographical scope: the EEA, CH, GB, MC, SM, VA,
# AD, GI (the French overseas departments and the Crown dependencies use FR and GB
# IBANs), and the five countries admitted by the European Payments Council's Board in
# 2024-2025: Albania and Montenegro (November 2024), Moldova and North Macedonia (2025),
# Serbia (22 May 2025; its banks adhere from November 2025). That makes 41 countries,
# the count the ECB and the EPC give since 22 May 2025.
# Kept here rather than read from schwifty: its registry (2026.10.1) still flags none of
# AL, MD, ME, MK, RS as `in_sepa_zone`; a test checks that this list covers every country
# schwifty does flag, so a newer schwifty cannot know of a member we lack.
SEPA_COUNTRIES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IS IE IT LV LI LT LU MT NL NO PL PT RO SK SI ES "
    "SE CH GB MC SM VA AD GI "
    "AL ME MD MK RS".split()
)

_IBAN_CHARS = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+")
_LETTERS_TO_DIGITS = {ord(c): str(10 + i) for i, c in enumerate(string.ascii_uppercase)}
_BIC = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_REFERENCE_CHARS = frozenset(string.ascii_letters + string.digits + "+?/-:().,'")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[A-Za-z]{2,}$")
# ISO 7064 lengths of a creditor identifier by country, where the country fixes one.
_CREDITOR_ID_LENGTH = {"FR": 13, "BE": 20, "NL": 19, "ES": 16, "IT": 23, "DE": 18, "AT": 18}


def compact_iban(text: str) -> str:
    return "".join(text.split()).upper()


def iban_problems(text: str) -> list[str]:
    """Characters, national length and BBAN structure (schwifty's registry), check digits.

    The same verdicts as `schwifty.IBAN(text)` (a test compares them), at a fraction of
    the cost: the country's spec is looked up once and the mod-97 is one integer modulo.
    """
    compact = compact_iban(text)
    if not compact:
        return ["IBAN is empty"]
    if not _IBAN_CHARS.fullmatch(compact):
        return [f"invalid IBAN {compact}: invalid characters in iban {compact.lower()}"]
    country, check, bban = compact[:2], compact[2:4], compact[4:]
    spec = _iban_spec(country)
    if spec is None:
        return [f"invalid IBAN {compact}: unknown country-code '{country.lower()}'"]
    length, structure = spec
    if len(compact) != length:
        return [f"invalid IBAN {compact}: invalid iban length"]
    if not structure.match(bban):
        return [f"invalid IBAN {compact}: invalid bban structure"]
    numeric = (bban + country + check).translate(_LETTERS_TO_DIGITS)
    if not 2 <= int(check) <= 98 or int(numeric) % 97 != 1:
        return [f"invalid IBAN {compact}: invalid checksum digits"]
    if country not in SEPA_COUNTRIES:
        return [f"IBAN country {country} is not in the SEPA zone"]
    return []


@cache
def _iban_spec(country: str) -> tuple[int, re.Pattern[str]] | None:
    from schwifty import registry as _iban_registry  # imported on first use: it costs 0.1 s
    from schwifty.exceptions import SchwiftyException

    try:
        spec = _iban_registry.get_iban_spec(country)
    except SchwiftyException:
        return None
    return spec.iban_length, spec.regex


def bic_problems(text: str, iban: str | None = None) -> list[str]:
    """Format (8 or 11 characters) and, given an IBAN, the same country."""
    bic = text.strip().upper()
    if not _BIC.match(bic):
        return [f"invalid BIC {text.strip()!r}: expected 8 or 11 letters and digits (AAAABBCC[DDD])"]
    if iban:
        country = compact_iban(iban)[:2]
        # French overseas banks and Monaco use FR/MC IBANs with either country in the BIC.
        allowed = {country} | ({"FR", "MC"} if country in {"FR", "MC"} else set())
        if bic[4:6] not in allowed:
            return [f"BIC country {bic[4:6]} does not match the IBAN's country {country}"]
    return []


def mandate_reference_problems(reference: str) -> list[str]:
    """1-35 characters of the EPC set, not starting or ending with '/', no '//'."""
    problems = []
    if not reference:
        return ["mandate reference is empty"]
    if len(reference) > 35:
        problems.append(f"mandate reference is {len(reference)} characters long (at most 35)")
    bad = sorted(set(reference) - _REFERENCE_CHARS)
    if bad:
        shown = "".join(bad)
        problems.append(f"mandate reference has characters outside A-Z a-z 0-9 + ? / - : ( ) . , ' : {shown!r}")
    if reference.startswith("/") or reference.endswith("/"):
        problems.append("mandate reference must not start or end with '/'")
    if "//" in reference:
        problems.append("mandate reference must not contain '//'")
    return problems


def signature_date_problems(signed: date, today: date) -> list[str]:
    if signed > today:
        return [f"signature date {signed.isoformat()} is in the future"]
    return []


def email_problems(text: str) -> list[str]:
    if not _EMAIL.match(text.strip()):
        return [f"invalid email address {text.strip()!r}"]
    return []


def creditor_id_problems(text: str) -> list[str]:
    """SEPA creditor identifier (ICS): check digits, known country, length."""
    from stdnum.eu import at_02

    cid = "".join(text.split()).upper()
    country = cid[:2]
    if country not in SEPA_COUNTRIES:
        return [f"creditor identifier {cid!r}: {country!r} is not a SEPA country"]
    if len(cid) > 35:
        return [f"creditor identifier {cid!r} is longer than 35 characters"]
    expected = _CREDITOR_ID_LENGTH.get(country)
    if expected and len(cid) != expected:
        return [f"creditor identifier {cid!r}: a {country} identifier has {expected} characters"]
    if not at_02.is_valid(cid):
        return [f"creditor identifier {cid!r}: the check digits do not match"]
    return []


#: The longest call crmpay believes (two days); a longer or negative duration is a bad record.
MAX_CALL_SECONDS = 2 * 24 * 3600


def call_duration(value: object) -> int:
    """A call's duration in whole seconds (`42`, `"42"`, `"42.0"`), or ValueError naming the
    value: not a number, negative, or longer than MAX_CALL_SECONDS."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError(f"duration {value!r} is not a number of seconds")
    try:
        seconds = value if isinstance(value, int) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"duration {value!r} is not a number of seconds") from None
    if seconds != seconds:  # NaN
        raise ValueError(f"duration {value!r} is not a number of seconds")
    if seconds < 0:
        raise ValueError(f"duration {value!r} is negative")
    if seconds > MAX_CALL_SECONDS:
        raise ValueError(f"duration {value!r} s is longer than two days ({MAX_CALL_SECONDS} s)")
    return int(seconds)


#: The longest credential crmpay accepts: real tokens and keys are under 200 characters.
MAX_SECRET = 4096


def secret_problems(value: str, label: str) -> list[str]:
    """A token, key, password or grant code: printable ASCII (HTTP headers carry them),
    at most MAX_SECRET characters. The messages never repeat the value."""
    if not value:
        return [f"the {label} is empty"]
    if len(value) > MAX_SECRET:
        return [f"the {label} is {len(value):,} characters long (at most {MAX_SECRET:,})"]
    bad = next((i for i, c in enumerate(value) if not (" " <= c < "\x7f")), None)
    if bad is not None:
        return [f"the {label} holds a character that is not printable ASCII (position {bad + 1})"]
    return []

"""SEPA rules from reference/sepa-and-invoicing.md, one by one."""

from __future__ import annotations

import string
from datetime import date

import pytest

from crmpay.core import validation as v


@pytest.mark.parametrize(
    "iban",
    [
        "FR1420041010050500013M02606",
        "fr14 2004 1010 0505 0001 3m02 606",
        "DE89370400440532013000",
        "BE68539007547034",
        "NL91ABNA0417164300",
        "GB29NWBK60161331926819",
    ],
)
def test_valid_ibans(iban):
    assert v.iban_problems(iban) == []


@pytest.mark.parametrize(
    "iban, word",
    [
        ("FR1420041010050500013M02605", "checksum"),
        ("FR14200410100505000", "length"),
        ("", "empty"),
        ("US12345678901234567890", "invalid"),
        ("BR1800360305000010009795493C1", "not in the sepa zone"),
    ],
)
def test_invalid_ibans(iban, word):
    problems = v.iban_problems(iban)
    assert len(problems) == 1 and word in problems[0].lower()


def test_bic_format_and_country():
    assert v.bic_problems("BNPAFRPP") == []
    assert v.bic_problems("bnpafrppxxx", "FR1420041010050500013M02606") == []
    assert "8 or 11" in v.bic_problems("BNPAFRP")[0]
    assert "does not match" in v.bic_problems("DEUTDEFF", "FR1420041010050500013M02606")[0]


@pytest.mark.parametrize(
    "ref, ok",
    [
        ("RUM-2024-0001", True),
        ("A", True),
        ("a+b?c/d-e:f(g).h,i'j", True),
        ("x" * 35, True),
        ("x" * 36, False),
        ("", False),
        ("/RUM1", False),
        ("RUM1/", False),
        ("RU//M1", False),
        ("RUM 1", False),
        ("RUM_1", False),
        ("RUMé1", False),
    ],
)
def test_mandate_reference(ref, ok):
    assert (v.mandate_reference_problems(ref) == []) is ok


def test_signature_date_not_in_future():
    assert v.signature_date_problems(date(2026, 1, 1), date(2026, 1, 1)) == []
    assert "future" in v.signature_date_problems(date(2026, 1, 2), date(2026, 1, 1))[0]


def test_creditor_identifier():
    assert v.creditor_id_problems("FR72ZZZ123456") == []
    assert v.creditor_id_problems("DE98ZZZ09999999999") == []
    assert "check digits" in v.creditor_id_problems("FR73ZZZ123456")[0]
    assert "13 characters" in v.creditor_id_problems("FR72ZZZ1234567")[0]
    assert "not a SEPA country" in v.creditor_id_problems("XX72ZZZ123456")[0]


def test_email():
    assert v.email_problems("a.b@example.fr") == []
    assert v.email_problems("a.b@example") != []
    assert v.email_problems("a b@example.fr") != []


# -- our IBAN check gives schwifty's verdicts -------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SAMPLES = [
    "FR1420041010050500013M02606",
    "DE89370400440532013000",
    "BE68539007547034",
    "NL91ABNA0417164300",
    "GB29NWBK60161331926819",
    "MT84MALT011000012345MTLCAST001S",
    "NO9386011117947",
    "CH9300762011623852957",
    "IT60X0542811101000000123456",
]


def _schwifty_ok(text: str) -> bool:
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        IBAN(v.compact_iban(text))
    except SchwiftyException:
        return False
    return True


@settings(max_examples=600, deadline=None)
@given(
    base=st.sampled_from(SAMPLES),
    position=st.integers(0, 40),
    char=st.sampled_from("0123456789ABCZ x-"),
    mode=st.sampled_from(["replace", "insert", "delete"]),
)
def test_iban_check_agrees_with_schwifty(base, position, char, mode):
    i = position % (len(base) + 1)
    mutated = {
        "replace": base[:i] + char + base[i + 1 :],
        "insert": base[:i] + char + base[i:],
        "delete": base[:i] + base[i + 1 :],
    }[mode]
    ours = v.iban_problems(mutated)
    in_sepa = v.compact_iban(mutated)[:2] in v.SEPA_COUNTRIES
    if _schwifty_ok(mutated) and in_sepa:
        assert ours == []
    elif not _schwifty_ok(mutated):
        assert ours != [] and "sepa zone" not in ours[0].lower()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=0, max_size=34))
def test_random_strings_agree_with_schwifty(text):
    assert (v.iban_problems(text) == []) == (_schwifty_ok(text) and text[:2] in v.SEPA_COUNTRIES)


# -- the SEPA zone grew in 2024-2025 (issue 15) ------------------------------------------------
def _with_check_digits(country: str, bban: str) -> str:
    """An IBAN whose ISO 7064 mod 97-10 check digits are computed here, not copied."""
    digits = (bban + country + "00").translate({ord(c): str(10 + i) for i, c in enumerate(string.ascii_uppercase)})
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


# National account numbers in each country's BBAN format (SWIFT's IBAN registry).
NEW_SEPA_BBANS = {
    "AL": "212110090000000235698741",  # Albania: 8 digits (bank, branch, key) + 16 characters
    "ME": "505000012345678951",  # Montenegro: 3 + 13 + 2 digits
    "MD": "AG000225100013104168",  # Moldova: 2 + 18 characters
    "MK": "250120000058984",  # North Macedonia: 3 digits + 10 characters + 2 digits
    "RS": "260005601001611379",  # Serbia: 3 + 13 + 2 digits
}


@pytest.mark.parametrize("country", sorted(NEW_SEPA_BBANS))
def test_ibans_of_the_countries_that_joined_sepa_in_2024_2025_are_valid(country):
    iban = _with_check_digits(country, NEW_SEPA_BBANS[country])
    assert _schwifty_ok(iban)  # a well-formed IBAN by schwifty's registry too
    assert v.iban_problems(iban) == []
    spaced = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)).lower()
    assert v.iban_problems(spaced) == []  # as people type it
    wrong = iban[:2] + f"{(int(iban[2:4]) + 1) % 97:02d}" + iban[4:]
    assert "checksum" in v.iban_problems(wrong)[0]


def test_the_sepa_list_covers_every_country_schwifty_flags():
    """schwifty's registry lags behind the EPC (none of the five is flagged in 2026.10.1);
    the day a newer schwifty knows a member we lack, this fails."""
    import pycountry
    from schwifty import registry

    flagged = set()
    for country in pycountry.countries:
        try:
            if registry.get_iban_spec(country.alpha_2).in_sepa_zone:
                flagged.add(country.alpha_2)
        except Exception:  # no IBAN in that country
            continue
    # Territories that schwifty lists on their own but whose accounts carry FR, GB or FI IBANs.
    territories = {"AX", "BL", "GF", "GG", "GP", "IM", "JE", "MF", "MQ", "NC", "PF", "PM", "RE", "TF", "WF", "YT"}
    assert flagged - territories <= v.SEPA_COUNTRIES
    assert {"AL", "ME", "MD", "MK", "RS"} <= v.SEPA_COUNTRIES

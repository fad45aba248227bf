"""Phone normalisation (models/address_book.py), as properties: any number written with the
usual separators normalises to its digits (and `+`), normalising is idempotent, and the digits
are what users are matched on."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from models.address_book import normalize_phone, phone_digits

DIGITS = st.text(alphabet="0123456789", min_size=10, max_size=15).filter(
    lambda d: not d.startswith("00"))
SEPARATOR = st.sampled_from(["", " ", "-", ".", "/", "(", ")", "\u00a0"])


@st.composite
def written(draw):
    """(a phone as people write it, its digits, whether it is international)."""
    digits = draw(DIGITS)
    plus = draw(st.sampled_from(["", "+", "00"]))
    out = []
    for digit in digits:
        out.append(draw(SEPARATOR))
        out.append(digit)
    return plus + "".join(out), digits, plus != ""


@given(written())
def test_written_phones_normalise_to_their_digits(case):
    text, digits, international = case
    stored = normalize_phone(text)
    assert stored == ("+" if international else "") + digits
    assert normalize_phone(stored) == stored  # idempotent
    assert phone_digits(text) == digits


@given(st.text(alphabet="0123456789", min_size=1, max_size=9))
def test_too_short_is_refused(digits):
    assert phone_digits(digits) is None


@given(st.text(min_size=1).filter(lambda t: any(c.isalpha() for c in t)))
def test_letters_are_refused(text):
    assert phone_digits(text) is None

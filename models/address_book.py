"""Address books in the domain (ConnectyCube's Address Book API, the SDK's `addressbook`): a
user's contacts (`Contact`), one book per device (`udid`; none: the user's global book), what an
upload says (`AddressBookUpload`) and answers (`UploadResult`), a registered user found in a book
(`RegisteredUser`), and the phone rules.

Phones are normalised before they are stored or matched (`normalize_phone`): separators
(spaces, `-`, `.`, `/`, parentheses) go, an international `00` prefix becomes `+`, and what is
left must be digits, with an optional leading `+`, 10 to 15 of them (ConnectyCube's limits; E.164
has at most 15). Users are matched on the digits alone (`phone_digits`), so `+44 20 7946 0000`
in a book finds the user whose profile says `442079460000`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from models.users import User

PHONE_MIN_DIGITS, PHONE_MAX_DIGITS = 10, 15
NAME_MAX = 255
UDID_MAX = 64
_SEPARATORS = re.compile(r"[\s\-./()\u00a0]")

PHONE_LENGTH = (f"Length of 'phone' field should be min: {PHONE_MIN_DIGITS} and max: "
                f"{PHONE_MAX_DIGITS}.")
NAME_LENGTH = f"Length of 'name' field should be min: 1 and max: {NAME_MAX}."
INVALID_FIELDS = "Invalid fields set"
INVALID_PHONE = "Invalid phone: digits only, with an optional leading '+'"
DUPLICATE_PHONE = "The same phone is given more than once"


def normalize_phone(raw: object) -> str:
    """The stored form of a phone (`+` and digits, or digits); ValueError with the reason
    (safe to show) when it is not one."""
    if isinstance(raw, bool) or raw is None:
        raise ValueError(PHONE_LENGTH)
    if isinstance(raw, int):
        raw = str(raw)
    if not isinstance(raw, str):
        raise ValueError(INVALID_PHONE)
    text = _SEPARATORS.sub("", raw.strip())
    plus = text.startswith("+")
    if plus:
        text = text[1:]
    elif text.startswith("00") and len(text) > 2:
        plus, text = True, text[2:]
    if not text.isdigit() or not text.isascii():
        raise ValueError(INVALID_PHONE if text else PHONE_LENGTH)
    if not PHONE_MIN_DIGITS <= len(text) <= PHONE_MAX_DIGITS:
        raise ValueError(PHONE_LENGTH)
    return ("+" if plus else "") + text


def phone_digits(raw: object) -> str | None:
    """What phones are matched on: the digits of a normalised phone (None: not a phone). For
    users' profile phones, which are free text."""
    try:
        return normalize_phone(raw).lstrip("+")
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    phone: str  # normalised

    @property
    def key(self) -> str:
        """What identifies the contact in its book, and matches users: the phone's digits."""
        return self.phone.lstrip("+")


@dataclass(frozen=True)
class ContactEntry:
    """One item of an upload as sent (checked by the service): `problem` when it was not even
    an object."""

    index: int
    name: object = None
    phone: object = None
    destroy: bool = False
    problem: str | None = None


@dataclass(frozen=True)
class AddressBookUpload:
    """`POST /address_book`: the contacts of the `udid` book ("" = the global one); `force`
    replaces the whole book with them."""

    entries: tuple[ContactEntry, ...] = ()
    udid: str = ""
    force: bool = False


@dataclass(frozen=True)
class UploadResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    rejected: dict[int, list[str]] = field(default_factory=dict)  # upload index → reasons


@dataclass(frozen=True)
class RegisteredUser:
    """A user of the application whose phone is in the caller's book, with the name the book
    gives them."""

    user: User
    address_book_name: str

"""Address books (`POST /address_book`, `GET /address_book`, `GET /address_book/registered_users`;
the SDK's `ConnectyCube.addressbook`): a user's contacts, per device, and the users of the
application they know by phone.

- Books: one per device (`udid`, up to 64 characters); without a `udid`, the user's global book.
  Every call reads or changes one book.
- An upload creates the contacts the book lacks, renames those it has under another name and
  removes those sent with `destroy=1`; with `force=1` it replaces the book: what the upload does
  not name is removed. Contacts are keyed by their phone's digits (models/address_book.py):
  `+1 555 010 2000` and `15550102000` are one contact (a new written form is an update).
- A contact that can't be taken is rejected, by its index in the upload, with the reason, and
  the others still are: an item that is not an object, a phone that is not one (10 to 15 digits,
  an optional `+`), a missing or too long name (1 to 255 characters, destroys need none), a phone
  given twice, a book already full (`CHAT_LIMITS__MAX_ADDRESS_BOOK_CONTACTS`). Too many contacts
  in one upload (`CHAT_LIMITS__MAX_ADDRESS_BOOK_UPLOAD`) or a bad `udid` refuse the whole upload
  (422).
- Registered users: the users of the caller's application (never the caller) whose profile
  phone has the digits of a contact's phone, with the name the book gives them.
- The phones in a book are other people's: nobody but its owner reads it, and a deleted account's
  books are deleted with it (`UserService.delete_self`).
"""
from __future__ import annotations

import logging

from config.settings import LimitSettings
from models.address_book import (DUPLICATE_PHONE, NAME_LENGTH, NAME_MAX, UDID_MAX,
                                 AddressBookUpload, Contact, RegisteredUser, UploadResult,
                                 normalize_phone)
from models.clock import Clock
from models.errors import InvalidError
from models.requester import Requester, require_user
from models.storage.address_book import AddressBookStore
from models.storage.users import UserStore
from models.users import User

logger = logging.getLogger(__name__)


def check_udid(value: object) -> str:
    """A book's device id: "" (the global book) or a string of up to 64 characters."""
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        raise InvalidError("must be a string", field="udid")
    udid = str(value).strip()
    if len(udid) > UDID_MAX:
        raise InvalidError(f"is too long (maximum is {UDID_MAX} characters)", field="udid")
    return udid


class AddressBookService:
    def __init__(self, books: AddressBookStore, users: UserStore, clock: Clock,
                 limits: LimitSettings) -> None:
        self._books = books
        self._users = users
        self._clock = clock
        self._limits = limits

    async def upload(self, requester: Requester, upload: AddressBookUpload) -> UploadResult:
        require_user(requester)
        most = self._limits.max_address_book_upload
        if len(upload.entries) > most:
            raise InvalidError(f"too many contacts in one upload (maximum is {most})",
                               field="contacts")
        app_id, me, udid = requester.app_id, requester.user_id, check_udid(upload.udid)
        book = {c.key: c for c in await self._books.contacts(app_id, me, udid)}
        rejected: dict[int, list[str]] = {}
        seen: set[str] = set()
        creates: list[tuple[int, Contact]] = []
        renames: list[Contact] = []
        removes: list[str] = []
        for entry in upload.entries:
            if entry.problem:
                rejected[entry.index] = [entry.problem]
                continue
            try:
                phone = normalize_phone(entry.phone)
            except ValueError as exc:
                rejected[entry.index] = [str(exc)]
                continue
            key = phone.lstrip("+")
            if key in seen:
                rejected[entry.index] = [DUPLICATE_PHONE]
                continue
            seen.add(key)
            if entry.destroy:
                if key in book:
                    removes.append(key)
                continue
            name = _name(entry.name)
            if not 1 <= len(name) <= NAME_MAX:
                rejected[entry.index] = [NAME_LENGTH]
                continue
            known = book.get(key)
            if known is None:
                creates.append((entry.index, Contact(name, phone)))
            elif (known.name, known.phone) != (name, phone):
                renames.append(Contact(name, phone))
        if upload.force:
            removes += [k for k in book if k not in seen]
        room = self._limits.max_address_book_contacts - (len(book) - len(removes))
        if len(creates) > room:
            full = (f"The address book is full (maximum is "
                    f"{self._limits.max_address_book_contacts} contacts)")
            for index, _ in creates[max(room, 0):]:
                rejected[index] = [full]
            creates = creates[:max(room, 0)]
        now = self._clock.now()
        deleted = await self._books.delete_phones(app_id, me, udid, removes)
        await self._books.insert_many(app_id, me, udid, [c for _, c in creates], now)
        for contact in renames:
            await self._books.rename(app_id, me, udid, contact, now)
        logger.debug("address book of user %s: %d created, %d updated, %d deleted, %d rejected",
                     me, len(creates), len(renames), deleted, len(rejected))
        return UploadResult(created=len(creates), updated=len(renames), deleted=deleted,
                            rejected=dict(sorted(rejected.items())))

    async def contacts(self, requester: Requester, udid: object = None) -> list[Contact]:
        require_user(requester)
        return await self._books.contacts(requester.app_id, requester.user_id, check_udid(udid))

    async def registered_users(self, requester: Requester,
                               udid: object = None) -> list[RegisteredUser]:
        """Users of the app in the caller's book (matched on the phone's digits), by book name."""
        require_user(requester)
        book = await self._books.contacts(requester.app_id, requester.user_id, check_udid(udid))
        names = {contact.key: contact.name for contact in book}
        docs = await self._users.find_by_phone_keys(requester.app_id, list(names),
                                                    self._limits.max_address_book_contacts)
        found = [RegisteredUser(user, names[doc["phone_key"]]) for doc in docs
                 if (user := User.model_validate(doc)).id != requester.user_id]
        return sorted(found, key=lambda r: (r.address_book_name.casefold(), r.user.id))


def _name(value: object) -> str:
    """A contact's name as sent (a string, or a number some clients send): trimmed; "" if none."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""

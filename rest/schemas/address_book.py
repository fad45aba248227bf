"""Address books over REST, in the SDK's shapes (reference/connectycube-protocol.md §4.7): the
upload read into a command (models/address_book.py) and the answers."""
from __future__ import annotations

from typing import Any

from models.address_book import (INVALID_FIELDS, AddressBookUpload, Contact, ContactEntry,
                                 RegisteredUser, UploadResult)
from models.errors import InvalidError
from models.lax import parse_flag
from rest.schemas.users import user_to_json


def address_book_upload(params: dict[str, Any]) -> AddressBookUpload:
    """`{contacts: [{name, phone, destroy?}], udid?, force?}`; `contacts` may be a dict-shaped
    array (`{"0": {...}}`). An item that is not an object (or whose `destroy` is not a flag) is
    rejected by its index, not the upload; other keys of an item are ignored."""
    raw = params.get("contacts")
    if raw is None or raw == "":
        raw = []
    if isinstance(raw, dict):
        raw = list(raw.values())
    if not isinstance(raw, list):
        raise InvalidError("must be a list of contacts", field="contacts")
    entries: list[ContactEntry] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            entries.append(ContactEntry(index, problem=INVALID_FIELDS))
            continue
        try:
            destroy = parse_flag(item.get("destroy"), "destroy")
        except InvalidError:
            entries.append(ContactEntry(index, problem=INVALID_FIELDS))
            continue
        entries.append(ContactEntry(index, name=item.get("name"), phone=item.get("phone"),
                                    destroy=destroy))
    udid = params.get("udid")
    return AddressBookUpload(entries=tuple(entries), udid="" if udid is None else udid,
                             force=parse_flag(params.get("force"), "force"))


def compact_flag(params: dict[str, Any]) -> bool:
    return parse_flag(params.get("compact"), "compact")


def upload_result_to_json(result: UploadResult) -> dict[str, Any]:
    return {"deleted": result.deleted, "created": result.created, "updated": result.updated,
            "rejected": {str(index): reasons for index, reasons in result.rejected.items()}}


def contact_to_json(contact: Contact) -> dict[str, Any]:
    return {"name": contact.name, "phone": contact.phone}


def registered_user_to_json(found: RegisteredUser, compact: bool) -> dict[str, Any]:
    """`{"user": {...}}`: with `compact`, only the id, the profile phone and the book's name."""
    if compact:
        user = {"id": found.user.id, "phone": found.user.phone}
    else:
        user = user_to_json(found.user)
    return {"user": {**user, "address_book_name": found.address_book_name}}

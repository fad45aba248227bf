"""Contacts on the wire: the `POST /contacts` and `PUT /contacts/{user_id}` bodies → commands,
the contact objects of the answers, and the models the OpenAPI document gives them."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.contacts import AddResult, ContactChanges, ContactList, ContactView
from models.errors import BadRequestError, NotFoundError
from models.lax import cast_int, split_list
from models.messages import iso
from rest.schemas.answers import Closed, UserJson
from rest.schemas.users import user_to_json


# -- requests ---------------------------------------------------------------------------------------
class AddContactsRequest(BaseModel):
    """`user_ids`: a list, or a comma list (`"5,6"`)."""
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{"user_ids": [5, 6]}]})

    user_ids: list[int | str] | str | int


class UpdateContactRequest(BaseModel):
    """The caller's own name and picture for this contact; `null` or `""` clears one; a key
    left out keeps its value."""
    model_config = ConfigDict(extra="allow",
                              json_schema_extra={"examples": [{"display_name": "Ann (work)"}]})

    display_name: str | None = None
    avatar: str | None = Field(None, description="a URL or blob uid, shown instead of the user's")


def contact_ids(data: dict[str, Any]) -> list[int]:
    raw = data.get("user_ids")
    if raw is None or raw == "" or raw == []:
        raise BadRequestError("user_ids is required", field="user_ids")
    try:
        return [cast_int(v) for v in split_list(raw)]
    except (TypeError, ValueError) as exc:
        raise BadRequestError("user_ids must be user ids", field="user_ids") from exc


def contact_changes(data: dict[str, Any]) -> ContactChanges:
    fields = frozenset(k for k in ("display_name", "avatar") if k in data)
    if not fields:
        raise BadRequestError("display_name or avatar is required")
    for key in fields:
        if data[key] is not None and not isinstance(data[key], str):
            raise BadRequestError(f"{key} must be a string", field=key)
    return ContactChanges(fields=fields, display_name=data.get("display_name"),
                          avatar=data.get("avatar"))


def contact_id_from_path(raw: str) -> int:
    try:
        return cast_int(raw)
    except (TypeError, ValueError) as exc:
        raise NotFoundError("Contact not found") from exc


# -- answers ----------------------------------------------------------------------------------------
def contact_to_json(view: ContactView) -> dict[str, Any]:
    entry = view.contact
    return {
        "user_id": entry.contact_id,
        "user": user_to_json(view.user),
        "display_name": entry.name,
        "avatar": entry.avatar,
        "groups": list(entry.groups),
        "subscription": entry.subscription.value,
        "ask": "subscribe" if entry.ask else None,
        "pending_in": entry.pending_in,
        "online": view.online,
        "last_seen": iso(view.last_seen),
        "created_at": iso(entry.created_at),
        "updated_at": iso(entry.updated_at),
    }


def contact_list_to_json(contacts: ContactList) -> dict[str, Any]:
    return {"items": [contact_to_json(v) for v in contacts.items],
            "requests": [contact_to_json(v) for v in contacts.requests]}


def add_result_to_json(result: AddResult) -> dict[str, Any]:
    return {"added": [contact_to_json(v) for v in result.added], "not_found": result.not_found}


class ContactJson(Closed):
    user_id: int
    user: UserJson
    display_name: str | None = Field(description="the caller's own name for this contact")
    avatar: str | None = Field(description="the caller's own picture for this contact")
    groups: list[str] = Field(description="roster groups (XMPP clients set them)")
    subscription: Literal["none", "to", "from", "both"] = Field(
        description="presence subscription, RFC 6121: `to` = the caller sees the contact's "
                    "presence, `from` = the contact sees the caller's")
    ask: Literal["subscribe"] | None = Field(
        description="`subscribe`: the caller asked to see the contact's presence (pending out)")
    pending_in: bool = Field(description="the contact asked to see the caller's presence")
    online: bool | None = Field(description="only when the caller sees the contact's presence")
    last_seen: str | None = Field(description="only when the caller sees the contact's presence")
    created_at: str | None
    updated_at: str | None


class ContactsAnswer(Closed):
    items: list[ContactJson] = Field(description="the caller's list (their XMPP roster)")
    requests: list[ContactJson] = Field(
        description="users not in the list asking to see the caller's presence")


class ContactAnswer(Closed):
    contact: ContactJson


class AddContactsAnswer(Closed):
    added: list[ContactJson] = Field(description="in the list now (also those already in it)")
    not_found: list[int] = Field(
        description="not another user of this application (unknown, another application's, "
                    "the caller's own id)")

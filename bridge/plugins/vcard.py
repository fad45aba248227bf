"""`cc_vcard`: vCards (XEP-0054 `vcard-temp`) answered from chatbridge profiles.

Prosody's mod_delegation hands us every `vcard-temp` IQ a user sends to the server, to their own
account or to another user's bare JID (`delegations` in config/templates/prosody.cfg.lua; its
disco nesting announces the feature for the server and the accounts). Gets are answered from
the profile (`VCardService`, models/services/vcard.py: FN, NICKNAME, PHOTO); a set on one's own
account changes the profile; a set on anyone else's is refused. Cards are read and built with
slixmpp's `xep_0054` stanza classes.
"""
from __future__ import annotations

import base64
import binascii
import logging
from xml.etree.ElementTree import Element

from slixmpp.plugins.xep_0054.stanza import VCardTemp

from bridge.errors import CONDITIONS, INTERNAL, condition_for
from bridge.plugins.base import BridgePlugin
from models.errors import ChatError, ErrorCode, InvalidError
from models.jids import UserAddress, parse_user, split
from models.vcard import VCard, VCardChanges

logger = logging.getLogger(__name__)

NS_VCARD = "vcard-temp"


class VCardPlugin(BridgePlugin):
    name = "cc_vcard"
    description = "chatbridge: vcard-temp from the user profiles"
    handles = {("iq", f"delegation {NS_VCARD}"): "handle_delegation"}
    delegated_features = {NS_VCARD: (NS_VCARD,)}

    def handle_delegation(self, element: Element) -> None:
        request = self.delegated_request(element)
        if request is None:
            return
        inner, requester = request
        target_jid = split(inner.get("to")) if inner.get("to") else None
        if target_jid is not None and not target_jid.local:  # the server's own card: none
            if inner.get("type") == "get":
                self.answer_delegated(element, inner, f'<vCard xmlns="{NS_VCARD}"/>')
            else:
                self.answer_delegated(element, inner, error=CONDITIONS[ErrorCode.forbidden])
            return
        target = requester if target_jid is None else parse_user(target_jid.bare, self.domain)
        if target is None:
            self.answer_delegated(element, inner, error=CONDITIONS[ErrorCode.not_found])
            return
        self.state.serializer.submit(("vcard", inner.get("from")),
                                     lambda: self._handle(element, inner, requester, target))

    async def _handle(self, element: Element, inner: Element, requester: UserAddress,
                      target: UserAddress) -> None:
        vcards = self.state.services.vcards
        caller = self.requester((requester.app_id, requester.user_id))
        sender = self.user_jid(target.app_id, target.user_id)  # the bare JID asked (or one's own)
        try:
            if inner.get("type") == "get":
                card = await vcards.get(caller, target.app_id, target.user_id)
                self.answer_delegated(element, inner, card_xml(card), sender=sender)
                return
            if (target.app_id, target.user_id) != (requester.app_id, requester.user_id):
                self.answer_delegated(element, inner, error=CONDITIONS[ErrorCode.forbidden],
                                       sender=sender)
                return
            await vcards.update(caller, changes_from(inner[0]))
            self.answer_delegated(element, inner, sender=sender)
        except ChatError as exc:
            self.answer_delegated(element, inner, error=condition_for(exc), sender=sender)
        except Exception:  # noqa: BLE001 - logged, answered without detail
            logger.exception("vcard %s for %s failed", inner.get("type"), inner.get("from"))
            self.answer_delegated(element, inner, error=INTERNAL)


def card_xml(card: VCard) -> str:
    stanza = VCardTemp()
    if card.full_name:
        stanza["FN"] = card.full_name
    if card.nickname:
        stanza["NICKNAME"] = card.nickname
    if card.photo_url or card.photo_data:
        photo = stanza["PHOTO"]
        if card.photo_type:
            photo["TYPE"] = card.photo_type
        if card.photo_data:
            photo["BINVAL"] = card.photo_data
        else:
            photo["EXTVAL"] = card.photo_url
    return str(stanza)


def changes_from(payload: Element) -> VCardChanges:
    """The owner's set: FN, and PHOTO with BINVAL (an empty card clears both)."""
    if payload.tag != f"{{{NS_VCARD}}}vCard":
        raise InvalidError("expected a vCard", field="vCard")
    card = VCardTemp(xml=payload)
    fields: dict = {"full_name": (card["FN"] or "").strip() or None}
    photo = payload.find(f"{{{NS_VCARD}}}PHOTO")
    binval = photo.find(f"{{{NS_VCARD}}}BINVAL") if photo is not None else None
    if photo is None:
        fields["photo_data"] = None
    elif binval is not None and (binval.text or "").strip():
        try:
            fields["photo_data"] = base64.b64decode("".join(binval.text.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidError("BINVAL must be base64", field="photo") from exc
        fields["photo_type"] = (photo.findtext(f"{{{NS_VCARD}}}TYPE") or "").strip() or None
    return VCardChanges(**fields)

"""`cc_upload`: HTTP File Upload (XEP-0363), served by the component on `muc.{domain}`.

Prosody lists the component among the domain's disco#items; its disco#info adds the upload
service's identity (`store/file`), the feature and the XEP's form with `max-file-size` (the blob
size limit, `CHAT_BLOBS__MAX_BYTES`). A slot request from a user of the server becomes a blob slot
(`UploadService.request_slot`, models/services/upload.py); a request past the limit gets the
XEP's `<not-acceptable/>` with `<file-too-large><max-file-size>`.
"""
from __future__ import annotations

import logging
from xml.etree.ElementTree import Element

from slixmpp.plugins.xep_0363.stanza import Request

from bridge.convert import attr, esc
from bridge.errors import CONDITIONS, INTERNAL, NS_STANZAS, condition_for, error_xml, public_text
from bridge.plugins.base import BridgePlugin
from models.errors import ChatError, ErrorCode, TooLargeError
from models.jids import parse_user
from models.upload import SlotRequest

logger = logging.getLogger(__name__)

NS_UPLOAD = "urn:xmpp:http:upload:0"


class UploadPlugin(BridgePlugin):
    name = "cc_upload"
    description = "chatbridge: HTTP File Upload slots backed by the blob store"
    handles = {("iq", "component"): "handle_iq"}

    def component_disco(self) -> str:
        max_bytes = self.state.services.upload.max_bytes
        return ('<identity category="store" type="file" name="chatbridge file upload"/>'
                f'<feature var="{NS_UPLOAD}"/>'
                '<x xmlns="jabber:x:data" type="result">'
                f'<field var="FORM_TYPE" type="hidden"><value>{NS_UPLOAD}</value></field>'
                f'<field var="max-file-size"><value>{max_bytes}</value></field></x>')

    def handle_iq(self, element: Element) -> None:
        payload = element[0]
        if payload.tag != f"{{{NS_UPLOAD}}}request" or element.get("type") != "get":
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.unavailable])
            return
        user = parse_user(element.get("from"), self.domain)
        if user is None:
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.forbidden],
                                  "the upload service is for users of this server")
            return
        request = Request(xml=payload)
        try:
            size = int(request["size"])
        except (TypeError, ValueError):
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.bad_request], "size must be a number")
            return
        slot = SlotRequest(filename=request["filename"] or None, size=size,
                           content_type=request["content-type"] or None)
        self.state.serializer.submit(("upload", element.get("from")),
                                     lambda: self._slot(element, user, slot))

    async def _slot(self, element: Element, user, request: SlotRequest) -> None:
        upload = self.state.services.upload
        try:
            slot = await upload.request_slot(self.requester((user.app_id, user.user_id)), request)
        except TooLargeError:
            self._reply(element, error=self._too_large(upload.max_bytes))
            return
        except ChatError as exc:
            self._reply(element, error=error_xml(condition_for(exc), public_text(exc)))
            return
        except Exception:  # noqa: BLE001 - logged, answered without detail
            logger.exception("upload slot for %s failed", element.get("from"))
            self._reply(element, error=error_xml(INTERNAL))
            return
        self._reply(element, f'<slot xmlns="{NS_UPLOAD}"><put url="{attr(slot.put_url)}"/>'
                             f'<get url="{attr(slot.get_url)}"/></slot>')

    @staticmethod
    def _too_large(max_bytes: int) -> str:
        cond = CONDITIONS[ErrorCode.invalid]  # not-acceptable, as XEP-0363 § 5 says
        return (f'<error type="{cond.type}" code="{cond.code}"><{cond.name} xmlns="{NS_STANZAS}"/>'
                f'<text xmlns="{NS_STANZAS}">{esc(f"File too large: the maximum is {max_bytes} bytes")}'
                f'</text><file-too-large xmlns="{NS_UPLOAD}"><max-file-size>{max_bytes}'
                "</max-file-size></file-too-large></error>")

    def _reply(self, element: Element, payload: str = "", error: str = "") -> None:
        kind = "error" if error else "result"
        self.xmpp.write(f'<iq type="{kind}" id="{attr(element.get("id") or "")}" '
                        f'from="{attr(self.muc_domain)}" to="{attr(element.get("from") or "")}">'
                        f"{error or payload}</iq>")

"""The bridge's one table ErrorCode → XMPP stanza error, and error replies that keep the id.

The legacy `code` attribute is included: the ConnectyCube SDK reads it (`onMessageErrorListener`).
"""
from __future__ import annotations

from dataclasses import dataclass

from slixmpp.exceptions import XMPPError

from bridge.convert import attr, esc
from models.errors import ChatError, ErrorCode


@dataclass(frozen=True)
class Condition:
    name: str
    type: str
    code: int


CONDITIONS: dict[ErrorCode, Condition] = {
    ErrorCode.bad_request: Condition("bad-request", "modify", 400),
    ErrorCode.unauthenticated: Condition("not-authorized", "auth", 401),
    ErrorCode.forbidden: Condition("forbidden", "auth", 403),
    ErrorCode.not_found: Condition("item-not-found", "cancel", 404),
    ErrorCode.invalid: Condition("not-acceptable", "modify", 406),
    ErrorCode.conflict: Condition("conflict", "cancel", 409),
    ErrorCode.too_large: Condition("policy-violation", "modify", 413),
    ErrorCode.rate_limited: Condition("resource-constraint", "wait", 500),
    ErrorCode.unavailable: Condition("service-unavailable", "cancel", 503),
    ErrorCode.gone: Condition("gone", "cancel", 410),
}
INTERNAL = Condition("internal-server-error", "wait", 500)
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def condition_for(exc: BaseException) -> Condition:
    if isinstance(exc, ChatError):
        return CONDITIONS.get(exc.code, INTERNAL)
    return INTERNAL


def public_text(exc: BaseException) -> str:
    """ChatError messages are safe to show; anything else is not."""
    if isinstance(exc, ChatError):
        if exc.field and exc.field != "base":
            return f"{exc.field} {exc.message}"
        return exc.message
    return "Internal server error"


def to_xmpp_error(exc: BaseException) -> XMPPError:
    cond = condition_for(exc)
    return XMPPError(condition=cond.name, text=public_text(exc), etype=cond.type)


def error_xml(cond: Condition, text: str = "") -> str:
    body = f'<text xmlns="{NS_STANZAS}">{esc(text)}</text>' if text else ""
    return (f'<error type="{cond.type}" code="{cond.code}"><{cond.name} xmlns="{NS_STANZAS}"/>'
            f"{body}</error>")


def error_reply(kind: str, stanza_id: str | None, sender: str, recipient: str, cond: Condition,
                text: str = "", extra: str = "") -> str:
    """`<kind type="error">` back to `recipient` (the original sender), original id kept."""
    ident = f' id="{attr(stanza_id)}"' if stanza_id else ""
    return (f'<{kind} type="error"{ident} from="{attr(sender)}" to="{attr(recipient)}">{extra}'
            f"{error_xml(cond, text)}</{kind}>")

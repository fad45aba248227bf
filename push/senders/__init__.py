"""Provider senders, started from settings: `{channel: Sender}` for the providers that are
configured. A provider without credentials is left out with one log line."""
from __future__ import annotations

import logging

from config.settings import PushSettings
from push.senders.base import Sender

logger = logging.getLogger(__name__)


async def start_senders(settings: PushSettings, stored_vapid_pem: str | None = None) -> dict[str, Sender]:
    """`stored_vapid_pem`: the WebPush key kept in the store, used when the settings give none."""
    from push.senders.apns import ApnsSender
    from push.senders.fcm import FcmSender
    from push.senders.webpush import WebPushSender
    from push.vapid import application_server_key, load_vapid

    candidates = []
    if settings.apns.configured():
        candidates.append(lambda: ApnsSender(settings.apns, settings.send_timeout_seconds))
    else:
        logger.warning("push: APNs is not configured (push.apns key_file/key_id/team_id/topic or "
                       "cert_file): apns and apns_voip subscriptions get no notifications")
    if settings.fcm.configured():
        candidates.append(lambda: FcmSender(settings.fcm, settings.send_timeout_seconds,
                                            settings.concurrency))
    else:
        logger.warning("push: FCM is not configured (push.fcm.service_account_file): gcm "
                       "subscriptions get no notifications")
    if settings.webpush.configured() or stored_vapid_pem:
        def make_webpush() -> Sender:
            vapid = load_vapid(settings.webpush, stored_vapid_pem)
            if vapid is None:
                raise ValueError("no VAPID key")
            logger.info("push: WebPush applicationServerKey (public, for browsers' subscribe): %s%s",
                        application_server_key(vapid),
                        "" if settings.webpush.configured() else " (the key kept in the store)")
            return WebPushSender(vapid, settings.webpush.subject, settings.send_timeout_seconds,
                                 settings.concurrency, settings.max_age_seconds)
        candidates.append(make_webpush)
    else:
        logger.warning("push: WebPush has no VAPID key: web subscriptions get no notifications")
    senders: dict[str, Sender] = {}
    for make in candidates:
        sender = None
        try:
            sender = make()
            await sender.start()
        except Exception as exc:  # noqa: BLE001 - one bad provider must not stop the others
            name = sender.name if sender is not None else "WebPush"
            logger.error("push: %s disabled, its configuration is unusable: %s: %s", name,
                         type(exc).__name__, exc)
            continue
        for channel in sender.channels:
            senders[channel] = sender
    return senders


async def close_senders(senders: dict[str, Sender]) -> None:
    for sender in {id(s): s for s in senders.values()}.values():
        try:
            await sender.close()
        except Exception:  # noqa: BLE001
            logger.warning("push: closing %s failed", sender.name, exc_info=True)

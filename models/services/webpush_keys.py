"""The WebPush VAPID key when the settings give none: created by the first process that starts and
kept in the store (the `secrets` collection), so WebPush works without a manual step and every
process of a deployment signs with the same key. Subscriptions are made with its public key, so a
rotation (`chatbridge vapid-keys --rotate`) invalidates them: browsers must subscribe again."""
from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from config.settings import WebPushSettings
from models.storage.secrets import SecretStore

SECRET_NAME = "webpush_vapid_private_key"


def new_private_pem() -> str:
    """A new P-256 key (VAPID's curve), PKCS#8 PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class WebPushKeyService:
    def __init__(self, secrets: SecretStore, settings: WebPushSettings) -> None:
        self._secrets = secrets
        self._settings = settings

    def configured_elsewhere(self) -> bool:
        """The settings name a key (inline or an existing file): that one is used, not the store's."""
        return self._settings.configured()

    async def shared(self) -> str | None:
        """The store's key (PEM), created now if there is none; None when the settings give one."""
        if self.configured_elsewhere():
            return None
        return await self._secrets.get_or_create(SECRET_NAME, new_private_pem())

    async def rotate(self) -> str:
        """Replaces the store's key with a new one and returns it."""
        pem = new_private_pem()
        await self._secrets.replace(SECRET_NAME, pem)
        return pem

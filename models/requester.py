"""Who is calling: resolved from a session token by the transport, passed to every service call."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from models.errors import ForbiddenError


class Requester(BaseModel):
    model_config = ConfigDict(frozen=True)

    app_id: int
    user_id: int = 0  # 0 = application session (no user)
    session_id: int = 0
    token_hash: str = ""

    @property
    def is_user(self) -> bool:
        return self.user_id > 0


def require_user(requester: Requester) -> None:
    """Services that act for a user refuse application sessions with this one answer."""
    if not requester.is_user:
        raise ForbiddenError("A user session is required")

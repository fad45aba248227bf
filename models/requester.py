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
    # The application's admin (the admin API key, rest/auth.py: admin_requester): sees and manages
    # every dialog of the application (models/services/access.py). `user_id` is then 0 (the admin
    # itself) or the user the admin acts as.
    is_admin: bool = False

    @property
    def is_user(self) -> bool:
        return self.user_id > 0


def admin(app_id: int, user_id: int = 0) -> Requester:
    """The application's admin, itself (`user_id` 0) or acting as a user with the admin's rights."""
    return Requester(app_id=app_id, user_id=user_id, is_admin=True)


def require_user(requester: Requester) -> None:
    """Services that act for a user refuse application sessions with this one answer."""
    if not requester.is_user:
        raise ForbiddenError("A user session is required")

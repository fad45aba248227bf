"""`PUT /chat/Message/{id}/reactions` bodies: `{"add": "👍"}`, `{"remove": "👍"}` or both."""
from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from rest.schemas.common import ObjectBody


class ReactionsBody(ObjectBody):
    model_config = ConfigDict(frozen=True, extra="ignore")

    add: Any = None
    remove: Any = None

    def change(self) -> tuple[Any, Any]:
        """(add, remove); an empty value is none. The service checks each reaction."""
        return (None if self.add in (None, "") else self.add,
                None if self.remove in (None, "") else self.remove)

"""`PUT /chat/Message/{id}/reactions` bodies: `{"add": "👍"}`, `{"remove": "👍"}` or both."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from models.errors import InvalidError


class ReactionsBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    add: Any = None
    remove: Any = None

    @model_validator(mode="before")
    @classmethod
    def _object(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise InvalidError("must be an object", field="base")
        return data

    def change(self) -> tuple[Any, Any]:
        """(add, remove); an empty value is none. The service checks each reaction."""
        return (None if self.add in (None, "") else self.add,
                None if self.remove in (None, "") else self.remove)

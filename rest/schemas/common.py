"""Helpers shared by the schemas: wire formatting, reading lax request models."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from models.errors import InvalidError
from models.messages import iso  # noqa: F401 - the one ConnectyCube time format, for the schemas


def unix(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp())


M = TypeVar("M", bound=BaseModel)


def read_body(model: type[M], data: dict[str, Any]) -> M:
    """A lax request model from parsed parameters. Its validators raise the exact ChatError a
    value deserves (they pass through pydantic); anything pydantic itself refuses is a 422 on the
    first field it names."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else "base"
        raise InvalidError("is invalid", field=field) from exc


class ObjectBody(BaseModel):
    """A request body or query that must be an object; anything else is a 422 on `base`."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _object(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise InvalidError("must be an object", field="base")
        return data

"""Helpers shared by the schemas: wire formatting, reading lax request models."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from models.errors import InvalidError


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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

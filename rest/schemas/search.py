"""`GET /chat/search?search_text=...&limit=&chat_dialog_ids=a,b&start_date=&end_date=` read into
a `SearchQuery`. `start_date` is the later bound, `end_date` the earlier one (ISO 8601, with
milliseconds as the SDK sends them, or Unix seconds)."""
from __future__ import annotations

from typing import Any

from models.errors import InvalidError
from models.lax import cast_datetime, cast_int, split_list
from models.services.search import MAX_DIALOG_IDS, MAX_TEXT, MIN_TEXT, SearchQuery


def search_query(params: dict[str, Any]) -> SearchQuery:
    text = params.get("search_text")
    if isinstance(text, list):
        text = text[0] if text else None
    if not isinstance(text, str) or len(text.strip()) < MIN_TEXT:
        raise InvalidError(f"is too short (minimum is {MIN_TEXT} characters)", field="search_text")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise InvalidError(f"is too long (maximum is {MAX_TEXT} characters)", field="search_text")
    limit = None
    raw = params.get("limit")
    if raw not in (None, ""):
        try:
            limit = cast_int(raw)
        except (ValueError, TypeError) as exc:
            raise InvalidError("must be an integer", field="limit") from exc
        if limit <= 0:
            raise InvalidError("must be positive", field="limit")
    wanted = tuple(str(d) for d in split_list(params.get("chat_dialog_ids")))
    if len(wanted) > MAX_DIALOG_IDS:
        raise InvalidError(f"too many ids (maximum is {MAX_DIALOG_IDS})", field="chat_dialog_ids")
    bounds: dict[str, int] = {}
    for key in ("start_date", "end_date"):
        value = params.get(key)
        if value in (None, ""):
            continue
        try:
            bounds[key] = int(cast_datetime(value).timestamp())
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidError("must be an ISO 8601 date", field=key) from exc
    if len(bounds) == 2 and bounds["end_date"] > bounds["start_date"]:
        raise InvalidError("must be earlier than start_date", field="end_date")
    return SearchQuery(text=text, dialog_ids=wanted, limit=limit,
                       earliest=bounds.get("end_date"), latest=bounds.get("start_date"))

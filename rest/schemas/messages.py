"""Message ↔ wire JSON (ConnectyCube `Message`: custom keys at the top level, `read` and
`reactions.own` as seen by the viewer)."""
from __future__ import annotations

from typing import Any

from models.services.messages import DeleteResult, message_wire, reactions_view


def message_to_json(doc: dict[str, Any], viewer_id: int) -> dict[str, Any]:
    data = message_wire(doc)
    data["read"] = 1 if viewer_id in (doc.get("read_ids") or []) else 0
    data["reactions"] = reactions_view(doc, viewer_id)
    return data


def delete_result_to_json(result: DeleteResult) -> dict[str, Any]:
    return {"SuccessfullyDeleted": {"ids": result.deleted},
            "NotFound": {"ids": result.not_found},
            "WrongPermissions": {"ids": result.wrong_permissions}}

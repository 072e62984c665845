"""The citizen's timeline, built from recorded events as messages (code ``timeline.KIND`` and
its values); the sentences are the message catalog's."""
from __future__ import annotations

from typing import Any

from connector.domain.errors import Message, msg


def line(kind: str, data: dict[str, Any]) -> Message:
    values = {k: v for k, v in data.items() if v}
    if kind == "referred":
        unit = values.get("unit") or msg("timeline.other_unit")
        if values.get("person"):
            return msg("timeline.referred_to", unit=unit, person=values["person"])
        return msg("timeline.referred", unit=unit)
    if kind == "registered":
        return msg("timeline.registered", number=values.get("number", ""))
    if kind == "rejected":
        return msg("timeline.rejected", reason=values.get("reason", ""))
    if kind in _WITH_VALUES:  # issue 14: documents, follow-ups and objections
        if kind == "documents_requested":
            values.setdefault("note", values.get("instruction") or values.get("text") or "")
        return msg(f"timeline.{kind}", **{k: values.get(k, "") for k in _WITH_VALUES[kind]})
    return msg(f"timeline.{kind}")


_WITH_VALUES: dict[str, tuple[str, ...]] = {
    "documents_requested": ("note",), "documents_added": ("files",),
    "follow_up_of": ("parent",), "documents_delivered": (),
    "documents_follow_up": ("follow_up",), "objected": ("child",), "objection_of": ("parent",),
}

"""Plain Persian lines for the citizen's timeline, built from recorded events."""
from __future__ import annotations

from typing import Any

_TEXTS = {
    "submitted": "نامه شما ثبت شد و کد رهگیری گرفت.",
    "awaiting_approval": "نامه شما در صف بررسی دبیرخانه است.",
    "approved": "دبیرخانه نامه شما را پذیرفت.",
    "delivered": "نامه شما به دبیرخانه سازمان رسید.",
    "registered": "نامه شما با شماره {number} در دبیرخانه ثبت شد.",
    "rejected": "نامه شما پذیرفته نشد. دلیل: {reason}",
    "referred": "نامه شما به {unit} فرستاده شد.",
    "answered": "به نامه شما پاسخ داده شد.",
    "closed": "کار نامه شما تمام شد.",
    "withdrawn": "شما نامه را پس گرفتید.",
}


def line(kind: str, data: dict[str, Any]) -> str:
    template = _TEXTS.get(kind, kind)
    values = {k: v for k, v in data.items() if v}
    if kind == "referred":
        target = values.get("unit", "واحد دیگر")
        if values.get("person"):
            target = f"{target} ({values['person']})"
        values["unit"] = target
    values.setdefault("number", "")
    values.setdefault("reason", "")
    return template.format(**values).strip()

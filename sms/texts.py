"""The Persian text of each SMS, written plainly for a reader with little schooling.
An organization may override any of them under ``[sms.texts]`` in its file, with the same
``{variables}``. Identifiers (codes, letter numbers) are sent as the system wrote them, so they
can be copied and typed back exactly."""
from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from connector.plugins.ports import TextCatalog

from . import segments

DEFAULTS: dict[str, str] = {
    "otp": "کد ورود شما به میز خدمت: {code}\nاین کد را به هیچ‌کس ندهید.",
    "receipt": "{org_name}\nنامه شما رسید.\nکد رهگیری: {tracking_code}\n{track_url}",
    "registered": "{org_name}\nنامه شما با شماره {letter_number} ثبت شد.\n"
                  "کد رهگیری: {tracking_code}",
    "rejected": "{org_name}\nنامه شما پذیرفته نشد.\nدلیل: {reason}\nکد رهگیری: {tracking_code}",
    "referred": "{org_name}\nنامه شما برای رسیدگی به {unit} فرستاده شد.\n"
                "کد رهگیری: {tracking_code}",
    "answered": "{org_name}\nبه نامه شما پاسخ داده شد. پاسخ را اینجا ببینید:\n{track_url}",
    "closed": "{org_name}\nکار نامه شما تمام شد. لطفا بگویید از ما راضی بودید یا نه:\n"
              "{survey_url}",
    "test": "{org_name}\nاین یک پیامک آزمایشی از میز خدمت است.",
    # The in-person desk (connector/visits): the visitor's invitation, the host's notices.
    "visit_invite": "{org_name}\nبرای شما وقت ملاقات گرفته شد.\nزمان: {day} ساعت {time}\n"
                    "جا: {place}\n"
                    "کد ورود: {pass_code}\nکارت ملی یا گذرنامه را همراه بیاورید.",
    "visit_entered": "{org_name}\nمهمان شما {visitor} ساعت {time} وارد شد.",
    "visit_left": "{org_name}\nمهمان شما {visitor} ساعت {time} بیرون رفت.",
}
MAX_SEGMENTS = 6  # a guard against a template or a reason that runs away


class _Blank(dict):  # a missing variable becomes empty rather than breaking the SMS
    def __missing__(self, key: str) -> str:
        return ""


def variables_of(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class PersianTexts(TextCatalog):
    def render(self, kind: str, variables: Mapping[str, Any],
               overrides: Mapping[str, str] | None = None) -> str:
        template = (overrides or {}).get(kind) or DEFAULTS.get(kind)
        if template is None:
            raise KeyError(f"no SMS text for {kind!r}")
        text = template.format_map(_Blank({k: "" if v is None else str(v)
                                           for k, v in variables.items()})).strip()
        limit = MAX_SEGMENTS * 67
        return text if segments.count(text) <= MAX_SEGMENTS else text[:limit - 1] + "…"

    def segments(self, text: str) -> int:
        return segments.count(text)

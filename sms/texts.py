"""The Persian text of each SMS, written plainly for a reader with little schooling.
An organization may override any of them under ``[sms.texts]`` in its file, with the same
``{variables}``. Identifiers (codes, letter numbers) are sent as the system wrote them, so they
can be copied and typed back exactly."""
from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from connector.plugins.ports import TextCatalog

from . import segments

DEFAULTS: dict[str, str] = {
    "otp": "کد ورود شما به میز خدمت: {code}\nاین کد را به هیچ‌کس ندهید.",
    # {due_line} is "پایان کار تا ۱۴۰۵/۰۹/۲۰" when the service promises a date ({due_date}).
    "receipt": "{org_name}\nنامه شما رسید.\nکد رهگیری: {tracking_code}\n{track_url}\n{due_line}",
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
    "documents_requested": "{org_name}\nبرای نامه {tracking_code} یک مدرک دیگر لازم است:\n"
                           "{note}\nمدرک را اینجا بفرستید:\n{track_url}",
    # Answers to a citizen's own text (tracking by SMS). {status} is the state in plain words;
    # {number_line} and {due_line} are empty when there is no number or promised date yet.
    "inquiry_status": "{org_name}\nنامه {tracking_code}: {status}\n{number_line}\n{due_line}",
    # Says nothing about any letter: the same words whether the code exists or not.
    "inquiry_unknown": "{org_name}\nوضعیت نامه فقط برای شماره همراهی فرستاده می‌شود که نامه "
                       "با آن فرستاده شده است. کد رهگیری را درست بنویسید یا اینجا ببینید:\n"
                       "{track_url}",
    "inquiry_help": "{org_name}\nبرای دانستن وضعیت نامه، کد رهگیری آن را به همین شماره "
                    "پیامک کنید.",
}
# Not SMS but written by the same catalog (organizations may override them alike): e-mail
# subjects and footer, and the reference lines of letters Pishkhan writes for the citizen.
DEFAULTS.update({
    "mail_subject": "نامه شما — کد رهگیری {tracking_code}",
    "mail_subject_receipt": "نامه شما رسید — کد رهگیری {tracking_code}",
    "mail_subject_registered": "نامه شما ثبت شد — کد رهگیری {tracking_code}",
    "mail_subject_rejected": "نامه شما پذیرفته نشد — کد رهگیری {tracking_code}",
    "mail_subject_referred": "نامه شما برای رسیدگی فرستاده شد — کد رهگیری {tracking_code}",
    "mail_subject_answered": "به نامه شما پاسخ داده شد — کد رهگیری {tracking_code}",
    "mail_subject_closed": "کار نامه شما تمام شد — کد رهگیری {tracking_code}",
    "mail_subject_test": "ایمیل آزمایشی میز خدمت",
    "mail_footer": "این ایمیل را میز خدمت الکترونیکی {org_name} خودکار فرستاده است؛ به آن "
                   "پاسخ ندهید.",
    "follow_up_subject": "مدارک تکمیلی نامه {tracking_code}",
    "follow_up_body": "مدارکی که سازمان برای نامه پیشین خواست.\nدرخواست سازمان: {note}\n"
                      "کد رهگیری نامه نخست: {tracking_code}\n{number_line}",
    "objection_subject": "اعتراض به نپذیرفتن نامه {tracking_code}",
    "objection_footer": "— اعتراض به نپذیرفتن نامه پیشین. کد رهگیری نامه نخست: "
                        "{tracking_code}\n{number_line}\nدلیل نپذیرفتن: {reason}",
})
# Letter states in the plain words of an SMS answer ({status}).
STATE_WORDS: dict[str, str] = {
    "staged": "رسیده است و به‌زودی به دبیرخانه می‌رود",
    "awaiting_approval": "در صف بررسی دبیرخانه است",
    "approved": "پذیرفته شد و به دبیرخانه می‌رود",
    "delivering": "در راه دبیرخانه است", "delivery_failed": "در راه دبیرخانه است",
    "dead": "در راه دبیرخانه است (با تاخیر)",
    "delivered": "به دبیرخانه رسید و منتظر ثبت است",
    "registered": "در دبیرخانه ثبت شد", "in_progress": "در دست رسیدگی است",
    "answered": "پاسخ داده شد", "closed": "کارش تمام شد", "rejected": "پذیرفته نشد",
    "withdrawn": "پس گرفته شد",
    "awaiting_documents": "منتظر مدرکی از شماست",
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
        values = _Blank({k: "" if v is None else str(v) for k, v in variables.items()})
        if "state" in values and "status" not in values:
            values["status"] = STATE_WORDS.get(values["state"], values["state"])
        # Lines that are there only when their value is (a promised date, a letter number).
        if "due_line" not in values:
            values["due_line"] = f"پایان کار تا {values['due_date']}" if values["due_date"] \
                else ""
        if "number_line" not in values:
            values["number_line"] = f"شماره نامه: {values['letter_number']}" \
                if values["letter_number"] else ""
        # A line whose only variable was empty leaves no blank line behind.
        text = re.sub(r"\n[ \t]*(?=\n)", "", template.format_map(values)).strip()
        limit = MAX_SEGMENTS * 67
        return text if segments.count(text) <= MAX_SEGMENTS else text[:limit - 1] + "…"

    def segments(self, text: str) -> int:
        return segments.count(text)

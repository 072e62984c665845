"""Plain Persian names for what the core calls by code: letter states, applicant types."""
from __future__ import annotations

STATUS: dict[str, str] = {
    "staged": "رسید؛ به‌زودی به دبیرخانه فرستاده می‌شود",
    "awaiting_approval": "در صف بررسی دبیرخانه",
    "approved": "دبیرخانه پذیرفت؛ در حال فرستادن",
    "delivering": "در حال فرستادن به دبیرخانه",
    "delivered": "به دبیرخانه رسید؛ منتظر ثبت",
    "registered": "در دبیرخانه ثبت شد",
    "in_progress": "در دست رسیدگی",
    "answered": "پاسخ داده شد",
    "closed": "تمام شد",
    "rejected": "پذیرفته نشد",
    # A delivery problem is ours to solve, not the citizen's: say it is on its way.
    "delivery_failed": "در حال فرستادن به دبیرخانه",
    "dead": "در حال فرستادن به دبیرخانه (با تاخیر)",
    "withdrawn": "پس گرفته شد",
}

# What the citizen can expect next, in the same plain words.
NEXT_STEP: dict[str, str] = {
    "staged": "نامه شما به‌زودی به دبیرخانه سازمان می‌رسد. هر خبری باشد پیامک می‌شود.",
    "awaiting_approval": "کارمند دبیرخانه نامه را می‌خواند و می‌پذیرد یا دلیل نپذیرفتن را "
                         "برایتان پیامک می‌کند.",
    "delivered": "دبیرخانه نامه را ثبت می‌کند و شماره نامه برایتان پیامک می‌شود.",
    "registered": "نامه به واحد مربوط فرستاده می‌شود.",
    "in_progress": "واحد مربوط در حال رسیدگی است.",
    "answered": "پاسخ نامه آماده است.",
}

APPLICANT: dict[str, str] = {"natural": "شخص", "legal": "شرکت یا سازمان"}


def status(code: str) -> str:
    return STATUS.get(code, code)

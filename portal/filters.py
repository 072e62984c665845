"""Jinja filters for Persian display: Persian digits and Jalali dates in Asia/Tehran."""
from __future__ import annotations

from datetime import date, datetime, timezone

from flask import Flask, has_request_context
from persiantools.jdatetime import JalaliDate, JalaliDateTime

from connector.domain.clock import TEHRAN
from connector.domain.normalize import to_persian_digits

from . import drafts, labels
from .i18n import locale


def fa_digits(value: object) -> str:
    """Persian digits on Persian pages; the English pages keep Latin ones."""
    if value is None:
        return ""
    return str(value) if has_request_context() and locale() == "en" \
        else to_persian_digits(value)


def _as_utc(value: datetime | str) -> datetime:
    # The core stores naive UTC and the API's view renders it as ISO text with a "Z".
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when


def jalali(value: datetime | str | None, with_time: bool = True) -> str:
    """``۱۴ فروردین ۱۴۰۳، ساعت ۱۰:۳۰`` in Tehran time."""
    if not value:
        return ""
    local = JalaliDateTime(_as_utc(value).astimezone(TEHRAN))
    if has_request_context() and locale() == "en":
        return local.strftime(f"{local.day} %B %Y" + (", %H:%M" if with_time else ""),
                              locale="en")
    # The day without a leading zero, as people write it: "۱ آذر", not "۰۱ آذر".
    fmt = f"{local.day} %B %Y" + ("، ساعت %H:%M" if with_time else "")
    return to_persian_digits(local.strftime(fmt, locale="fa"))


def due_day(value: date | str | None) -> str:
    """A calendar day (the promised date) with its weekday: ``چهارشنبه ۲۰ آذر ۱۴۰۵``."""
    if not value:
        return ""
    day = JalaliDate(date.fromisoformat(value) if isinstance(value, str) else value)
    if has_request_context() and locale() == "en":
        return day.strftime(f"%A {day.day} %B %Y", locale="en")
    return to_persian_digits(day.strftime(f"%A {day.day} %B %Y", locale="fa"))


def filesize(size: int) -> str:
    if has_request_context() and locale() == "en":
        return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 \
            else f"{max(1, round(size / 1024))} KB"
    if size >= 1024 * 1024:
        return fa_digits(f"{size / 1024 / 1024:.1f}".replace(".", "٫")) + " مگابایت"
    return fa_digits(max(1, round(size / 1024))) + " کیلوبایت"


def register(app: Flask) -> None:
    app.add_template_filter(fa_digits, "fa_digits")
    app.add_template_filter(jalali, "jalali")
    app.add_template_filter(filesize, "filesize")
    app.add_template_filter(due_day, "due_day")
    app.add_template_filter(lambda code: labels.status(code, locale()), "status_label")
    app.jinja_env.globals["APPLICANT"] = labels.APPLICANT
    app.jinja_env.globals["resend_field"] = drafts.resend_field

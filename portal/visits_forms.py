"""What the visits pages read from a form: the person, the window, the photo. Kept apart from
the views so each stays short; every problem becomes a Persian message next to its field."""
from __future__ import annotations

import io
from datetime import datetime, time
from typing import Any

from flask import Request
from PIL import Image, UnidentifiedImageError
from werkzeug.datastructures import FileStorage

from connector.domain.clock import to_naive_utc
from connector.domain.normalize import to_latin_digits
from connector.visits.people import Identity

from .filters import TEHRAN
from .staff_ui import parse_day, today

MAX_IMAGE = 5 * 1024 * 1024
MSG_IMAGE = "عکس باید JPG یا PNG و کمتر از ۵ مگابایت باشد."
MSG_DAY = "روز را مثل ۱۴۰۵/۰۹/۰۸ بنویسید."
MSG_TIME = "ساعت را مثل ۰۹:۳۰ بنویسید."


def identity(form: Any) -> Identity:
    return Identity.from_mapping(form)


def _clock(value: str) -> time | None:
    text = to_latin_digits(value or "").strip().replace("٫", ":").replace(".", ":")
    try:
        h, _, m = text.partition(":")
        return time(int(h), int(m or 0))
    except ValueError:
        return None


def window(form: Any) -> tuple[datetime | None, datetime | None, dict[str, str]]:
    """The day (Jalali or Gregorian, default today) and the two times, as naive UTC."""
    errors: dict[str, str] = {}
    typed_day = (form.get("day") or "").strip()
    day = parse_day(typed_day) if typed_day else today()
    if day is None:
        errors["day"] = MSG_DAY
    start, end = _clock(form.get("start") or ""), _clock(form.get("end") or "")
    if start is None:
        errors["start"] = MSG_TIME
    if end is None:
        errors["end"] = MSG_TIME
    if errors or day is None or start is None or end is None:
        return None, None, errors
    return (to_naive_utc(datetime.combine(day, start, tzinfo=TEHRAN)),
            to_naive_utc(datetime.combine(day, end, tzinfo=TEHRAN)), errors)


def image(request: Request, name: str, errors: dict[str, str]) -> bytes | None:
    """An uploaded (or camera-taken) JPG or PNG, checked by decoding it: a broken picture would
    otherwise break the printed pass."""
    file: FileStorage | None = request.files.get(name)
    if file is None or not file.filename:
        return None
    data = file.read(MAX_IMAGE + 1)
    try:
        if len(data) > MAX_IMAGE:
            raise ValueError("too large")
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in ("JPEG", "PNG"):
                raise ValueError(img.format)
            img.verify()
    except (ValueError, UnidentifiedImageError, OSError):
        errors[name] = MSG_IMAGE
        return None
    return data


def category(form: Any, default: int) -> int:
    try:
        return int(to_latin_digits(form.get("category") or str(default)))
    except ValueError:
        return 0

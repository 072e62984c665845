"""Logging for people (text) or for a log collector (one JSON object a line). Either way mobile
numbers and national codes are masked, and lines written while serving a request carry its id."""
from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

from connector.domain.normalize import mask_id, mask_mobile

request_id: ContextVar[str] = ContextVar("request_id", default="")

_MOBILE = re.compile(r"(?<![\d])(?:\+98|0098|0)?(9\d{9})(?![\d])")
# Ten digits on their own: a national code. Tracking codes are twelve, letter ids shorter.
_NATIONAL_CODE = re.compile(r"(?<![\d])(\d{10})(?![\d])")
_PERSIAN_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")


def mask(text: str) -> str:
    latin = text.translate(_PERSIAN_DIGITS)
    if latin != text and (_MOBILE.search(latin) or _NATIONAL_CODE.search(latin)):
        text = latin  # Persian digits are masked too, at the cost of showing them in Latin
    text = _MOBILE.sub(lambda m: mask_mobile("0" + m.group(1)), text)
    return _NATIONAL_CODE.sub(lambda m: mask_id(m.group(1)), text)


class MaskingFilter(logging.Filter):
    """Masks the finished message (arguments included) and the exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", "") or request_id.get()
        if rid:
            entry["request_id"] = rid
        for key in ("method", "path", "status", "duration_ms", "actor"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", "")
        return f"{line} [req {rid}]" if rid else line


def setup(level: str, fmt: str = "text") -> None:
    """Configure the root logger once per process (CLI commands and the WSGI entry point)."""
    handler = logging.StreamHandler()
    # On the handler too: libraries such as werkzeug set their own logger to INFO, and the
    # root logger's level does not filter what they pass up.
    handler.setLevel(level)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("alembic", "apscheduler"):  # they log every migration step and every tick
        logging.getLogger(noisy).setLevel(logging.WARNING)

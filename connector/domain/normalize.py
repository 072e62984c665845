"""Forgiving input: Persian, Arabic and Latin digits; ی/ي and ک/ك; Iranian identifiers.

The one place that decides what a digit is. Python's ``str.isdigit()`` and the regex ``\\d``
accept every Unicode digit (superscripts, Devanagari, ...), most of which ``int()`` refuses:
we accept exactly the Persian, Arabic-Indic and Latin digits, translate them to Latin, and
treat any other character as not a number.
"""
from __future__ import annotations

import re

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_TO_FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_LETTERS = (("ي", "ی"), ("ى", "ی"), ("ك", "ک"))
_SEPARATORS = re.compile(r"[\s\-_.()\u200c\u200f\u200e]+")
_MOBILE = re.compile(r"^(?:\+98|0098|98|0)?(9[0-9]{9})$")
_LATIN_DIGITS = re.compile(r"[0-9]+")


def to_latin_digits(text: str) -> str:
    return text.translate(_DIGITS)


def to_persian_digits(text: object) -> str:
    return str(text).translate(_TO_FA)


def text(value: str) -> str:
    """Normalize free Persian text: Arabic yeh/kaf to Persian, trimmed. ZWNJ is kept."""
    # str.replace, not str.translate: translate looks every character up in a table, a
    # hundred times slower on a letter's body (100 against 1 µs for 400 characters).
    for arabic, persian in _LETTERS:
        value = value.replace(arabic, persian)
    return value.strip()


def digits_only(value: str) -> str:
    """Digits translated to Latin and separators (spaces, dashes, dots) dropped; any other
    character stays, so :func:`is_number` can refuse it."""
    return _SEPARATORS.sub("", to_latin_digits(value or ""))


def is_number(value: str) -> bool:
    """Only the Latin digits 0-9 (what :func:`digits_only` leaves of an accepted number)."""
    return bool(_LATIN_DIGITS.fullmatch(value))


def number(value: str) -> str | None:
    """The digits typed (Persian, Arabic-Indic or Latin, with separators), in Latin; None when
    anything else was typed."""
    cleaned = digits_only(value)
    return cleaned if is_number(cleaned) else None


def mobile(value: str) -> str | None:
    """09xxxxxxxxx, or None when the input is not an Iranian mobile number."""
    m = _MOBILE.match(digits_only(value))
    return "0" + m.group(1) if m else None


def national_code(value: str) -> str | None:
    """کد ملی: 10 digits (8 or 9 left-padded with zeros) with a mod-11 check digit."""
    code = number(value) or ""
    if not 8 <= len(code) <= 10:
        return None
    code = code.zfill(10)
    if len(set(code)) == 1:
        return None
    s = sum(int(code[i]) * (10 - i) for i in range(9)) % 11
    check = int(code[9])
    ok = check == s if s < 2 else check == 11 - s
    return code if ok else None


def legal_id(value: str) -> str | None:
    """شناسه ملی اشخاص حقوقی: 11 digits with a weighted mod-11 check digit."""
    code = number(value) or ""
    if len(code) != 11:
        return None
    if int(code[3:9]) == 0 or len(set(code)) == 1:
        return None
    d = int(code[9]) + 2
    weights = (29, 27, 23, 19, 17)
    total = sum((d + int(code[i])) * weights[i % 5] for i in range(10)) % 11
    if total == 10:
        total = 0
    return code if total == int(code[10]) else None


def mask_mobile(value: str) -> str:
    return value[:4] + "***" + value[-4:] if len(value) >= 8 else "***"


def mask_id(value: str) -> str:
    return "******" + value[-4:] if len(value) > 4 else "***"

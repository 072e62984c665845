"""Tracking codes (کد رهگیری): random digits plus a Damm check digit.

Digits only, so they are easy to type on any phone in Persian or Latin digits. Random (from the
OS's secure generator), so they can't be guessed or counted through. The Damm check digit catches
every single-digit typo and every swap of two neighbouring digits.
"""
from __future__ import annotations

import secrets

from connector.domain.normalize import number

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

LENGTH = 12  # 11 random digits (10^11 codes) + 1 check digit


def check_digit(digits: str) -> str:
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return str(interim)


def new_code() -> str:
    # The first digit is never 0 so the code survives spreadsheets and phones that drop zeros.
    # One draw from the OS (a system call per digit cost more than the rest of the code).
    low = 10 ** (LENGTH - 2)
    body = str(low + secrets.randbelow(9 * low))
    return body + check_digit(body)


def clean(text: str) -> str:
    """Persian/Arabic digits to Latin; spaces and dashes dropped. Anything else typed (letters,
    superscripts, other scripts' digits) gives "", which is never a valid code."""
    return number(text or "") or ""


def is_valid(code: str) -> bool:
    code = clean(code)
    return len(code) == LENGTH and check_digit(code) == "0"

"""How many SMS parts a text costs. Persian needs UCS-2: 70 characters fit in one part, and a
longer text is split into parts of 67 (the rest carries the join header). Texts in the GSM
alphabet get 160 / 153, with the extended characters counting twice."""
from __future__ import annotations

import math

_GSM = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
           "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXT = set("^{}\\[~]|€\f")


def count(text: str) -> int:
    if not text:
        return 0
    if all(ch in _GSM or ch in _GSM_EXT for ch in text):
        n = sum(2 if ch in _GSM_EXT else 1 for ch in text)
        return 1 if n <= 160 else math.ceil(n / 153)
    # UCS-2 counts UTF-16 code units: a character outside the BMP (an emoji) takes two.
    n = len(text.encode("utf-16-le")) // 2
    return 1 if n <= 70 else math.ceil(n / 67)

"""The in-person desk's words for its numbers and states, as the pages and the pass say them."""
from __future__ import annotations

# The directive's four kinds of in-person service.
CATEGORY = {1: "اطلاع‌رسانی", 2: "تحویل مدارک بدون ورود", 3: "ورود برای ملاقات",
            4: "انجام خدمت در میز"}
STATE = {"planned": "منتظر آمدن", "inside": "داخل ساختمان", "left": "بیرون رفته",
         "expired": "وقتش گذشت", "refused": "پذیرفته نشد", "served": "کارش در میز انجام شد"}

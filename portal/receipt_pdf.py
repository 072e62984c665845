"""The PDF receipt: an A5 page in Persian with the tracking code, the letter's facts, the Jalali
date and time, and a QR code that opens the tracking page.

ReportLab can't shape Persian by itself (its bidi extra is not on PyPI), so each line is shaped
with arabic-reshaper and put in visual order with python-bidi's pure-Python algorithm, which
mirrors brackets. Lines are wrapped in logical order first and converted one by one: converting
a whole paragraph and then cutting it would put the words of a wrapped line in the wrong order.
The font ships inside the package; nothing is fetched when a receipt is made.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from arabic_reshaper import ArabicReshaper
from bidi.algorithm import get_display
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from connector.domain.normalize import to_persian_digits

FONTS = Path(__file__).resolve().parent / "fonts"
REGULAR, BOLD = "Vazirmatn", "Vazirmatn-Bold"
GREY = Color(0.35, 0.35, 0.35)
MARGIN = 14 * mm
QR_SIZE = 34 * mm


@dataclass(frozen=True)
class ReceiptFacts:
    """What the receipt says, already in display form (Persian labels, Jalali dates)."""
    title: str
    org_name: str
    tracking_code: str
    track_url: str
    rows: list[tuple[str, str]]
    note: str


@lru_cache(maxsize=1)
def _reshaper() -> ArabicReshaper:
    # The default drops marks such as the hamza of «نامهٔ».
    return ArabicReshaper(configuration={"delete_harakat": False})


@lru_cache(maxsize=1)
def _register_fonts() -> None:
    pdfmetrics.registerFont(TTFont(REGULAR, str(FONTS / "Vazirmatn-Regular.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(FONTS / "Vazirmatn-Bold.ttf")))


def visual(line: str) -> str:
    """One logical line of Persian (mixed with Latin and digits) in the order a PDF draws it."""
    return get_display(_reshaper().reshape(line))


def wrap_rtl(text: str, font: str, size: float, width: float) -> list[str]:
    """Wrap in logical order, measuring the shaped form (joined letters are narrower)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if current and pdfmetrics.stringWidth(visual(candidate), font, size) > width:
                lines.append(current)
                current = word
            else:
                current = candidate
        lines.append(current)
    return lines


def render(facts: ReceiptFacts) -> bytes:
    _register_fonts()
    buffer = io.BytesIO()
    page_w, page_h = A5
    pdf = Canvas(buffer, pagesize=A5, pageCompression=1)
    pdf.setTitle(f"Receipt {facts.tracking_code}")
    pdf.setAuthor(facts.org_name)
    right = page_w - MARGIN
    y = page_h - MARGIN - 6 * mm

    pdf.setFont(BOLD, 16)
    pdf.drawCentredString(page_w / 2, y, visual(facts.title))
    y -= 8 * mm
    pdf.setFont(REGULAR, 12)
    pdf.drawCentredString(page_w / 2, y, visual(facts.org_name))
    y -= 12 * mm

    pdf.setFont(REGULAR, 11)
    pdf.drawCentredString(page_w / 2, y, visual("کد رهگیری"))
    y -= 10 * mm
    pdf.setFont(BOLD, 22)
    pdf.drawCentredString(page_w / 2, y, visual(to_persian_digits(facts.tracking_code)))
    y -= 6 * mm
    pdf.setFont(REGULAR, 10)
    pdf.setFillColor(GREY)
    pdf.drawCentredString(page_w / 2, y, facts.tracking_code)
    pdf.setFillColorRGB(0, 0, 0)
    y -= 10 * mm

    label_w = 30 * mm
    value_w = right - MARGIN - label_w - 3 * mm
    for label, value in facts.rows:
        pdf.setFont(BOLD, 10)
        pdf.drawRightString(right, y, visual(label))
        pdf.setFont(REGULAR, 10)
        for i, line in enumerate(wrap_rtl(value, REGULAR, 10, value_w)[:4]):
            pdf.drawRightString(right - label_w, y - i * 5.5 * mm, visual(line))
            lines = i + 1
        y -= max(lines, 1) * 5.5 * mm + 2 * mm

    qr = QrCodeWidget(facts.track_url, barLevel="M")
    x0, y0, x1, y1 = qr.getBounds()
    drawing = Drawing(QR_SIZE, QR_SIZE,
                      transform=[QR_SIZE / (x1 - x0), 0, 0, QR_SIZE / (y1 - y0), 0, 0])
    drawing.add(qr)
    qr_y = max(MARGIN + 8 * mm, y - QR_SIZE - 4 * mm)
    renderPDF.draw(drawing, pdf, (page_w - QR_SIZE) / 2, qr_y)
    pdf.setFont(REGULAR, 9)
    note_y = qr_y - 5 * mm
    for line in wrap_rtl(facts.note, REGULAR, 9, page_w - 2 * MARGIN):
        pdf.drawCentredString(page_w / 2, note_y, visual(line))
        note_y -= 4.5 * mm
    pdf.setFillColor(GREY)
    pdf.setFont(REGULAR, 8)
    pdf.drawCentredString(page_w / 2, note_y - 1 * mm, facts.track_url)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()

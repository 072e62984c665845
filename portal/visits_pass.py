"""The visitor's pass: a PDF for an 80 mm receipt printer or an A6 card, in Persian shaped as the
receipts are (:mod:`portal.receipt_pdf`), with the photo, host, unit, valid window, a QR code
and a Code 128 barcode of the pass code — what a gate's reader scans."""
from __future__ import annotations

import io
from datetime import datetime

from flask import Response
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from connector.config.organizations import Organization
from connector.domain.normalize import to_persian_digits
from connector.store.visits import Visit
from connector.visits import images
from connector.visits.usecases import jalali_parts

from . import pishkhan
from .receipt_pdf import BOLD, GREY, REGULAR, _register_fonts, visual, wrap_rtl
from .visits_labels import CATEGORY

# A receipt roll has room in length; the A6 card does not, so it sets the codes side by side.
SIZES = {"80mm": (80 * mm, 155 * mm), "a6": A6}
NOTE = "این کارت را هنگام ورود و خروج جلوی دستگاه دروازه بگیرید."


def _when(at: datetime) -> str:
    day, time = jalali_parts(at)
    return f"{day} ساعت {time}"


def render(org_name: str, visit: Visit, code: str, photo: bytes | None, unit: str,
           size: str = "80mm", logo: bytes | None = None) -> bytes:
    _register_fonts()
    width, height = SIZES[size]
    margin = 5 * mm
    buffer = io.BytesIO()
    pdf = Canvas(buffer, pagesize=(width, height), pageCompression=1)
    pdf.setTitle(f"Visitor pass {visit.id}")
    pdf.setAuthor(org_name)
    mid, right = width / 2, width - margin
    y = height - margin - 5 * mm
    if logo:  # in the corner, beside the title: it costs no height
        side = 12 * mm
        pdf.drawImage(ImageReader(io.BytesIO(logo)), right - side, y - side + 5 * mm, side,
                      side, preserveAspectRatio=True, anchor="c", mask="auto")
    pdf.setFont(BOLD, 13)
    pdf.drawCentredString(mid, y, visual("کارت ملاقات"))
    y -= 6 * mm
    pdf.setFont(REGULAR, 10)
    pdf.drawCentredString(mid, y, visual(org_name))
    y -= 4 * mm

    if photo:
        pw, ph = 24 * mm, 30 * mm
        y -= ph
        pdf.drawImage(ImageReader(io.BytesIO(photo)), mid - pw / 2, y, pw, ph,
                      preserveAspectRatio=True, anchor="c")
    y -= 7 * mm
    pdf.setFont(BOLD, 13)
    pdf.drawCentredString(mid, y, visual(visit.visitor.name))
    y -= 7 * mm
    rows = [("میزبان", visit.host_name or "—"), ("واحد", unit or "—"),
            ("از", _when(visit.window_start)), ("تا", _when(visit.window_end)),
            ("نوع", CATEGORY.get(visit.category, ""))]
    label_w = 14 * mm
    for label, value in rows:
        pdf.setFont(BOLD, 9)
        pdf.drawRightString(right, y, visual(label))
        pdf.setFont(REGULAR, 9)
        lines = wrap_rtl(value, REGULAR, 9, right - margin - label_w)[:2]
        for i, line in enumerate(lines):
            pdf.drawRightString(right - label_w, y - i * 4.5 * mm, visual(line))
        y -= len(lines) * 4.5 * mm + 1.5 * mm

    qr_size = 28 * mm
    qr = QrCodeWidget(code, barLevel="M")
    x0, y0, x1, y1 = qr.getBounds()
    drawing = Drawing(qr_size, qr_size,
                      transform=[qr_size / (x1 - x0), 0, 0, qr_size / (y1 - y0), 0, 0])
    drawing.add(qr)
    barcode = Code128(code, barHeight=10 * mm, barWidth=0.3 * mm, quiet=True)
    pdf.setFont(REGULAR, 9)
    y -= qr_size
    if size == "a6":  # the QR code at the right, as the card reads; the barcode beside it
        gap = 4 * mm
        left = mid - (qr_size + gap + barcode.width) / 2
        renderPDF.draw(drawing, pdf, left + barcode.width + gap, y)
        bar_y = y + (qr_size - 10 * mm) / 2 + 2 * mm
        barcode.drawOn(pdf, left, bar_y)
        pdf.drawCentredString(left + barcode.width / 2, bar_y - 4 * mm, code)
    else:
        renderPDF.draw(drawing, pdf, mid - qr_size / 2, y)
        y -= 12 * mm
        barcode.drawOn(pdf, mid - barcode.width / 2, y)
        y -= 4 * mm
        pdf.drawCentredString(mid, y, code)
    pdf.setFillColor(GREY)
    pdf.setFont(REGULAR, 7.5)
    y -= 4.5 * mm
    for line in wrap_rtl(NOTE, REGULAR, 7.5, width - 2 * margin):
        pdf.drawCentredString(mid, y, visual(line))
        y -= 3.5 * mm
    pdf.drawCentredString(mid, max(y, 3 * mm), visual(to_persian_digits(f"شماره {visit.id}")))
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def pass_response(org: Organization, visit: Visit, code: str, size: str) -> Response:
    photo = None
    if visit.visitor.photo_sha256:
        photo = images.get(pishkhan(), visit.visitor.photo_sha256)
    unit = org.unit_name(visit.unit_code) or ""
    response = Response(render(org.name, visit, code, photo, unit, size,
                               images.org_logo(org.path)),
                        mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="pass-{visit.id}-{size}.pdf"'
    return response

"""The PDF receipt of a letter, in the words and dates the citizen sees on the receipt page."""
from __future__ import annotations

from flask import Response

from connector.domain.normalize import mask_id, to_persian_digits
from connector.store.models import Letter

from . import labels, pishkhan
from .filters import due_day, jalali
from .receipt_pdf import ReceiptFacts, render

NOTE = ("این رسید نشان می‌دهد نامه شما رسیده است. برای دیدن وضعیت نامه، کد بالا را در "
        "بخش «پیگیری نامه» بنویسید یا این کد تصویری را با گوشی بخوانید.")


def facts(letter: Letter, track_url: str) -> ReceiptFacts:
    org = pishkhan().orgs.get(letter.org)
    service = org.service(letter.service_code) if org else None
    if letter.applicant_type == "legal":
        applicant = f"{letter.company_name} (شناسه ملی {mask_id(letter.national_id or '')})"
    else:
        applicant = f"{letter.first_name} {letter.last_name}"
    rows = [("متقاضی", applicant), ("موضوع", letter.subject)]
    if service is not None:
        rows.append(("خدمت", service.title))
    rows.append(("زمان فرستادن", jalali(letter.created_at)))
    if letter.due_date:
        rows.append(("پایان کار", due_day(letter.due_date)))
    if letter.letter_number:
        rows.append(("شماره نامه", letter.letter_number))
    rows.append(("وضعیت", labels.status(letter.state)))
    if letter.attachments:
        rows.append(("پیوست‌ها", f"{len(letter.attachments)} فایل"))
    return ReceiptFacts(title="رسید نامه", org_name=org.name if org else letter.org,
                        tracking_code=letter.tracking_code, track_url=track_url,
                        rows=[(k, to_persian_digits(v)) for k, v in rows], note=NOTE)


def pdf_response(letter: Letter, track_url: str) -> Response:
    response = Response(render(facts(letter, track_url)), mimetype="application/pdf")
    response.headers["Content-Disposition"] = \
        f'attachment; filename="receipt-{letter.tracking_code}.pdf"'
    return response

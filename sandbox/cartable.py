"""The cartable (کارتابل): Persian pages where a controller handles incoming letters."""

from __future__ import annotations

import io
from datetime import datetime

from flask import Blueprint, Response, redirect, render_template, request, send_file, url_for
from persiantools.digits import en_to_fa

from sandbox import followups, letters
from sandbox.clock import format_jalali
from sandbox.state import current_sandbox

bp = Blueprint("cartable", __name__)

STATUS_LABELS = {
    "pending": "در انتظار ثبت",
    "registered": "ثبت‌شده",
    "referred": "ارجاع‌شده",
    "answered": "پاسخ‌داده‌شده",
    "closed": "بسته‌شده",
    "rejected": "ردشده",
}

# The routing feed's kinds: the statuses, and a request for documents that changes none.
CHANGE_LABELS = {**STATUS_LABELS, followups.REQUEST_KIND: "درخواست مدرک از فرستنده"}
LINK_LABELS = {"follow_up": "پیرو", "documents": "پیرو (مدارک تکمیلی)", "objection": "اعتراض به",
               "reply": "پاسخ به"}

ACTION_LABELS = {
    "register": "ثبت و شماره‌گذاری",
    "reject": "رد نامه",
    "refer": "ارجاع",
    "answer": "پاسخ",
    "close": "بستن و بایگانی",
    "request_documents": "درخواست مدرک",
}

_DONE = {
    "register": "نامه ثبت شد و شماره گرفت.",
    "reject": "نامه رد شد.",
    "refer": "نامه ارجاع شد.",
    "answer": "پاسخ نامه ثبت شد.",
    "close": "نامه بسته و بایگانی شد.",
    "request_documents": "درخواست مدرک برای فرستنده ثبت شد.",
}

# The domain's messages are for programs; people get these instead.
_INVALID = {
    "register": "شماره‌ای که وارد کردید پذیرفته نیست.",
    "reject": "برای رد نامه، دلیل آن را بنویسید.",
    "refer": "واحد مقصد را از فهرست انتخاب کنید.",
    "answer": "متن پاسخ را بنویسید.",
    "close": "این نامه را نمی‌توان بست.",
    "request_documents": "بنویسید چه مدرکی لازم است.",
}


@bp.app_template_filter("jalali")
def jalali_filter(value: datetime | None) -> str:
    return format_jalali(value)


@bp.app_template_filter("fa")
def persian_digits_filter(value: object) -> str:
    return "" if value is None else en_to_fa(str(value))


@bp.app_context_processor
def _labels() -> dict[str, object]:
    return {"status_labels": STATUS_LABELS, "action_labels": ACTION_LABELS,
            "change_labels": CHANGE_LABELS, "link_labels": LINK_LABELS}


@bp.get("/")
def index() -> str:
    sandbox = current_sandbox()
    units = {unit.code: unit for unit in letters.list_units(sandbox.engine)}
    by_status: dict[str, list[letters.Letter]] = {status: [] for status in letters.STATUSES}
    for letter in letters.list_letters(sandbox.engine):
        by_status.setdefault(letter.status, []).append(letter)
    return render_template("index.html", by_status=by_status, units=units)


@bp.get("/letters/<int:letter_id>")
def letter_page(letter_id: int) -> tuple[str, int]:
    return _render_letter(letter_id, notice=_DONE.get(request.args.get("done", "")))


@bp.post("/letters/<int:letter_id>/<action>")
def act(letter_id: int, action: str) -> Response | tuple[str, int]:
    engine = current_sandbox().engine
    form = request.form
    try:
        if action == "register":
            letters.register(engine, letter_id, form.get("number", "").strip() or None)
        elif action == "reject":
            letters.reject(engine, letter_id, form.get("reason", ""))
        elif action == "refer":
            letters.refer(
                engine,
                letter_id,
                unit=form.get("unit", ""),
                person=form.get("person"),
                instruction=form.get("instruction"),
            )
        elif action == "answer":
            letters.answer(engine, letter_id, form.get("text", ""))
        elif action == "close":
            letters.close(engine, letter_id)
        elif action == "request_documents":
            followups.request_documents(engine, letter_id, form.get("note", ""))
        else:
            return _not_found("چنین کاری تعریف نشده است.")
    except letters.LetterNotFound:
        return _not_found("این نامه پیدا نشد.")
    except letters.ActionNotAllowed:
        message = "این کار در وضعیت فعلی نامه ممکن نیست."
        return _render_letter(letter_id, status=409, error=message)
    except letters.InvalidInput:
        return _render_letter(letter_id, status=400, error=_INVALID[action])
    # Post/redirect/get, so reloading the page does not repeat the action.
    return redirect(url_for("cartable.letter_page", letter_id=letter_id, done=action), 303)


@bp.get("/letters/<int:letter_id>/attachments/<int:attachment_id>")
def download_attachment(letter_id: int, attachment_id: int) -> Response | tuple[str, int]:
    try:
        attachment, content = letters.get_attachment(
            current_sandbox().engine, letter_id, attachment_id
        )
    except letters.LetterNotFound:
        return _not_found("این پیوست پیدا نشد.")
    return _download(content, attachment.name, attachment.content_type)


@bp.get("/letters/<int:letter_id>/reply")
def download_reply(letter_id: int) -> Response | tuple[str, int]:
    try:
        reply = letters.get_reply(current_sandbox().engine, letter_id)
    except letters.LetterNotFound:
        reply = None
    if reply is None:
        return _not_found("این نامه پاسخی ندارد.")
    return _download(reply.content, reply.file_name, reply.content_type)


def _render_letter(
    letter_id: int, status: int = 200, notice: str | None = None, error: str | None = None
) -> tuple[str, int]:
    engine = current_sandbox().engine
    try:
        letter = letters.get_letter(engine, letter_id)
        reply = letters.get_reply(engine, letter_id)
    except letters.LetterNotFound:
        return _not_found("این نامه پیدا نشد.")
    units = letters.list_units(engine)
    page = render_template(
        "letter.html",
        letter=letter,
        reply=reply,
        history=letters.history(engine, letter_id),
        links=followups.links(engine, letter_id),
        can_request=letter.status in followups.REQUESTABLE,
        units=units,
        unit_names={unit.code: unit.name for unit in units},
        notice=notice,
        error=error,
    )
    return page, status


def _download(content: bytes, name: str, content_type: str) -> Response:
    # Always as a download: the content type came from outside and must not render as a page.
    response = send_file(
        io.BytesIO(content),
        mimetype=content_type or "application/octet-stream",
        as_attachment=True,
        download_name=name,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _not_found(message: str) -> tuple[str, int]:
    return render_template("error.html", message=message), 404

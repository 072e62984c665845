"""Citizen pages: choose an organization, read its services, sign in with an SMS code, write a
letter, get a receipt, follow the letter, take it back, rate the service.

Every page works without JavaScript. Bad input re-renders the same form with everything typed
kept and the core's Persian message next to its field.
"""
from __future__ import annotations

import logging
import math
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import OperationalError
from werkzeug.wrappers import Response

from connector.config.organizations import Organization
from connector.domain import tracking
from connector.domain.errors import (
    Forbidden,
    InvalidTransition,
    NotFound,
    RateLimited,
    ValidationError,
    msg,
)
from connector.letters import followups
from connector.letters import usecases as letters
from connector.people import citizens
from connector.store.db import store_unavailable

from . import attachments, drafts, labels, pishkhan
from .errors import rate_limit_message
from .security import citizen_required, current_mobile, login_citizen, logout_citizen, safe_next

bp = Blueprint("citizen", __name__)
log = logging.getLogger(__name__)

MSG_TRACKING = msg("track.invalid")
MSG_NOT_YOURS = msg("track.not_yours")
MSG_WITHDRAW_LATE = msg("withdraw.late")
MSG_SURVEY_CLOSED = msg("survey.closed")

Page = str | Response | tuple[str, int]


@bp.get("/")
def index() -> Page:
    return render_template("citizen/index.html", orgs=list(pishkhan().orgs.values()))


@bp.get("/o/<org>")
def catalog(org: str) -> Page:
    return render_template("citizen/catalog.html", org=pishkhan().org(org))


# --- signing in with an SMS code --------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login() -> Page:
    px = pishkhan()
    next_url = safe_next(request.values.get("next"))
    values = {"mobile": request.values.get("mobile", ""), "code": request.form.get("code", "")}
    step = request.form.get("step", "mobile") if request.method == "POST" else "mobile"
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST" and step in ("mobile", "resend"):
        try:
            values["mobile"] = citizens.request_otp(px, values["mobile"])
            step = "code"
        except ValidationError as exc:
            errors, status, step = exc.errors, 400, "mobile"
        except RateLimited as exc:
            # A resend asked for too early stays on the code step, the message by its button.
            field = "resend" if step == "resend" else "mobile"
            step = "code" if step == "resend" else "mobile"
            errors, status = {field: rate_limit_message(exc.retry_after)}, 429
    elif request.method == "POST" and step == "code":
        try:
            citizens.prove_mobile(px, values["mobile"], values["code"])
        except ValidationError as exc:
            errors, status = exc.errors, 400
        except RateLimited as exc:
            minutes = max(1, math.ceil(exc.retry_after / 60))
            errors, status = {"code": msg("otp.locked", minutes=minutes)}, 429
        else:
            login_citizen(citizens.clean_mobile(values["mobile"]))
            return redirect(next_url)
    resend_in = citizens.resend_wait(px, values["mobile"]) \
        if step == "code" and "mobile" not in errors else 0
    return render_template("citizen/login.html", step=step, values=values, errors=errors,
                           next=next_url, resend_in=resend_in), status


@bp.post("/logout")
def logout() -> Response:
    logout_citizen()
    return redirect(url_for("citizen.index"))


# --- writing a letter -------------------------------------------------------------------------

@bp.route("/o/<org>/letter", methods=["GET", "POST"])
@citizen_required
def write(org: str) -> Page:
    """Write, preview, send. The form posts ``action=preview`` (its only button); the preview
    page posts the same fields back with ``action=send`` or ``action=edit``."""
    px = pishkhan()
    organization = px.org(org)
    if request.method == "GET":
        # Held files stay until the letter is sent: this page may be a second tab or the
        # back button while a preview is still open.
        form = letters.LetterForm(service=request.args.get("service", ""))
        return _form_page(organization, form)
    form = letters.LetterForm.from_mapping(request.form)
    action = request.form.get("action", "preview")
    uploads = attachments.from_files(request.files.getlist("attachments"))
    kept = drafts.kept(organization, request.form)
    everything = drafts.load(kept) + uploads
    if action == "edit":
        return _form_page(organization, form, held=kept)
    if action == "send" and \
            (earlier := drafts.sent_already(org, current_mobile(), form)) is not None:
        # This page was sent already (a double click, or a resend after «not stored» that had
        # gone after all; its held files are gone with it): that letter's receipt.
        drafts.clear()
        return redirect(url_for("citizen.receipt", code=earlier.tracking_code))
    if len(kept) < len(set(request.form.getlist("keep"))):
        # A ticked file is no longer held (the draft was replaced in another tab): never send
        # the letter without it.
        return _form_page(organization, form, {"attachments": drafts.MSG_GONE}, kept), 400
    resend = drafts.resend_key()  # one for the send and the page that may come back
    try:
        cleaned = letters.validate(organization, form, everything, px.scanner(org))
        if action != "send":
            held = drafts.hold(organization, everything)
            # A new preview is a new submission: its own key, whatever came before.
            return render_template("citizen/preview.html", org=organization,
                                   form=cleaned.form, raw=form, held=held,
                                   service=organization.service(cleaned.form.service),
                                   resend=drafts.resend_key(fresh=True))
        letter = letters.submit(px, org, form, everything, str(current_mobile()),
                                resend_key=resend)
    except ValidationError as exc:
        held = drafts.hold(organization, everything)
        return _form_page(organization, form, exc.errors, held), 400
    except OperationalError as exc:
        if not store_unavailable(exc):
            raise
        # Our database did not answer (a restart, say). The preview comes back with everything
        # on it; the message says to look in «my letters» first, since a connection lost
        # during the commit may have stored the letter after all.
        log.warning("letter for %s: the database did not answer", org)
        flash("letter.not_stored")
        return render_template("citizen/preview.html", org=organization, form=cleaned.form,
                               raw=form, held=drafts.hold(organization, everything),
                               service=organization.service(cleaned.form.service),
                               resend=resend), 503
    drafts.clear()
    return redirect(url_for("citizen.receipt", code=letter.tracking_code))


def _form_page(org: Organization, form: letters.LetterForm, errors: dict[str, str] | None = None,
               held: list[drafts.Held] | None = None) -> str:
    held = held or []
    return render_template("citizen/letter_form.html", org=org, form=form, errors=errors or {},
                           held=held,
                           free_slots=max(0, org.attachments.max_files - len(held)))


@bp.get("/r/<code>")
@citizen_required
def receipt(code: str) -> Page:
    px = pishkhan()
    letter = letters.get(px, code, current_mobile())
    return render_template("citizen/receipt.html", letter=letter, org=px.orgs.get(letter.org),
                           next_step=labels.next_step(letter.state))


# --- following a letter -----------------------------------------------------------------------

@bp.get("/track")
def track() -> Page:
    code = request.args.get("code")
    if code is None:
        return render_template("citizen/track.html", code="", error=None)
    if not tracking.is_valid(code):
        return render_template("citizen/track.html", code=code, error=MSG_TRACKING), 400
    return redirect(url_for("citizen.track_letter", code=tracking.clean(code)))


def _letter_page(code: str, status: int = 200, **extra: Any) -> Page:
    px = pishkhan()
    try:
        letter = letters.get(px, code, current_mobile())
    except NotFound:
        # Same answer for "no such code" and "not your letter", so codes can't be probed.
        return render_template("error.html", status=404, message=MSG_NOT_YOURS), 404
    view = letters.view(px, letter)
    return render_template(
        "citizen/letter.html", letter=view,
        can_withdraw=view["can_withdraw"], can_rate=view["survey_open"],
        next_step=labels.next_step(letter.state), **extra), status


@bp.get("/t/<code>")
def track_letter(code: str) -> Page:
    if not current_mobile():
        # The code alone reveals nothing: the owner's mobile must be proved first.
        return render_template("citizen/track_login.html", code=tracking.clean(code))
    return _letter_page(code, rated=request.args.get("rated") == "1")


@bp.route("/t/<code>/withdraw", methods=["GET", "POST"])
@citizen_required
def withdraw(code: str) -> Page:
    px = pishkhan()
    if request.method == "GET":
        letter = letters.get(px, code, current_mobile())
        return render_template("citizen/withdraw.html", letter=letter)
    try:
        letters.withdraw(px, code, str(current_mobile()))
    except (Forbidden, InvalidTransition):
        return _letter_page(code, 409, action_error=MSG_WITHDRAW_LATE)
    flash("withdraw.done")  # a catalog code: the page renders it in the reader's language
    return redirect(url_for("citizen.track_letter", code=tracking.clean(code)))


@bp.post("/t/<code>/survey")
@citizen_required
def survey(code: str) -> Page:
    raw = request.form.get("score", "")
    comment = request.form.get("comment", "")
    try:
        letters.save_survey(pishkhan(), code, str(current_mobile()), raw, comment)
    except ValidationError as exc:
        return _letter_page(code, 400, survey_errors=exc.errors,
                            survey_values={"score": raw, "comment": comment})
    except Forbidden:
        return _letter_page(code, 409, action_error=MSG_SURVEY_CLOSED)
    return redirect(url_for("citizen.track_letter", code=tracking.clean(code), rated=1))


@bp.post("/t/<code>/documents")
@citizen_required
def documents(code: str) -> Page:
    """The files the organization asked for (same checks as the letter form)."""
    uploads = attachments.from_files(request.files.getlist("attachments"))
    try:
        follow_up = followups.add_documents(pishkhan(), code, str(current_mobile()), uploads)
    except ValidationError as exc:
        return _letter_page(code, 400, documents_errors=exc.errors)
    except (Forbidden, InvalidTransition):
        return _letter_page(code, 409, action_error=followups.MSG["not_waiting"])
    flash("followups.sent" if follow_up else "followups.added")
    return redirect(url_for("citizen.track_letter", code=tracking.clean(code)))


@bp.post("/t/<code>/objection")
@citizen_required
def objection(code: str) -> Page:
    reason = request.form.get("objection", "")
    uploads = attachments.from_files(request.files.getlist("attachments"))
    try:
        child = followups.object_to(pishkhan(), code, str(current_mobile()), reason, uploads)
    except ValidationError as exc:
        return _letter_page(code, 400, objection_errors=exc.errors,
                            objection_text=reason)
    except Forbidden as exc:
        return _letter_page(code, 409, action_error=exc.args[0] if exc.args else
                            followups.MSG["window"])
    flash("followups.objected")
    return redirect(url_for("citizen.track_letter", code=child.tracking_code))


@bp.get("/t/<code>/attachments/<int:index>")
@citizen_required
def attachment(code: str, index: int) -> Response:
    return attachments.send(letters.get(pishkhan(), code, current_mobile()), index)


@bp.get("/my")
@citizen_required
def my_letters() -> Page:
    items = letters.for_mobile(pishkhan(), str(current_mobile()))
    return render_template("citizen/my.html", letters=items, orgs=pishkhan().orgs)

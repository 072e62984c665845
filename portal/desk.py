"""The front desk (میز خدمت حضوری): staff hand in a letter for a citizen who came in person,
with the papers they brought scanned as attachments, and print the receipt. The letter then
follows the same pipeline as one handed in on the portal (``channel = "desk"``)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import OperationalError
from werkzeug.wrappers import Response

from connector.config.organizations import Organization
from connector.domain.errors import NotFound, ValidationError, msg
from connector.domain.normalize import mobile as clean_mobile
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.people import staff
from connector.plugins import identity
from connector.store import audit
from connector.store.db import store_unavailable

from . import attachments, drafts, pishkhan
from .staff_ui import org_where, orgs_where, role_required, user

bp = Blueprint("desk", __name__, url_prefix="/desk")
desk_only = role_required(*staff.DESK)

MSG_MOBILE = msg("desk.mobile")

Page = str | Response | tuple[str, int]


@bp.context_processor
def _lookup_button() -> dict[str, bool]:
    # The «find the name» button shows only where a registry is configured.
    return {"lookup_on": identity.lookups(pishkhan()).adapter is not None}


def _orgs() -> list[Organization]:
    return orgs_where(staff.may_hand_in)


def _org(slug: str) -> Organization:
    return org_where(staff.may_hand_in, slug)


@bp.get("/")
@desk_only
def index() -> Page:
    orgs = _orgs()
    if len(orgs) == 1:
        return redirect(url_for("desk.new", org=orgs[0].slug))
    return render_template("desk/index.html", user=user(), orgs=orgs)


@bp.route("/<org>/new", methods=["GET", "POST"])
@desk_only
def new(org: str) -> Page:
    organization = _org(org)
    if request.method == "GET":
        return _form_page(organization, letters.LetterForm(), "", held=[])
    form = letters.LetterForm.from_mapping(request.form)
    typed_mobile = request.form.get("mobile", "")
    kept = drafts.kept(organization, request.form)
    uploads = drafts.load(kept) + attachments.from_files(request.files.getlist("attachments"))
    if request.form.get("action") == "lookup":
        return _fill_from_registry(organization, form, typed_mobile, uploads)
    mobile = clean_mobile(typed_mobile)
    earlier = drafts.sent_already(organization.slug, mobile, form)
    resend = drafts.resend_key()  # one for the send and the form that may come back
    if earlier is not None:  # this form was sent already (a double click): its receipt
        drafts.clear()
        return redirect(url_for("desk.receipt", org=organization.slug,
                                code=earlier.tracking_code))
    try:
        errors = {} if mobile else {"mobile": MSG_MOBILE}
        if len(kept) < len(set(request.form.getlist("keep"))):
            errors["attachments"] = drafts.MSG_GONE
        try:
            letters.validate(organization, form, uploads,
                             pishkhan().scanner(organization.slug))
        except ValidationError as exc:
            errors = {**errors, **exc.errors}
        if errors:
            raise ValidationError(errors)
        assert mobile is not None
        letter = letters.submit(pishkhan(), organization.slug, form, uploads, mobile,
                                channel="desk", resend_key=resend)
    except ValidationError as exc:
        # Everything typed comes back, and the scans that passed the checks are kept.
        return _form_page(organization, form, typed_mobile, drafts.hold(organization, uploads),
                          exc.errors, resend=resend), 400
    except OperationalError as exc:
        if not store_unavailable(exc):
            raise
        flash("letter.not_stored")  # and everything typed comes back, as above
        return _form_page(organization, form, typed_mobile, drafts.hold(organization, uploads),
                          resend=resend), 503
    drafts.clear()
    audit.log(pishkhan(), "letter.hand_in", org=organization.slug,
              letter=letter.tracking_code, attachments=len(letter.attachments))
    return redirect(url_for("desk.receipt", org=organization.slug, code=letter.tracking_code))


def _fill_from_registry(organization: Organization, form: letters.LetterForm,
                        typed_mobile: str, uploads: list[Upload]) -> Page:
    """«Find the name»: the civil registry fills the applicant's names from the national code
    (connector/plugins/identity.py); everything typed and the scans come back with it."""
    outcome = identity.lookup_person(pishkhan(), form.national_code, org=organization.slug,
                                     purpose="front desk")
    errors = {"national_code": outcome.message} if outcome.status == "not_found" else {}
    if outcome.person is not None:
        form.first_name, form.last_name = outcome.person.first_name, outcome.person.last_name
    return _form_page(organization, form, typed_mobile, drafts.hold(organization, uploads),
                      errors, notice=outcome.message if not errors else ""), \
        400 if errors else 200


def _form_page(organization: Organization, form: letters.LetterForm, mobile: str,
               held: list[drafts.Held], errors: dict[str, str] | None = None,
               notice: str = "", resend: str | None = None) -> str:
    """The form with everything typed, the scans kept and the submission's key: the posted
    one while the form comes back (sent again, it is the same letter), else a new one."""
    return render_template("desk/form.html", user=user(), org=organization, form=form,
                           mobile=mobile, errors=errors or {}, held=held, notice=notice,
                           resend=resend or drafts.resend_key())


@bp.get("/<org>/letters/<code>/receipt")
@desk_only
def receipt(org: str, code: str) -> Page:
    organization = _org(org)
    try:
        letter = letters.get(pishkhan(), code)
    except NotFound:
        abort(404)
    if letter.org != organization.slug or letter.channel != "desk":
        abort(404)
    service = organization.service(letter.service_code)
    return render_template("desk/receipt.html", user=user(), org=organization, letter=letter,
                           service=service,
                           track_url=pishkhan().settings.public_url + url_for("citizen.track"))

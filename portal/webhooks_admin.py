"""The admin pages' webhooks: an organization's subscriptions (add, remove) and the events that
failed (retry). Every change is audited; secrets are named, never typed here."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from connector.domain.errors import Message, NotFound, ValidationError, msg
from connector.outbox import webhook_types, webhooks
from connector.outbox.webhook_http import shown
from connector.people import staff
from connector.store import audit

from . import pishkhan
from .staff_ui import org_where, role_required, user

bp = Blueprint("webhooks_admin", __name__, url_prefix="/admin")
admin_only = role_required(*staff.ADMINS)


def _slug(org: str) -> str:
    return org_where(staff.may_administer, org).slug


@bp.get("/<org>/webhooks")
@admin_only
def index(org: str) -> str:
    return _page(_slug(org))


def _types() -> list[tuple[str, Message]]:
    """Every type of the registry with its Persian label, for the checkboxes."""
    return [(t, msg(f"webhook.label.{t.removeprefix(webhook_types.PREFIX)}"))
            for t in webhook_types.TYPES]


def _page(slug: str, errors: dict[str, str] | None = None, form: dict[str, Any] | None = None,
          status: int = 200) -> str:
    px = pishkhan()
    subs = [{"id": s.id, "url": shown(s.url), "secret_env": s.secret_env, "types": s.types}
            for s in webhooks.subscriptions(px, slug)]
    return render_template("admin/webhooks.html", user=user(), org=px.org(slug), subs=subs,
                           counts=webhooks.summary(px, slug),
                           failures=webhooks.failures(px, slug), types=_types(),
                           errors=errors or {}, form=form or {}), status


@bp.post("/<org>/webhooks")
@admin_only
def add(org: str) -> Response | tuple[str, int]:
    slug, px = _slug(org), pishkhan()
    form: dict[str, Any] = {k: request.form.get(k, "").strip() for k in ("url", "secret_env")}
    types = request.form.getlist("types") or ["*"]
    try:
        sub = webhooks.subscribe(px, slug, form["url"], form["secret_env"], types)
    except ValidationError as exc:
        return _page(slug, exc.errors, {**form, "types": types}, 400)
    audit.log(px, "webhook.add", org=slug, subscription=sub.id, url=shown(sub.url),
              types=",".join(sub.types))
    flash("نشانی اضافه شد. رویدادهای تازه به آن فرستاده می‌شود.")
    return redirect(url_for("webhooks_admin.index", org=slug))


@bp.post("/<org>/webhooks/<int:subscription_id>/remove")
@admin_only
def remove(org: str, subscription_id: int) -> Response:
    slug, px = _slug(org), pishkhan()
    if subscription_id in {s.id for s in webhooks.subscriptions(px, slug)}:
        webhooks.unsubscribe(px, subscription_id)
        audit.log(px, "webhook.remove", org=slug, subscription=subscription_id)
        flash("نشانی برداشته شد.")
    return redirect(url_for("webhooks_admin.index", org=slug))


@bp.post("/<org>/webhooks/events/<int:event_id>/retry")
@admin_only
def retry(org: str, event_id: int) -> Response:
    slug, px = _slug(org), pishkhan()
    if event_id in {e.id for e in webhooks.failures(px, slug)}:
        try:
            webhooks.retry(px, event_id)
            audit.log(px, "webhook.retry", org=slug, event=event_id)
            flash("رویداد دوباره فرستاده می‌شود.")
        except NotFound:
            flash("این رویداد دیگر در حالت خطا نیست.")
    return redirect(url_for("webhooks_admin.index", org=slug))

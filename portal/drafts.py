"""Attachments held between the steps of the letter form.

A browser can't put a chosen file back into a form, so when the form comes back with an error,
or goes to the preview, the files that passed the content check are kept in the blob store and
listed in a small JSON blob whose hash sits in the citizen's signed session (a cookie has no
room for five Persian file names). The form shows them with a box to keep or drop each, and
the letter is sent with them. Blobs are content-addressed, so holding a file twice stores it once;
a held file that is never sent is an orphan blob, harmless like any other.
"""
from __future__ import annotations

import json
import re
import secrets
from typing import Any, TypedDict

from flask import request, session
from markupsafe import Markup
from sqlalchemy.exc import OperationalError

from connector.config.organizations import Organization
from connector.domain.errors import NotFound, msg
from connector.letters import usecases as letters
from connector.letters.files import Upload, acceptable
from connector.store.db import store_unavailable
from connector.store.models import Letter

from . import pishkhan

KEY = "held_uploads"


MSG_GONE = msg("attachments.gone")


class Held(TypedDict):
    name: str
    sha256: str
    size: int
    type: str


def held(org: Organization) -> list[Held]:
    draft: dict[str, Any] = session.get(KEY) or {}
    if draft.get("org") != org.slug:
        return []
    try:
        return list(json.loads(pishkhan().blobs.get(str(draft.get("list", "")))))
    except NotFound:
        return []


def kept(org: Organization, form: Any) -> list[Held]:
    """The held files whose "keep" box is still ticked in the posted form."""
    wanted = set(form.getlist("keep"))
    # A held file the retention run has destroyed since counts as gone (the caller says so).
    blobs = pishkhan().blobs
    return [h for h in held(org) if h["sha256"] in wanted and blobs.has(h["sha256"])]


def load(items: list[Held]) -> list[Upload]:
    blobs = pishkhan().blobs
    return [Upload(name=h["name"], content=blobs.get(h["sha256"])) for h in items]


def hold(org: Organization, uploads: list[Upload]) -> list[Held]:
    """Keep the uploads that pass the content check, the archive limits and the virus scan
    (up to the organization's count): nothing unscanned or infected is stored."""
    blobs = pishkhan().blobs
    scanner = pishkhan().scanner(org.slug)
    items: list[Held] = []
    seen: set[str] = set()
    for upload in uploads:
        kind = acceptable(upload, org.attachments, scanner)
        if kind is None or len(items) >= org.attachments.max_files:
            continue
        digest = blobs.put(upload.open())
        if digest in seen:
            continue
        seen.add(digest)
        items.append(Held(name=upload.name[:200], sha256=digest, size=upload.size,
                          type=kind))
    if not items:
        clear()  # nothing to hold: no listing blob either
        return items
    listing = json.dumps(items, ensure_ascii=False).encode()
    session[KEY] = {"org": org.slug, "list": blobs.put(listing)}
    return items


def clear() -> None:
    session.pop(KEY, None)


RESEND = "resend_key"
_RESEND_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def posted_resend_key() -> str | None:
    """The submission key the page was posted with, if it carried one."""
    given = request.form.get(RESEND, "") if request.method == "POST" else ""
    return given if _RESEND_KEY.fullmatch(given) else None


def resend_key(fresh: bool = False) -> str:
    """This submission's key: the one the page was posted with (unless ``fresh``), else a new
    one. A page that sends a letter carries it in a hidden field (:func:`resend_field`), so
    the same page sent again — a double click, a resend after «not stored» — gives the letter
    the first send made instead of a second one (``usecases.submit``)."""
    return (None if fresh else posted_resend_key()) or secrets.token_urlsafe(16)


def sent_already(org: str, mobile: str | None, form: letters.LetterForm) -> Letter | None:
    """The letter this page made when it was sent before, if it was. A database that cannot
    answer now gives None: the send that follows meets it too and says so, keeping the page."""
    key = posted_resend_key()
    if key is None or not mobile:
        return None
    try:
        return letters.sent_before(pishkhan(), org, mobile, form, key)
    except OperationalError as exc:
        if not store_unavailable(exc):
            raise
        return None


def resend_field(key: str | None = None) -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        RESEND, key or resend_key())

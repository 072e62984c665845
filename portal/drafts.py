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
from typing import Any, TypedDict

from flask import session

from connector.config.organizations import Organization
from connector.domain.errors import NotFound, msg
from connector.letters.files import Upload, acceptable

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

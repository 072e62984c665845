"""The acceptance check of resumable delivery, shared by every adapter that delivers in steps:
20 letters submitted and approved while the sandbox commits writes and then never answers; in
the end the sandbox holds each letter exactly once, with exactly its attachments, one
assignment and one number, and every letter is ``registered`` in Pishkhan with that number.

    px, base_url, app = ...   # a Pishkhan whose organization points at a running sandbox
    check_twenty_letters(px, "demo-legacy", base_url, app)
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import requests
from flask import Flask

from connector.delivery import polling
from connector.delivery import push as delivery
from connector.letters import usecases as letters
from connector.letters.files import Upload
from sandbox import letters as oa
from sandbox.state import get_sandbox

MOBILE = "09121234567"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


def set_option(orgs_dir: Path, slug: str, key: str, value: str) -> None:
    """Change one line of an organization file copied for a test (e.g. a short timeout)."""
    path = orgs_dir / f"{slug}.toml"
    text, count = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", path.read_text("utf-8"))
    assert count == 1, f"{key} is not in {path}"
    path.write_text(text, "utf-8")


def submit_and_approve(px, slug: str, count: int) -> list[str]:
    codes = []
    for i in range(count):
        form = letters.LetterForm(
            applicant_type="natural", national_code="0076229645", first_name="مریم",
            last_name="احمدی", subject=f"درخواست شماره {i}", body="متن نامه", service="general")
        # Every other letter has two files, so attachments of a letter are told apart.
        files = [Upload("نامه.pdf", PDF)] + ([Upload("عکس.png", PNG)] if i % 2 else [])
        letter = letters.submit(px, slug, form, files, MOBILE)
        if px.org(slug).approval == "portal":
            letters.approve(px, letter.tracking_code, "operator")
        codes.append(letter.tracking_code)
    return codes


def deliver_until_done(px, codes: list[str], deadline_s: float = 120) -> dict[str, str]:
    """Delivery ticks until every letter is in the system (registered, or pending in the
    controller's inbox), or the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        delivery.run_once(px)
        states = {code: letters.get(px, code).state for code in codes}
        if set(states.values()) <= {"registered", "delivered"} or time.monotonic() > deadline:
            return states


def register_in_inbox(px, slug: str, codes: list[str], base_url: str) -> None:
    """What the controller does in the system's cartable for inbox-approval organizations; the
    poller then brings each number to Pishkhan."""
    for code in codes:
        letter = letters.get(px, code)
        if letter.state == "delivered":
            requests.post(f"{base_url}/api/letters/{letter.external_id}/register", json={},
                          timeout=5).raise_for_status()
    polling.poll_org(px, slug)


def check_twenty_letters(px, slug: str, base_url: str, app: Flask, rate: float = 0.5,
                         assignments: int | None = 1) -> None:
    requests.post(f"{base_url}/api/faults", json={"commit_then_timeout": rate},
                  timeout=5).raise_for_status()
    codes = submit_and_approve(px, slug, 20)
    states = deliver_until_done(px, codes)
    requests.post(f"{base_url}/api/faults", json={}, timeout=5).raise_for_status()
    register_in_inbox(px, slug, codes, base_url)
    states = {code: letters.get(px, code).state for code in codes}
    assert set(states.values()) == {"registered"}, states
    engine = get_sandbox(app).engine
    ambiguous = 0
    for i, code in enumerate(codes):
        found = oa.find_letters(engine, reference=code)
        assert len(found) == 1, f"{code}: {len(found)} letters in the sandbox"
        held = found[0]
        expected = ["نامه.pdf"] + (["عکس.png"] if i % 2 else [])
        assert [a.name for a in held.attachments] == expected, (code, held.attachments)
        if assignments is not None:
            assert len(oa.assignments(engine, held.id)) == assignments
        mine = letters.get(px, code)
        assert held.status == "registered" and held.number
        assert mine.letter_number == held.number and mine.external_id == str(held.id)
        ambiguous += mine.attempts > 1
    # The faults did strike: some letters needed more than one attempt to get through.
    assert ambiguous > 0
    assert len(oa.list_letters(engine)) == 20

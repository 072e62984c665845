"""Two worker processes claim from one PostgreSQL queue: every letter reaches the sandbox once."""
from __future__ import annotations

import multiprocessing

import requests

from connector.bootstrap import bootstrap
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.store.db import upgrade
from tests.conftest import make_settings
from tests.processes import delivery_worker
from tests.sandbox_server import start_sandbox

LETTERS = 30


def test_two_workers_deliver_every_letter_exactly_once(tmp_path, pg_url):
    base, _, stop = start_sandbox(tmp_path / "oa", FAULTS={"latency_ms": 30})
    env = {"PISHKHAN_DATABASE_URL": pg_url, "PISHKHAN_SANDBOX_URL": base}
    try:
        upgrade(pg_url)
        px = bootstrap(make_settings(tmp_path, **env))
        form = letters.LetterForm(national_code="0076229645", first_name="مریم",
                                  last_name="احمدی", subject="درخواست", body="متن نامه",
                                  service="general")
        codes = {letters.submit(px, "demo", form, [Upload("a.pdf", b"%PDF-1.4 x")],
                                "09121234567").tracking_code for _ in range(LETTERS)}
        px.close()

        ctx = multiprocessing.get_context("spawn")
        start, results = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=delivery_worker, args=(str(tmp_path), env, start, results))
                 for _ in range(2)]
        for p in procs:
            p.start()
        start.set()
        claimed = sorted(results.get(timeout=120) for _ in procs)
        for p in procs:
            p.join(30)
            assert p.exitcode == 0

        assert sum(claimed) == LETTERS
        assert claimed[0] > 0, f"one worker did everything: {claimed}"
        px = bootstrap(make_settings(tmp_path, **env))
        for code in codes:
            assert letters.get(px, code).state == "delivered"
        px.close()
        in_oa = requests.get(f"{base}/api/letters", timeout=10).json()["letters"]
        references = [x["reference"] for x in in_oa]
        assert sorted(references) == sorted(codes)  # each exactly once, nothing else
        assert all(len(x["attachments"]) == 1 for x in in_oa)
    finally:
        stop()

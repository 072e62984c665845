"""The crash campaign's short version (bench/chaos.py --quick): letters across the four demo
organizations, three workers on PostgreSQL of which a random one is killed with SIGKILL every
1-3 s, the sandbox answering with latency, errors and commit-then-timeout. Nothing may be lost,
duplicated or left stuck, neither letters nor SMS."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.postgres
def test_no_letter_or_sms_is_lost_or_duplicated_while_workers_are_killed():
    run = subprocess.run([sys.executable, "bench/chaos.py", "--quick"], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    counts = dict(line.split() for line in run.stdout.splitlines()
                  if line.split() and line.split()[0] in (
                      "letters_lost", "letters_duplicated", "letters_stuck", "sms_lost",
                      "sms_duplicated"))
    assert counts == {"letters_lost": "0", "letters_duplicated": "0", "letters_stuck": "0",
                      "sms_lost": "0", "sms_duplicated": "0"}, report
    kills = int(run.stdout.split(" kills")[0].rsplit(" ", 1)[1])
    assert kills >= 5, report  # the campaign really killed workers

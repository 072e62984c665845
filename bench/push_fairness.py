"""Fairness half of bench/push.py: does a fast organization keep its throughput while a second
organization, whose system takes 5 s a call, has letters due at the same time (issue 12:
>= 90 %)?

Per concurrency, one store and two sets of organization files: demo-portal alone, and
demo-portal plus "slow" (the same organization pointed at a sandbox with 5 s latency). Runs of
the two kinds come in pairs, ``repeats`` times, their order alternating (alone first, then
with-slow first, ...), so a drift in the machine's load falls on both sides; the table gives
the median and the spread (min-max) of each side and the ratio of the medians.

Every run stages its own demo-portal letters and times the dispatcher from the first pump until
all of them are delivered. The slow organization keeps a backlog of due letters in the store
(twice its slots, topped up before each with-slow run), so its slots are full throughout; an
alone run's process does not know the slow organization, so that backlog stays untouched, and
closing a with-slow run waits for its 5 s calls in flight, so none overlaps the next run.
"""
from __future__ import annotations

import re
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bench.push_setup import PDF, ROOT, bench_settings
from connector.bootstrap import Pishkhan, bootstrap
from connector.delivery.dispatcher import Dispatcher
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.store.db import upgrade
from connector.store.models import Letter

FAST, SLOW = "demo-portal", "slow"


@dataclass
class Fairness:
    concurrency: int
    letters: int
    alone: list[float]       # letters/s of demo-portal, one per repeat
    with_slow: list[float]

    @property
    def kept(self) -> float:
        return statistics.median(self.with_slow) / statistics.median(self.alone)


def org_dirs(folder: Path, concurrency: int, slow_base: str) -> tuple[Path, Path]:
    """Organization folders: demo-portal at ``concurrency`` alone; and with "slow" beside it."""
    alone, mixed = folder / "orgs-alone", folder / "orgs-with-slow"
    shutil.copytree(ROOT / "config" / "organizations", alone)
    fast = alone / f"{FAST}.toml"
    text = re.sub(r"(?m)^delivery_concurrency = .*$", f"delivery_concurrency = {concurrency}",
                  fast.read_text("utf-8"))
    fast.write_text(text, "utf-8")
    shutil.copytree(alone, mixed)
    slow = text.replace(f'slug = "{FAST}"', f'slug = "{SLOW}"').replace(
        "${PISHKHAN_SANDBOX_URL}", slow_base)
    (mixed / f"{SLOW}.toml").write_text(slow, "utf-8")
    return alone, mixed


def count(px: Pishkhan, slug: str, states: tuple[str, ...]) -> int:
    with px.sessions() as s:
        return s.scalar(select(func.count()).select_from(Letter).where(
            Letter.org == slug, Letter.state.in_(states))) or 0


def stage(px: Pishkhan, slug: str, n: int) -> None:
    form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                              first_name="مریم", last_name="احمدی", subject="نامه",
                              body="متن", service="general")
    for _ in range(n):
        code = letters.submit(px, slug, form, [Upload("نامه.pdf", PDF)],
                              "09121234567").tracking_code
        letters.approve(px, code, "bench")


def one_run(concurrency: int, n: int, base: str, orgs: Path, folder: Path, store_url: str,
            with_slow: bool) -> float:
    """Letters/s of demo-portal for ``n`` letters through a fresh worker's dispatcher."""
    px = bootstrap(bench_settings(folder, base, store_url, orgs))
    dispatcher = Dispatcher(px)
    try:
        stage(px, FAST, n)
        px.adapter(FAST).ping()  # the WSDL and the connection outside the timing
        if with_slow:
            stage(px, SLOW, max(0, 2 * concurrency - count(px, SLOW, ("approved",))))
            px.adapter(SLOW).structure()  # its WSDL (served without the latency)
        target = count(px, FAST, ("delivered", "registered")) + n
        started = time.perf_counter()
        dispatcher.pump()
        while count(px, FAST, ("delivered", "registered")) < target:
            time.sleep(0.02)
            dispatcher.pump()  # the tick, as often as the bench looks
        return n / (time.perf_counter() - started)
    finally:
        dispatcher.close()  # waits for the slow calls in flight: none overlaps the next run
        px.close()


def measure(concurrency: int, n: int, repeats: int, base: str, slow_base: str, folder: Path,
            store_url: str) -> Fairness:
    """``repeats`` pairs of runs (alone, with slow), their order alternating."""
    alone_orgs, mixed_orgs = org_dirs(folder, concurrency, slow_base)
    upgrade(store_url)
    result = Fairness(concurrency, n, [], [])
    for r in range(repeats):
        for with_slow in ((False, True) if r % 2 == 0 else (True, False)):
            orgs = mixed_orgs if with_slow else alone_orgs
            rate = one_run(concurrency, n, base, orgs, folder, store_url, with_slow)
            (result.with_slow if with_slow else result.alone).append(rate)
    return result


def print_table(rows: list[Fairness], latency_ms: float, repeats: int, load_before: str,
                load_after: str) -> None:
    print(f"\none organization's system at 5 s a call: demo-portal's letters/s through the "
          f"dispatcher, alone (baseline) and while the slow one has letters due; medians of "
          f"{repeats} interleaved pairs, spread min-max; load average {load_before} before, "
          f"{load_after} after")
    print(f"{'workers':>8}{'letters':>8}{'bound':>8}{'alone':>8}{'spread':>14}"
          f"{'with slow':>11}{'spread':>14}{'kept':>7}")
    for row in rows:
        bound = row.concurrency / (latency_ms / 1000)
        spread_alone = f"{min(row.alone):.1f}-{max(row.alone):.1f}"
        spread_slow = f"{min(row.with_slow):.1f}-{max(row.with_slow):.1f}"
        print(f"{row.concurrency:>8}{row.letters:>8}{bound:>8.1f}"
              f"{statistics.median(row.alone):>8.1f}{spread_alone:>14}"
              f"{statistics.median(row.with_slow):>11.1f}{spread_slow:>14}{row.kept:>7.0%}",
              flush=True)

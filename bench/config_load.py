"""What declared configuration costs at start-up: reading the settings and the organization
files through their pydantic models, against the bare parsing of the same input (python-dotenv
for the environment, tomllib for the files) measured in the same run; and rendering one
message from the catalog against a bare str.format of the same sentence.

    .venv/bin/python bench/config_load.py [--rounds 200]

Prints a table: milliseconds per round (median of the rounds), and the ratio to the baseline.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dotenv import dotenv_values  # noqa: E402

import messages  # noqa: E402
from connector.config.organizations import load_organizations  # noqa: E402
from connector.config.orgfile import OrganizationFile  # noqa: E402
from connector.config.settings import load_settings  # noqa: E402
from connector.domain.errors import msg  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ORGS = ROOT / "config" / "organizations"
EXAMPLE_ENV = ROOT / "config" / "pishkhan.example.env"
ENV = {"PISHKHAN_SANDBOX_URL": "http://127.0.0.1:8001", "PISHKHAN_VAR_DIR": "/tmp/bench-var"}


def median_ms(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds
    files = sorted(ORGS.glob("*.toml"))
    texts = [p.read_text(encoding="utf-8") for p in files]
    tmp = Path(tempfile.mkdtemp())
    environ = {"PISHKHAN_ENV_FILE": str(EXAMPLE_ENV), "PISHKHAN_VAR_DIR": str(tmp),
               "PISHKHAN_SECRET_KEY": "bench"}
    sentence = messages.FA["otp.wrong"]
    rows = [
        ("settings: dotenv only (baseline)", lambda: dotenv_values(EXAMPLE_ENV), None),
        ("settings: load_settings (pydantic-settings)", lambda: load_settings(environ),
         "settings: dotenv only (baseline)"),
        (f"{len(files)} org files: tomllib only (baseline)",
         lambda: [tomllib.loads(t) for t in texts], None),
        (f"{len(files)} org files: tomllib + OrganizationFile models",
         lambda: [OrganizationFile.model_validate(tomllib.loads(t)) for t in texts],
         f"{len(files)} org files: tomllib only (baseline)"),
        (f"{len(files)} org files: load_organizations (all checks)",
         lambda: load_organizations(ORGS, ENV), f"{len(files)} org files: tomllib only (baseline)"),
        ("one message: str.format (baseline)", lambda: sentence.format(left="۳"), None),
        ("one message: messages.render", lambda: messages.render(msg("otp.wrong", left=3)),
         "one message: str.format (baseline)"),
    ]
    measured: dict[str, float] = {}
    print(f"{'what':58} {'ms/round':>10} {'× baseline':>11}")
    for name, fn, baseline in rows:
        fn()  # warm up
        measured[name] = median_ms(fn, rounds)
        ratio = f"{measured[name] / measured[baseline]:.1f}" if baseline else "1.0"
        print(f"{name:58} {measured[name]:10.3f} {ratio:>11}")


if __name__ == "__main__":
    main()

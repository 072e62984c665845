"""What checking an upload costs before it is stored: the content sniff alone (the baseline,
what was done before), plus the archive limits for office files, plus a scan by a real clamd
(started here with an EICAR-only signature database, as in the tests).

    .venv/bin/python bench/upload_checks.py [--repeat 5]

Prints one row per file: the median time over the repeats, in milliseconds, of the sniff
alone, of the whole check with the no-op scanner (sniff, archive limits, the sha256 the scan
memory keys on) and of the whole check with clamd.
"""
from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.clamav import ClamdScanner  # noqa: E402
from connector.letters import files  # noqa: E402
from connector.letters.scanning import Scanning  # noqa: E402
from connector.plugins.ports import NoScanner  # noqa: E402
from tests.clamd import pdf_with, running_clamd  # noqa: E402
from tests.unit.test_archive_limits import bomb_docx, real_docx  # noqa: E402


def xlsx(rows: int) -> bytes:
    rnd = random.Random(3)
    sheet = "".join(f"<row><c><v>{rnd.randint(0, 10**6)}</v></c><c t=\"s\"><v>{i % 50}</v></c>"
                    "</row>" for i in range(rows))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return buf.getvalue()


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    samples = {
        "pdf 5 MB": pdf_with(random.Random(1).randbytes(5 * 1024 * 1024)),
        "docx (Word-like XML)": real_docx(2000),
        "xlsx 200k rows": xlsx(200_000),
        "docx bomb -> 300 MB": bomb_docx(300),
    }
    limits = files.Limits(max_mb=50)
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp, running_clamd(Path(tmp)) as sock:
        clamd = ClamdScanner(socket_path=str(sock))
        print(f"{'file':<26}{'size KB':>9}{'sniff (baseline)':>18}{'check, no scan':>16}"
              f"{'check + clamd':>15}  verdict")
        for name, content in samples.items():
            upload = [files.Upload(name, content)]
            sniff = median_ms(lambda c=content: files.sniff(c), args.repeat)
            archive = median_ms(lambda u=upload: files.check(u, limits, Scanning(NoScanner())),
                                args.repeat)
            # A fresh Scanning each time: its memory of verdicts would hide clamd's cost.
            scanned = median_ms(lambda u=upload: files.check(u, limits, Scanning(clamd)),
                                args.repeat)
            _, errors = files.check(upload, limits, Scanning(clamd))
            print(f"{name:<26}{len(content) // 1024:>9}{sniff:>18.1f}{archive:>16.1f}"
                  f"{scanned:>15.1f}  {'refused' if errors else 'accepted'}")


if __name__ == "__main__":
    main()

"""Peak memory of a web worker receiving 1 MB and 50 MB attachments.

    .venv/bin/python bench/upload_memory.py

The portal runs under gunicorn as ``pishkhan web`` runs it but with one worker (so its peak
is one process's), the demo organization allowing 50 MB files (the most it may). Three
letters with a 1 MB PDF, then three with a 50 MB PDF; after each size the worker's peak resident memory (VmHWM)
is read, and its growth over the warmed-up worker is reported. The baseline is a handler that
reads each upload whole (as intake did before), measured the same way in the same run.
Target (issue 12): the product's peak the same for 1 MB and 50 MB (within 5 MB).
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from intake import MOBILE, free_port, serve  # noqa: E402  (bench/intake.py)

from connector.config.settings import load_settings  # noqa: E402
from connector.domain.clock import now  # noqa: E402
from connector.people.credentials import digest, new_token  # noqa: E402
from connector.store.db import make_engine, make_session_factory, transaction, upgrade  # noqa: E402
from connector.store.models import ApiToken  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SIZES_MB = (1, 50)


def peak_kb(master: int) -> int:
    """VmHWM of the gunicorn master's (one) worker."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    worker = int(children[0])
    status = Path(f"/proc/{worker}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1))


def post(port: int, token: str, size: int) -> None:
    boundary = "benchboundary"
    head = (f"--{boundary}\r\n" + "".join(
        f'Content-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n--{boundary}\r\n'
        for k, v in {"applicant_type": "natural", "national_code": "0076229645",
                     "first_name": "علی", "last_name": "کریمی", "subject": "حافظه",
                     "body": "متن", "service": "street-repair"}.items())
            + 'Content-Disposition: form-data; name="attachments"; filename="big.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n").encode()
    pdf = b"%PDF-1.4\n" + os.urandom(size - 16) + b"\n%%EOF\n"
    body = head + pdf + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("POST", "/api/v1/orgs/demo/letters", body=body,
                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                          "Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    answer = resp.read()
    conn.close()
    if resp.status != 201:
        raise SystemExit(f"upload of {size} bytes refused: {resp.status} {answer[:300]!r}")


def measure(app: str, folder: Path, env: dict[str, str], settings, token: str) -> list[float]:
    port = free_port()
    server = serve(app, env, settings, port, folder / "server.log")
    try:
        post(port, token, 64 * 1024)  # warm: imports, first connection, blob folders
        post(port, token, 64 * 1024)
        base = peak_kb(server.pid)
        growth = []
        for mb in SIZES_MB:
            for _ in range(3):
                post(port, token, mb * 1024 * 1024)
            growth.append((peak_kb(server.pid) - base) / 1024)
        return growth
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        orgs = folder / "orgs"
        shutil.copytree(ROOT / "config" / "organizations", orgs)
        demo = orgs / "demo.toml"
        demo.write_text(re.sub(r"(?m)^max_mb = .*$", "max_mb = 50", demo.read_text("utf-8")),
                        "utf-8")
        url = f"sqlite:///{folder / 'store.db'}"
        env = {**os.environ, "PISHKHAN_VAR_DIR": str(folder / "var"),
               "PISHKHAN_ORGS_DIR": str(orgs), "PISHKHAN_SECRET_KEY": "bench",
               "PISHKHAN_DATABASE_URL": url, "PISHKHAN_ENV_FILE": str(folder / "none.env"),
               "PISHKHAN_LOG_LEVEL": "WARNING", "PISHKHAN_WEB_WORKERS": "1",
               "BARE_FILES": str(folder / "whole")}
        settings = load_settings({k: v for k, v in env.items() if k.startswith("PISHKHAN_")})
        upgrade(url)
        token = new_token()
        engine = make_engine(url)
        with transaction(make_session_factory(engine)) as s:
            from datetime import timedelta
            s.add(ApiToken(token_hash=digest(token, "bench"), mobile=MOBILE,
                           expires_at=now() + timedelta(days=1)))
        engine.dispose()
        started = time.perf_counter()
        product = measure("bench.intake_app:product()", folder, env, settings, token)
        whole = measure("bench.intake_app:whole()", folder, env, settings, token)
    print(f"\nupload memory: growth of the web worker's peak RSS over a warmed-up worker, "
          f"3 uploads per size ({time.perf_counter() - started:.0f} s, load average "
          f"{load:.2f} before, {os.getloadavg()[0]:.2f} after, {os.cpu_count()} CPUs)")
    print(f"{'file':>7} | {'product MB':>11} | {'whole-read baseline MB':>23}")
    for mb, p, w in zip(SIZES_MB, product, whole):
        print(f"{mb:>4} MB | {p:>11.1f} | {w:>23.1f}")
    print(f"upload memory: product 50 MB - 1 MB = {product[1] - product[0]:.1f} MB "
          f"(target <= 5), baseline {whole[1] - whole[0]:.1f} MB")


if __name__ == "__main__":
    main()

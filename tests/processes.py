"""Code that tests run in separate processes (multiprocessing's spawn needs it importable)."""
from __future__ import annotations

from pathlib import Path


def delivery_worker(tmp_path: str, env: dict[str, str], start, results) -> None:
    """A worker process: wait for the start signal, deliver until nothing is left, report how
    many letters it claimed itself."""
    from connector.bootstrap import bootstrap
    from connector.delivery import push as delivery
    from tests.conftest import make_settings

    px = bootstrap(make_settings(Path(tmp_path), **env))
    start.wait(30)
    claimed, idle = 0, 0
    while idle < 3:
        n = delivery.run_once(px, limit=4)
        claimed += n
        idle = idle + 1 if n == 0 else 0
    results.put(claimed)
    px.close()

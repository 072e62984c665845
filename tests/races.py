"""Firing many requests at once: a Flask test client per thread against one PostgreSQL-backed
app, each from its own client address (so the per-address limits of Flask-Limiter stay out of
the way and the core's own limits are what is tested)."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
PARALLEL = 32


def at_once(n: int, action: Callable[[int], T]) -> list[T]:
    """Run ``action(i)`` in ``n`` threads released together; results in order of ``i``."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = action(i)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def client_from(app: Any, i: int) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.0.{i // 250}.{i % 250 + 1}"
    return client

"""The retention run deletes a blob in two steps (claim, purge) so that workers sweeping at
once destroy each file once, and a file put again meanwhile survives."""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from connector.domain.clock import now
from connector.letters.blobs import BlobStore


def _age(store: BlobStore, digest: str, hours: float) -> None:
    old = time.time() - hours * 3600
    os.utime(store._path(digest), (old, old))


def test_one_of_many_claims_wins(tmp_path):
    store = BlobStore(tmp_path)
    digest = store.put(b"held file")
    _age(store, digest, 48)
    with ThreadPoolExecutor(16) as pool:
        wins = list(pool.map(lambda _: store.claim(digest, now() - timedelta(hours=24)),
                             range(64)))
    assert wins.count(True) == 1
    assert not store.has(digest) and [b.digest for b in store.all()] == []
    assert store.set_aside(min_age=0) == [digest]  # claimed, not yet purged
    store.purge(digest)
    assert store.set_aside(min_age=0) == []


def test_a_blob_put_again_is_not_claimed(tmp_path):
    store = BlobStore(tmp_path)
    digest = store.put(b"held file")
    _age(store, digest, 48)
    before = now() - timedelta(hours=24)
    assert store.all().__next__().touched_at < before
    store.put(b"held file")  # the citizen sends the held file now: its age starts again
    assert store.claim(digest, before) is False and store.has(digest)


def test_times_are_naive_utc(tmp_path):
    store = BlobStore(tmp_path)
    store.put(b"x")
    touched = next(store.all()).touched_at
    assert touched.tzinfo is None and abs(touched - now()) < timedelta(minutes=1)
    assert isinstance(touched, datetime)

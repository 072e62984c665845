import hashlib

import pytest

from connector.domain.errors import NotFound
from connector.letters.blobs import BlobStore


def test_put_is_content_addressed_and_idempotent(tmp_path):
    store = BlobStore(tmp_path)
    digest = store.put(b"%PDF-1.4 hello")
    assert digest == hashlib.sha256(b"%PDF-1.4 hello").hexdigest()
    assert store.put(b"%PDF-1.4 hello") == digest
    assert store.get(digest) == b"%PDF-1.4 hello"
    assert not list(tmp_path.rglob(".tmp-*"))  # no temp files left behind


def test_damaged_or_unknown_blobs_are_not_served(tmp_path):
    store = BlobStore(tmp_path)
    digest = store.put(b"abc")
    path = next(p for p in tmp_path.rglob(digest))
    path.write_bytes(b"abd")
    with pytest.raises(NotFound):
        store.get(digest)
    with pytest.raises(NotFound):
        store.get("../../etc/passwd")

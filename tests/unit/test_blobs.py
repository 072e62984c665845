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


def test_put_soon_knows_the_digest_at_once_and_is_stored_once_waited_for(tmp_path):
    store = BlobStore(tmp_path)
    pending = store.put_soon(b"%PDF-1.4 later")
    assert pending.digest == hashlib.sha256(b"%PDF-1.4 later").hexdigest()
    assert pending.wait() == pending.digest
    assert store.get(pending.digest) == b"%PDF-1.4 later"
    again = store.put_soon(b"%PDF-1.4 later")  # stored already: nothing left to wait for
    assert again.settling is None and again.wait() == pending.digest
    assert not list(tmp_path.rglob(".tmp-*"))


def test_a_blob_that_cannot_be_stored_raises_when_waited_for_and_leaves_nothing(tmp_path):
    content = b"%PDF-1.4 nowhere to go"
    digest = hashlib.sha256(content).hexdigest()
    store = BlobStore(tmp_path)
    (tmp_path / digest[:2]).write_bytes(b"")  # a file where its folder must be
    pending = store.put_soon(content)
    with pytest.raises(OSError):
        pending.wait()
    assert not list(tmp_path.rglob(".tmp-*")) and not store.has(digest)

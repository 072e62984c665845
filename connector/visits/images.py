"""Where visitors' photos and scanned ID cards are kept: a content-addressed store of their own
(var/visitor-images), apart from the letters' attachments — the retention run deletes blobs of
the attachment store that no letter refers to after ``drafts_hours``, which would take a
returning visitor's photo with them."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from connector.letters.blobs import BlobStore

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan


@lru_cache(maxsize=16)
def _store(root: Path) -> BlobStore:
    return BlobStore(root)


def store(px: Pishkhan) -> BlobStore:
    return _store(px.settings.var_dir / "visitor-images")


def put(px: Pishkhan, content: bytes) -> str:
    return store(px).put(content)


def get(px: Pishkhan, digest: str) -> bytes:
    """Raises NotFound for an unknown or damaged image."""
    return store(px).get(digest)


MAX_LOGO = 512 * 1024


def org_logo(org_file: Path) -> bytes | None:
    """The organization's logo: a PNG beside its file (``demo.toml`` → ``demo.png``), shown on
    the live board and printed on passes; None when there is none (or it is too large)."""
    path = org_file.with_suffix(".png")
    try:
        if path.stat().st_size > MAX_LOGO:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return data if data.startswith(b"\x89PNG") else None

"""Content-addressed attachment store. A blob's name is its sha256, so the same file uploaded
twice is stored once, and a write is atomic: temp file, fsync, rename, fsync of the folder.
Content is copied in chunks and hashed on the way, so no file is ever held whole in memory."""
from __future__ import annotations

import hashlib
import io
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from connector.domain.errors import NotFound

CHUNK = 1024 * 1024
_DIGEST = re.compile(r"[0-9a-f]{64}")


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOL_LOCK = threading.Lock()


@dataclass(frozen=True)
class Pending:
    """A blob written whose waits for the disk may still be running (:meth:`BlobStore.put_soon`)."""
    digest: str
    settling: Future[str] | None

    def wait(self) -> str:
        """The digest, once the blob is durable; raises what storing it raised."""
        if self.settling is not None:
            self.settling.result()
        return self.digest


@dataclass(frozen=True)
class StoredBlob:
    digest: str
    size: int
    touched_at: datetime  # naive UTC, like every time in the store


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._incoming: Path | None = None

    def _incoming_dir(self) -> Path:
        # Made once per process: a mkdir per upload is a system call and an exception each.
        if self._incoming is None:
            incoming = self.root / ".incoming"
            incoming.mkdir(parents=True, exist_ok=True)
            self._incoming = incoming
        return self._incoming

    def _path(self, digest: str) -> Path:
        if not _DIGEST.fullmatch(digest):
            raise NotFound(digest)
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, content: bytes | BinaryIO) -> str:
        """Store bytes, or a readable stream from its current position; returns the sha256."""
        digest, staged = self._write(content)
        if staged is not None:
            self._settle(digest, *staged)
        return digest

    def put_soon(self, content: bytes | BinaryIO) -> Pending:
        """Like :meth:`put`, but only the writing happens now: the digest is known at once,
        while the waits for the disk (fsync of the file, rename, fsync of the folder) run on a
        helper thread, so the caller can do its own work meanwhile. Nothing may refer to the
        blob durably (commit) before :meth:`Pending.wait` has returned."""
        digest, staged = self._write(content)
        if staged is None:
            return Pending(digest, None)
        return Pending(digest, self._helpers().submit(self._settle, digest, *staged))

    def _helpers(self) -> ThreadPoolExecutor:
        # Per process: a pool's threads do not survive a fork.
        with _POOL_LOCK:
            pool = _POOLS.get(os.getpid())
            if pool is None:
                pool = _POOLS[os.getpid()] = ThreadPoolExecutor(
                    max_workers=8, thread_name_prefix="blob-sync")
            return pool

    def _write(self, content: bytes | BinaryIO) -> tuple[str, tuple[str, int] | None]:
        """Copy and hash into a temporary file; (digest, None) when the blob is stored already,
        else (digest, (temporary path, its open descriptor)) for :meth:`_settle`."""
        if isinstance(content, bytes):
            content = io.BytesIO(content)
        # A random name opened exclusively, as mkstemp would, without its name generator.
        tmp = str(self._incoming_dir() / f".tmp-{uuid.uuid4().hex}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            hasher = hashlib.sha256()
            while chunk := content.read(CHUNK):
                hasher.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
            digest = hasher.hexdigest()
            path = self._path(digest)
            if path.exists():
                # A blob's age says when it was last wanted: the retention run destroys
                # unreferenced blobs by age, so one put again now (a held file being sent)
                # is not taken for old.
                try:
                    os.utime(path)
                    os.close(fd)
                    Path(tmp).unlink()
                    # Another request may have renamed it in and not yet synced its folder:
                    # a letter must not commit on an entry a crash could still take away.
                    _fsync_dir(path.parent)
                    return digest, None
                except FileNotFoundError:
                    pass  # destroyed just now: write it again
        except BaseException:
            os.close(fd)
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest, (tmp, fd)

    def _settle(self, digest: str, tmp: str, fd: int) -> str:
        """Make a written blob durable under its name: fsync, rename, fsync of the folder."""
        path = self._path(digest)
        try:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.replace(tmp, path)
            except FileNotFoundError:  # the first blob of this folder
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, path)
                # The new folders' own entries must survive a crash too.
                _fsync_dir(path.parent.parent)
                _fsync_dir(path.parent.parent.parent)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return digest

    def get(self, digest: str) -> bytes:
        path = self._path(digest)
        if not path.exists():
            raise NotFound(digest)
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise NotFound(f"{digest} is damaged on disk")
        return data

    def has(self, digest: str) -> bool:
        try:
            return self._path(digest).exists()
        except NotFound:
            return False

    # Destruction in two steps, so that several workers sweeping at once each destroy (and
    # record) a file only once, and a file put again meanwhile survives: ``claim`` renames the
    # blob aside atomically (only one caller wins), ``purge`` deletes what was claimed.
    GONE = ".gone-"

    def claim(self, digest: str, untouched_since: datetime | None = None) -> bool:
        """Set a blob aside for deletion; False when it is not there, another caller claimed
        it, or it was written or put again after ``untouched_since`` (someone wants it)."""
        path = self._path(digest)
        aside = path.with_name(self.GONE + digest)
        try:
            if untouched_since is not None and _touched(path) >= untouched_since:
                return False
            os.replace(path, aside)  # atomic: of several callers, one finds the file
        except FileNotFoundError:
            return False
        # put() may have refreshed it between our look and the rename: give it back.
        if untouched_since is not None and _touched(aside) >= untouched_since:
            os.replace(aside, path)
            return False
        return True

    def purge(self, digest: str) -> None:
        self._path(digest).with_name(self.GONE + digest).unlink(missing_ok=True)

    def set_aside(self, min_age: float = 3600.0) -> list[str]:
        """Blobs claimed at least ``min_age`` seconds ago (by the file system's clock) and never
        purged: left by a run that stopped midway, not by one still running."""
        found = []
        for path in self.root.glob(f"??/??/{self.GONE}*") if self.root.is_dir() else []:
            try:
                if time.time() - path.stat().st_ctime >= min_age:
                    found.append(path.name[len(self.GONE):])
            except FileNotFoundError:
                continue
        return found

    def all(self) -> Iterator[StoredBlob]:
        """Every blob with its size and the last time it was written or put again."""
        if not self.root.is_dir():
            return
        for path in self.root.glob("??/??/*"):
            if path.name.startswith(".") or len(path.name) != 64:
                continue
            try:
                yield StoredBlob(path.name, path.stat().st_size, _touched(path))
            except FileNotFoundError:
                continue


def _touched(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).replace(tzinfo=None)


def _fsync_dir(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)

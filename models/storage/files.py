"""Blob contents: a `FileStore` interface and `LocalFileStore`, files on a local disk.

Keys are relative, slash-separated names made of `[A-Za-z0-9_-]` segments (the blob service uses
`{app_id}/{uid}`), so a key can never leave the store's root. Writes are atomic: bytes go to a
temporary file that is moved into place with `os.replace` only on `commit()`; `abort()` removes
it. A reader therefore sees either no file or the whole file.

An S3-compatible store fits the same interface: `open_writer` becomes a multipart upload,
`commit` completes it, `abort` aborts it, and `locate` answers a presigned GET URL in
`StoredFile.url` instead of a local path.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger(__name__)

_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
TEMP_DIR = ".tmp"
# Chunks are gathered up to this size before one write is handed to a worker thread.
WRITE_BUFFER = 256 * 1024


def check_key(key: str) -> list[str]:
    """The key's segments, or ValueError for anything that is not a safe relative name."""
    if not isinstance(key, str):
        raise ValueError("file key must be a string")
    parts = key.split("/")
    if not 1 <= len(parts) <= 4 or not all(_SEGMENT_RE.match(p) for p in parts):
        raise ValueError("invalid file key")
    return parts


@dataclass(frozen=True)
class StoredFile:
    """Where stored bytes can be read: a local `path` the transport streams, or a `url` (for
    stores that serve the bytes themselves) the client is redirected to."""

    size: int
    path: Path | None = None
    url: str | None = None


class FileWriter(ABC):
    """One pending write. Exactly one of `commit()` / `abort()` ends it."""

    size: int = 0

    @abstractmethod
    async def write(self, chunk: bytes) -> None: ...

    @abstractmethod
    async def commit(self) -> int:
        """Makes the bytes visible under the key (replacing older ones); answers the size."""

    @abstractmethod
    async def abort(self) -> None:
        """Drops everything written so far. Safe to call more than once, and after commit."""


class FileStore(ABC):
    @abstractmethod
    async def open_writer(self, key: str) -> FileWriter: ...

    @abstractmethod
    async def locate(self, key: str, filename: str = "", content_type: str = "") -> StoredFile | None:
        """Where to read the file from, or None when nothing is stored under the key.
        `filename` / `content_type` are hints for stores that sign download URLs."""

    @abstractmethod
    async def delete(self, key: str) -> bool: ...

    async def sweep_temp(self, older_than_seconds: float) -> int:
        """Removes partial uploads left behind by a crashed process; answers how many."""
        return 0


class LocalFileStore(FileStore):
    """Files under `root` (`root/{key}`), temporary files under `root/.tmp`."""

    def __init__(self, root: Path) -> None:
        self._root = Path(root)

    @property
    def root(self) -> Path:
        return self._root

    def path_for(self, key: str) -> Path:
        return self._root.joinpath(*check_key(key))

    async def open_writer(self, key: str) -> FileWriter:
        final = self.path_for(key)
        temp_dir = self._root / TEMP_DIR
        temp = temp_dir / f"{int(time.time())}-{secrets.token_hex(8)}.part"
        handle = await asyncio.to_thread(_open_temp, temp_dir, temp)
        return _LocalWriter(handle, temp, final)

    async def locate(self, key: str, filename: str = "", content_type: str = "") -> StoredFile | None:
        path = self.path_for(key)
        try:
            stat = await asyncio.to_thread(path.stat)
        except FileNotFoundError:
            return None
        return StoredFile(size=stat.st_size, path=path)

    async def delete(self, key: str) -> bool:
        path = self.path_for(key)
        try:
            await asyncio.to_thread(path.unlink)
            return True
        except FileNotFoundError:
            return False

    async def sweep_temp(self, older_than_seconds: float) -> int:
        """Removes temporary files left behind by a crashed process; answers how many."""
        return await asyncio.to_thread(_sweep, self._root / TEMP_DIR, older_than_seconds)


def _open_temp(temp_dir: Path, temp: Path) -> BinaryIO:
    temp_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


def _finish(handle: BinaryIO, buffered: bytes, temp: Path, final: Path) -> None:
    if buffered:
        handle.write(buffered)
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, final)


def _discard(handle: BinaryIO, temp: Path) -> None:
    try:
        handle.close()
    finally:
        try:
            temp.unlink()
        except FileNotFoundError:
            pass


def _sweep(temp_dir: Path, older_than_seconds: float) -> int:
    if not temp_dir.is_dir():
        return 0
    limit = time.time() - older_than_seconds
    removed = 0
    for entry in temp_dir.iterdir():
        try:
            if entry.is_file() and entry.stat().st_mtime < limit:
                entry.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


class _LocalWriter(FileWriter):
    def __init__(self, handle: BinaryIO, temp: Path, final: Path) -> None:
        self._handle = handle
        self._temp = temp
        self._final = final
        self._buffer = bytearray()
        self._done = False
        self.size = 0

    async def write(self, chunk: bytes) -> None:
        if self._done:
            raise RuntimeError("writer is closed")
        self._buffer += chunk
        self.size += len(chunk)
        if len(self._buffer) >= WRITE_BUFFER:
            data, self._buffer = bytes(self._buffer), bytearray()
            await asyncio.to_thread(self._handle.write, data)

    async def commit(self) -> int:
        if self._done:
            raise RuntimeError("writer is closed")
        self._done = True
        data, self._buffer = bytes(self._buffer), bytearray()
        try:
            await asyncio.to_thread(_finish, self._handle, data, self._temp, self._final)
        except BaseException:
            await asyncio.to_thread(_discard, self._handle, self._temp)
            raise
        return self.size

    async def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._buffer = bytearray()
        try:
            await asyncio.to_thread(_discard, self._handle, self._temp)
        except OSError:
            logger.warning("could not remove temporary file %s", self._temp, exc_info=True)

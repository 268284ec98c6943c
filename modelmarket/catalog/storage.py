"""Where model files live: the Django storage named by `settings.MODEL_FILE_STORAGE` (local filesystem under
MEDIA_ROOT/models by default, S3-compatible through django-storages when S3_BUCKET is set).

Uploads are written under `tmp/` first and moved to their final key when their row is created, so a crash leaves
at most an object under `tmp/` (swept by a periodic job), never an unreferenced object among the real files.
Nothing here reads a whole file into memory."""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from modelmarket.core.exceptions import PayloadTooLarge

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
TEMPORARY_PREFIX = "tmp/"


@functools.cache
def model_file_storage() -> Storage:
    config: dict[str, Any] = settings.MODEL_FILE_STORAGE
    backend = import_string(config["BACKEND"])
    options = dict(config.get("OPTIONS", {}))
    if issubclass(backend, FileSystemStorage) and "location" not in options:
        options["location"] = str(Path(settings.MEDIA_ROOT) / "models")
        options.setdefault("base_url", None)
    storage: Storage = backend(**options)
    return storage


def _forget_storage(*, setting: str, **kwargs: Any) -> None:
    if setting in ("MODEL_FILE_STORAGE", "MEDIA_ROOT"):
        model_file_storage.cache_clear()


setting_changed.connect(_forget_storage)


def uses_signed_urls() -> bool:
    """Whether downloads redirect to the storage (S3) instead of streaming through us."""
    from storages.backends.s3 import S3Storage

    return isinstance(model_file_storage(), S3Storage)


# --- Keys ---------------------------------------------------------------------------------------------------------
def temporary_key() -> str:
    return f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}"


def final_key(*, model_id: int, version_id: int) -> str:
    """A fresh key; random so that it never collides and never carries the user's file name."""
    return f"files/{model_id}/{version_id}/{uuid.uuid4().hex}"


# --- Writing ------------------------------------------------------------------------------------------------------
class HashingReader(io.RawIOBase):
    """A read-only, non-seekable stream over `chunks` that hashes and counts what passes through it and stops with
    PayloadTooLarge as soon as more than `max_bytes` went by."""

    def __init__(self, chunks: Iterable[bytes], *, max_bytes: int) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self.size += len(chunk)
            if self.size > self.max_bytes:
                raise PayloadTooLarge(
                    f"The file is larger than the {self.max_bytes} bytes allowed.",
                    code="file_too_large",
                    details={"max_bytes": self.max_bytes},
                )
            self._hash.update(chunk)
            self._pending = bytes(chunk)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


@dataclass(frozen=True)
class StoredObject:
    key: str
    size_bytes: int
    sha256: str


def store_stream(key: str, chunks: Iterable[bytes], *, max_bytes: int) -> StoredObject:
    """Write `chunks` to `key`. On any failure the caller deletes `key` (a partial object may exist)."""
    reader = HashingReader(chunks, max_bytes=max_bytes)
    saved = model_file_storage().save(key, File(io.BufferedReader(reader, CHUNK_BYTES), name=key))
    if saved != key:  # keys are random, so the storage never needs to rename one; if it did, keep nothing
        delete_quietly(saved)
        raise RuntimeError(f"storage renamed {key} to {saved}")
    return StoredObject(key=key, size_bytes=reader.size, sha256=reader.sha256)


def move(source: str, destination: str) -> None:
    """Move an object within the storage: a rename on disk, a server-side copy on S3 (no bytes pass through us)."""
    storage = model_file_storage()
    if isinstance(storage, FileSystemStorage):
        target = Path(storage.path(destination))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(storage.path(source), target)
        return
    from storages.backends.s3 import S3Storage

    if isinstance(storage, S3Storage):
        bucket = storage.bucket
        source_key = storage._normalize_name(source)
        # The managed copy switches to multipart copy for objects past 5 GB.
        bucket.copy({"Bucket": bucket.name, "Key": source_key}, storage._normalize_name(destination))
        storage.delete(source)
        return
    with storage.open(source, "rb") as handle:
        storage.save(destination, handle)
    storage.delete(source)


def delete(key: str) -> None:
    model_file_storage().delete(key)


def delete_quietly(key: str) -> None:
    """Best-effort removal while cleaning up after a failure: never masks the original error."""
    try:
        model_file_storage().delete(key)
    except Exception:
        logger.exception("could not delete stored object %s", key)


def exists(key: str) -> bool:
    return model_file_storage().exists(key)


# --- Reading ------------------------------------------------------------------------------------------------------
def open_for_reading(key: str) -> IO[bytes]:
    """An open binary handle; the caller closes it. FileNotFoundError when the object is missing."""
    handle: IO[bytes] = model_file_storage().open(key, "rb")
    return handle


def local_path(key: str) -> str | None:
    """The object's path on this machine's disk, when the storage has one."""
    try:
        return model_file_storage().path(key)
    except NotImplementedError:
        return None


def copy_to(key: str, destination: IO[bytes]) -> int:
    """Copy an object into an open file in chunks; returns the byte count."""
    total = 0
    with open_for_reading(key) as source:
        while chunk := source.read(CHUNK_BYTES):
            destination.write(chunk)
            total += len(chunk)
    return total


def signed_url(key: str, *, download_name: str, content_type: str, seconds: int) -> str:
    """An expiring URL to fetch the object straight from S3, answered as an attachment named `download_name`."""
    from django.utils.http import content_disposition_header

    disposition = content_disposition_header(as_attachment=True, filename=download_name)
    parameters = {
        "ResponseContentDisposition": disposition,
        "ResponseContentType": content_type or "application/octet-stream",
    }
    from storages.backends.s3 import S3Storage

    storage = model_file_storage()
    assert isinstance(storage, S3Storage), "signed URLs come from S3 storage only"
    url: str = storage.url(key, parameters=parameters, expire=seconds)
    return url


def temporary_keys_older_than(seconds: int) -> list[str]:
    """Keys under tmp/ last modified more than `seconds` ago (left by crashed uploads)."""
    from django.utils import timezone

    storage = model_file_storage()
    try:
        _, names = storage.listdir(TEMPORARY_PREFIX.rstrip("/"))
    except FileNotFoundError:
        return []
    cutoff = timezone.now().timestamp() - seconds
    stale = []
    for name in names:
        key = f"{TEMPORARY_PREFIX}{name}"
        if storage.get_modified_time(key).timestamp() < cutoff:
            stale.append(key)
    return stale

"""Writes to model files: upload, delete, validate, and count a download.

Consistency between the database and the storage: an upload is streamed to a temporary key, then one transaction
creates the row and moves the object to its final key; if anything fails on the way (the client goes away, the
storage or the database fails, the commit fails) both the temporary and the final object are deleted before the
error propagates, so no row points at nothing and no object is left without a row. Deleting a row deletes its
object after the commit (a retried job)."""

from __future__ import annotations

import datetime
import logging
import os
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from modelmarket.catalog import storage
from modelmarket.catalog.models import AIModel, ModelFile, ModelVersion
from modelmarket.catalog.validation import validate_file
from modelmarket.catalog.vocabulary import ValidationStatus
from modelmarket.core.exceptions import BadRequest, Conflict, NotFound, PayloadTooLarge
from modelmarket.core.generation import generation_bump

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 255


# --- Names --------------------------------------------------------------------------------------------------------
def file_name_clean(raw: str) -> str:
    """The name a file is listed and downloaded under: the last path component, NFC, without control or format
    characters, trimmed; at most 255 characters. BadRequest when nothing usable is left."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Zl", "Zp"))
    name = name.strip()
    if not name or set(name) == {"."}:
        raise BadRequest("Give the file a name, such as model.onnx.", code="invalid_file_name")
    if len(name) > MAX_NAME_LENGTH:
        raise BadRequest(
            f"File names are at most {MAX_NAME_LENGTH} characters.",
            code="invalid_file_name",
            details={"max_length": MAX_NAME_LENGTH},
        )
    return name


def _guess_content_type(name: str) -> str:
    import mimetypes

    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


# --- Upload -------------------------------------------------------------------------------------------------------
def _require_draft(version: ModelVersion) -> None:
    if version.is_published:
        raise Conflict(
            "Published versions cannot change: add a new version for new files.", code="version_published"
        )


def _check_declared_size(declared_size: int | None) -> None:
    maximum = settings.MODEL_FILE_MAX_BYTES
    if declared_size is not None and declared_size > maximum:
        raise PayloadTooLarge(
            f"The file is larger than the {maximum} bytes allowed.",
            code="file_too_large",
            details={"max_bytes": maximum},
        )
    if declared_size == 0:
        raise BadRequest("The file is empty.", code="empty_file")


def _name_taken(version: ModelVersion, name: str) -> Conflict:
    return Conflict(
        f"This version already has a file named '{name}'. Delete it first to replace it.",
        code="file_exists",
        details={"name": name},
    )


def file_upload(
    *,
    actor: Any,
    version: ModelVersion,
    name: str,
    chunks: Iterable[bytes],
    declared_size: int | None = None,
) -> ModelFile:
    """Stream `chunks` into a new file of the draft `version` (which the caller got from
    version_get_for_file_editing) and schedule its validation.

    Must be called outside any transaction: the stored object's fate is tied to this function's own commit.
    `declared_size` (the request's Content-Length) is checked before reading and must match what arrived."""
    name = file_name_clean(name)
    _check_declared_size(declared_size)
    _require_draft(version)
    if version.model.deleted_at is not None:
        raise Conflict("Restore the model before changing its files.", code="model_deleted")
    if ModelFile.objects.filter(version=version, name=name).exists():
        raise _name_taken(version, name)  # before reading a byte; the constraint decides races
    temporary = storage.temporary_key()
    try:
        stored = storage.store_stream(temporary, chunks, max_bytes=settings.MODEL_FILE_MAX_BYTES)
        if stored.size_bytes == 0:
            raise BadRequest("The file is empty.", code="empty_file")
        if declared_size is not None and stored.size_bytes != declared_size:
            raise BadRequest(
                f"The upload stopped after {stored.size_bytes} of {declared_size} bytes.",
                code="incomplete_upload",
            )
        return _file_commit(version=version, name=name, stored=stored)
    except BaseException:
        storage.delete_quietly(temporary)  # possibly partial, possibly absent: either way, gone
        raise


def _file_commit(*, version: ModelVersion, name: str, stored: storage.StoredObject) -> ModelFile:
    """Create the row and move the object to its final key in one transaction; undo the move if it fails."""
    final = storage.final_key(model_id=version.model_id, version_id=version.pk)
    moved = False
    try:
        with transaction.atomic(durable=True):
            locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
            _require_draft(locked)  # version_publish takes the same lock
            file = ModelFile.objects.create(
                version=locked,
                name=name,
                size_bytes=stored.size_bytes,
                sha256=stored.sha256,
                content_type=_guess_content_type(name),
                storage_key=final,
            )
            storage.move(stored.key, final)
            moved = True
            transaction.on_commit(lambda: _schedule_validation(file.pk), robust=True)
    except IntegrityError:
        if moved:
            storage.delete_quietly(final)
        if ModelFile.objects.filter(version_id=version.pk, name=name).exists():
            raise _name_taken(version, name) from None
        raise
    except BaseException:
        if moved:
            storage.delete_quietly(final)
        raise
    file.version = version
    return file


def _schedule_validation(file_id: int) -> None:
    from modelmarket.catalog.tasks import model_file_validate

    model_file_validate(file_id)


# --- Delete -------------------------------------------------------------------------------------------------------
def file_delete(*, actor: Any, file: ModelFile) -> None:
    """Delete a file of a draft version (the caller got it from file_get_for_editing); its stored object goes
    after the commit."""
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=file.version_id)
        _require_draft(version)
        deleted, _ = ModelFile.objects.filter(pk=file.pk).delete()
        if deleted:
            key = file.storage_key
            transaction.on_commit(lambda: _schedule_object_deletion(key), robust=True)


def _schedule_object_deletion(key: str) -> None:
    from modelmarket.catalog.tasks import model_file_delete_object

    model_file_delete_object(key)


# --- Validation ---------------------------------------------------------------------------------------------------
def file_validate(*, file_id: int) -> ModelFile | None:
    """Find out what the stored file really is and record the verdict. Reads the object from storage (a local
    path when the storage has one, else a temporary copy made in chunks). None if the file was deleted meanwhile.
    Storage errors propagate (the job retries); unreadable content is a verdict, not an error."""
    file = ModelFile.objects.filter(pk=file_id).first()
    if file is None:
        return None
    with _readable_copy(file.storage_key) as path:
        result = validate_file(path, name=file.name)
    report = result.report(size_bytes=file.size_bytes)
    ModelFile.objects.filter(pk=file.pk).update(
        validation_status=result.status,
        file_format=result.file_format,
        validation_report=report,
        validated_at=timezone.now(),
        updated_at=timezone.now(),
    )
    generation_bump()  # a version's runnable files changed
    file.refresh_from_db()
    return file


class _readable_copy:  # noqa: N801 - used as a context manager, like open()
    """A path to the object's bytes on local disk, deleted afterwards if it was a temporary copy."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.temporary: str | None = None

    def __enter__(self) -> str:
        path = storage.local_path(self.key)
        if path is not None:
            if not os.path.exists(path):
                raise FileNotFoundError(path)
            return path
        handle, self.temporary = tempfile.mkstemp(prefix="model-file-")
        with os.fdopen(handle, "wb") as destination:
            storage.copy_to(self.key, destination)
        return self.temporary

    def __exit__(self, *exc: object) -> None:
        if self.temporary is not None:
            os.unlink(self.temporary)


def files_pending_validation(*, older_than_seconds: int) -> list[int]:
    """Files still pending long after upload (their job was lost, e.g. the queue was down at commit)."""
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than_seconds)
    return list(
        ModelFile.objects.filter(
            validation_status=ValidationStatus.PENDING, created_at__lt=cutoff
        ).values_list("pk", flat=True)[:500]
    )


# --- Download -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Download:
    """How to hand a file over: a signed URL to redirect to (S3), or an open stream (local storage)."""

    file: ModelFile
    redirect_url: str | None = None
    stream: IO[bytes] | None = None


def file_download_start(*, file: ModelFile) -> Download:
    """Count a download of a file the caller may see (file_get_for_viewer) and say how to serve it. Counting is
    two atomic increments, never read-modify-write."""
    if storage.uses_signed_urls():
        download = Download(
            file=file,
            redirect_url=storage.signed_url(
                file.storage_key,
                download_name=file.name,
                content_type=file.content_type,
                seconds=settings.S3_SIGNED_URL_SECONDS,
            ),
        )
    else:
        try:
            stream = storage.open_for_reading(file.storage_key)
        except FileNotFoundError:
            logger.error("stored object missing for model file %s", file.pk)
            raise NotFound("The file's content is missing.", code="file_missing") from None
        download = Download(file=file, stream=stream)
    with transaction.atomic():
        ModelFile.objects.filter(pk=file.pk).update(download_count=F("download_count") + 1)
        AIModel.objects.filter(pk=file.version.model_id).update(download_count=F("download_count") + 1)
    return download

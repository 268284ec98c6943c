"""Model files over the API: upload (the raw request body, streamed), list, show, download, delete.

Upload: `POST /models/{slug}/versions/{version}/files?name=model.onnx` with the file as the body
(`curl --data-binary @model.onnx -H 'Content-Type: application/octet-stream'`). The body is never read into memory:
it is read in chunks straight into storage, so the 1 MB JSON body limit does not apply and MODEL_FILE_MAX_BYTES
does (checked against Content-Length before reading, and again while reading)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from ninja import Query, Schema, Status

from modelmarket.accounts.authentication import api_auth, api_auth_optional
from modelmarket.accounts.models import ApiKeyScope
from modelmarket.catalog.api.router import router
from modelmarket.catalog.models import ModelFile
from modelmarket.catalog.selectors.files import (
    file_get_for_editing,
    file_get_for_viewer,
    files_for_viewer,
    version_get_for_file_editing,
)
from modelmarket.catalog.services import files as services
from modelmarket.catalog.storage import CHUNK_BYTES
from modelmarket.catalog.views.files import download_response
from modelmarket.core.api.pagination import add_next_link, paginate
from modelmarket.core.api.schemas import ERROR_RESPONSES
from modelmarket.core.exceptions import ApplicationError, BadRequest

ERRORS = ERROR_RESPONSES
FORM_CONTENT_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _viewer(request: HttpRequest) -> Any:
    user = request.user
    return user if user.is_authenticated else None


class FileOut(Schema):
    id: int
    name: str
    version: str
    size_bytes: int
    sha256: str
    content_type: str
    file_format: str
    validation_status: str
    validation_report: dict[str, Any]
    validated_at: datetime | None
    download_count: int
    created_at: datetime
    download_url: str


class FilePage(Schema):
    version: str | None
    items: list[FileOut]
    next_cursor: str | None


def file_out(request: HttpRequest, file: ModelFile) -> dict[str, Any]:
    slug = file.version.model.slug
    return {
        "id": file.pk,
        "name": file.name,
        "version": file.version.version,
        "size_bytes": file.size_bytes,
        "sha256": file.sha256,
        "content_type": file.content_type,
        "file_format": file.file_format,
        "validation_status": file.validation_status,
        "validation_report": file.validation_report,
        "validated_at": file.validated_at,
        "download_count": file.download_count,
        "created_at": file.created_at,
        "download_url": request.build_absolute_uri(
            reverse("api:catalog_file_download", kwargs={"slug": slug, "file_id": file.pk})
        ),
    }


def _request_chunks(request: HttpRequest) -> Iterator[bytes]:
    """The request body in chunks, straight from the server's input stream."""
    while True:
        try:
            chunk = request.read(CHUNK_BYTES)
        except OSError:  # the client went away (Django raises UnreadablePostError, an OSError)
            raise BadRequest("The upload was interrupted.", code="incomplete_upload") from None
        if not chunk:
            return
        yield chunk


def _declared_length(request: HttpRequest) -> int:
    raw = request.META.get("CONTENT_LENGTH") or ""
    if not raw.strip().isdigit():
        raise ApplicationError(
            "Send the file as the request body with a Content-Length header.",
            code="length_required",
            status_code=411,
        )
    return int(raw)


@router.post(
    "/models/{slug}/versions/{version}/files",
    response={201: FileOut, 411: dict, 415: dict, **ERRORS},
    auth=api_auth(ApiKeyScope.MANAGE),
    url_name="catalog_file_upload",
)
def upload_file(request: HttpRequest, slug: str, version: str, name: str = Query(...)) -> Status[Any]:
    """Upload one file to a draft version: the raw file is the request body and `name` its file name. The file
    is `pending` until its validation job has run. 409 `file_exists` for a name already in the version, 409
    `version_published` for published versions, 413 `file_too_large`, 400 `empty_file`."""
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type in FORM_CONTENT_TYPES:
        raise ApplicationError(
            "Send the file itself as the body (Content-Type: application/octet-stream), not a form.",
            code="unsupported_media_type",
            status_code=415,
        )
    declared = _declared_length(request)
    target = version_get_for_file_editing(actor=request.user, slug=slug, version=version)
    file = services.file_upload(
        actor=request.user,
        version=target,
        name=name,
        chunks=_request_chunks(request),
        declared_size=declared,
    )
    return Status(201, file_out(request, file))


@router.get(
    "/models/{slug}/files",
    response={200: FilePage, **ERRORS},
    auth=api_auth_optional(),
    url_name="catalog_file_list",
)
def list_files(
    request: HttpRequest,
    response: HttpResponse,
    slug: str,
    version: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Files of the listing's default version, or of `version`, by name: size, sha256, format, validation status
    and report. Drafts are listed for their creator and staff only."""
    chosen, files = files_for_viewer(viewer=_viewer(request), slug=slug, version=version)
    page = paginate(files, order_field="name", descending=False, cursor=cursor, limit=limit)
    add_next_link(request, response, page.next_cursor)
    return {
        "version": chosen.version if chosen else None,
        "items": [file_out(request, file) for file in page.items],
        "next_cursor": page.next_cursor,
    }


@router.get(
    "/models/{slug}/files/{file_id}",
    response={200: FileOut, **ERRORS},
    auth=api_auth_optional(),
    url_name="catalog_file_detail",
)
def get_file(request: HttpRequest, slug: str, file_id: int) -> dict[str, Any]:
    return file_out(request, file_get_for_viewer(viewer=_viewer(request), slug=slug, file_id=file_id))


@router.get(
    "/models/{slug}/files/{file_id}/download",
    response={302: None, 200: None, **ERRORS},
    auth=api_auth_optional(),
    url_name="catalog_file_download",
)
def download_file(request: HttpRequest, slug: str, file_id: int) -> HttpResponseBase:
    """The file's bytes: a 302 to an expiring signed URL (S3) or the bytes themselves (local storage), with the
    sha256 in `X-Checksum-SHA256` and `Repr-Digest`. Counted."""
    file = file_get_for_viewer(viewer=_viewer(request), slug=slug, file_id=file_id)
    return download_response(services.file_download_start(file=file))


@router.delete(
    "/models/{slug}/files/{file_id}",
    response={204: None, **ERRORS},
    auth=api_auth(ApiKeyScope.MANAGE),
    url_name="catalog_file_delete",
)
def delete_file(request: HttpRequest, slug: str, file_id: int) -> Status[None]:
    """Delete a file of a draft version (409 `version_published` otherwise)."""
    file = file_get_for_editing(actor=request.user, slug=slug, file_id=file_id)
    services.file_delete(actor=request.user, file=file)
    return Status(204, None)

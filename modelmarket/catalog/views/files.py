"""Pages for a version's files (the owner's upload page, delete) and the download route everyone uses.

The upload page sends each file to the API as the raw request body (static/js/upload.js, with progress); without
JavaScript the form posts multipart here, which Django spools to disk, and the same service stores it."""

from __future__ import annotations

import base64
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from modelmarket.catalog.models import ModelVersion
from modelmarket.catalog.selectors.files import (
    file_get_for_editing,
    file_get_for_viewer,
    files_of_version,
    version_get_for_file_editing,
)
from modelmarket.catalog.services import files as services
from modelmarket.core.exceptions import ApplicationError, NotFound, PermissionDenied

# Room for the multipart envelope around the file in the no-JavaScript form.
FORM_OVERHEAD_BYTES = 64 * 1024


def download_response(download: services.Download) -> HttpResponseBase:
    """A 302 to the signed URL, or the streamed bytes as an attachment; both carry the sha256."""
    file = download.file
    response: HttpResponseBase
    if download.redirect_url is not None:
        response = HttpResponseRedirect(download.redirect_url)
    else:
        response = FileResponse(
            download.stream,
            as_attachment=True,
            filename=file.name,
            content_type=file.content_type or "application/octet-stream",
        )
        response["Content-Length"] = str(file.size_bytes)
    digest = base64.b64encode(bytes.fromhex(file.sha256)).decode()
    response["X-Checksum-SHA256"] = file.sha256
    response["Repr-Digest"] = f"sha-256=:{digest}:"
    response["Cache-Control"] = "private, no-store"
    return response


def _version_or_error(request: HttpRequest, slug: str, version: str) -> ModelVersion:
    try:
        return version_get_for_file_editing(actor=request.user, slug=slug, version=version)
    except NotFound as error:
        raise Http404(error.message) from error
    except PermissionDenied as error:
        raise DjangoPermissionDenied(error.message) from error


def _page(request: HttpRequest, version: ModelVersion, status: int = 200) -> TemplateResponse:
    context: dict[str, Any] = {
        "model": version.model,
        "version": version,
        "files": files_of_version(version),
        "max_bytes": settings.MODEL_FILE_MAX_BYTES,
        "is_draft": not version.is_published,
    }
    template = "catalog/files/manage.html" + ("#file_list" if getattr(request, "htmx", False) else "")
    return TemplateResponse(request, template, context, status=status)


@csrf_exempt  # only to look at Content-Length before the CSRF check parses the body; _version_files checks CSRF
@login_required
@require_http_methods(["GET", "POST"])
def version_files(request: HttpRequest, slug: str, version: str) -> HttpResponse:
    """The owner's file page: list with validation reports, upload form, delete buttons."""
    target = _version_or_error(request, slug, version)
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if request.method == "POST" and (
        not declared.isdigit() or int(declared) > settings.MODEL_FILE_MAX_BYTES + FORM_OVERHEAD_BYTES
    ):
        messages.error(
            request, f"That file is larger than the {settings.MODEL_FILE_MAX_BYTES} bytes allowed."
        )
        return _page(request, target, status=413)
    return _version_files(request, target)


@csrf_protect
def _version_files(request: HttpRequest, target: ModelVersion) -> HttpResponse:
    if request.method != "POST":
        return _page(request, target)
    uploaded = request.FILES.get("file")
    if uploaded is None:
        messages.error(request, "Choose a file to upload.")
        return _page(request, target, status=400)
    try:
        file = services.file_upload(
            actor=request.user,
            version=target,
            name=uploaded.name or "",
            chunks=uploaded.chunks(),
            declared_size=uploaded.size,
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return _page(request, target, status=error.status_code)
    messages.success(request, f"“{file.name}” was uploaded; it is being validated.")
    return redirect("catalog_version_files", slug=target.model.slug, version=target.version)


@login_required
@require_POST
def file_delete(request: HttpRequest, slug: str, file_id: int) -> HttpResponse:
    try:
        file = file_get_for_editing(actor=request.user, slug=slug, file_id=file_id)
    except NotFound as error:
        raise Http404(error.message) from error
    except PermissionDenied as error:
        raise DjangoPermissionDenied(error.message) from error
    try:
        services.file_delete(actor=request.user, file=file)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"“{file.name}” was deleted.")
    return redirect("catalog_version_files", slug=slug, version=file.version.version)


@require_GET
def file_download(request: HttpRequest, slug: str, file_id: int) -> HttpResponseBase:
    viewer = request.user if request.user.is_authenticated else None
    try:
        file = file_get_for_viewer(viewer=viewer, slug=slug, file_id=file_id)
        download = services.file_download_start(file=file)
    except NotFound as error:
        raise Http404("No such file.") from error
    return download_response(download)


urlpatterns: list[URLPattern] = [
    path("models/<slug:slug>/versions/<str:version>/files/", version_files, name="catalog_version_files"),
    path("models/<slug:slug>/files/<int:file_id>/delete/", file_delete, name="catalog_file_delete"),
    path("models/<slug:slug>/files/<int:file_id>/download/", file_download, name="catalog_file_download"),
]

"""Creator pages (my models, create and edit a listing, versions) and the staff review queue for listings.

Each view parses a form, calls one service or selector from `catalog.services.models` /
`catalog.selectors.models` (the same ones the JSON API in `catalog/api/models.py` calls), and renders. Actions are
POST-only, CSRF-protected, and redirect back with a flash message: the service's own message when it refuses."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, Concatenate

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from modelmarket.accounts.models import CreatorProfile, User
from modelmarket.accounts.selectors import creator_profile_for
from modelmarket.catalog.forms import (
    LICENSE_DATALIST_ID,
    ListingCreateForm,
    ListingEditForm,
    ModelReviewForm,
    VersionCreateForm,
    VersionDeprecateForm,
)
from modelmarket.catalog.markdown import render_markdown
from modelmarket.catalog.models import AIModel, ModelVersion
from modelmarket.catalog.selectors.models import (
    model_get_for_editing,
    models_owned_by,
    models_pending_review,
    user_is_catalog_staff,
    version_get_for_viewer,
    versions_visible_to,
)
from modelmarket.catalog.services import models as services
from modelmarket.catalog.services.models import actor_publishes_directly
from modelmarket.catalog.vocabulary import COMMON_LICENSES, ModelStatus
from modelmarket.core.exceptions import ApplicationError, NotFound, PermissionDenied

MODELS_PER_PAGE = 50
# Which form field a service error code belongs to; anything else is shown above the form.
LISTING_ERROR_FIELDS = {
    "invalid_name": "name",
    "invalid_slug": "slug",
    "slug_taken": "slug",
    "invalid_task": "task",
    "invalid_license": "license",
    "too_many_tags": "tags",
    "invalid_source": "source",
    "endpoint_required": "endpoint_url",
    "external_id_required": "external_id",
    "duplicate_listing": "external_id",
}
VERSION_ERROR_FIELDS = {"invalid_version": "version", "version_exists": "version"}


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> TemplateResponse:
    context = {"is_catalog_staff": user_is_catalog_staff(request.user), **context}
    return TemplateResponse(request, template, context, status=status)


def _attach_error(form: forms.Form, error: ApplicationError, fields: Mapping[str, str | None]) -> None:
    """Show a service's refusal on its field when the form has that field, else above the form."""
    field = fields.get(error.code)
    form.add_error(field if field in form.fields else None, error.message)


def _url_or_path(name: str, args: list[str], fallback: str) -> str:
    """A page another engineer owns: its named URL when it exists, else its documented path."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return fallback


def model_page_url(model: AIModel) -> str:
    return _url_or_path("model_detail", [model.slug], f"/models/{model.slug}/")


def _back(request: HttpRequest, default: str) -> HttpResponseRedirect:
    """Back to the page the action was sent from (a same-site `next`), else to `default`."""
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False)
    return HttpResponseRedirect(target if target and safe else default)


type ModelView = Callable[Concatenate[HttpRequest, AIModel, ...], HttpResponse]


def with_editable_model(view: ModelView) -> Callable[..., HttpResponse]:
    """Resolve `slug` to a listing the user may change: 404 when they may not see it, a 403 page when they may see
    it but it is not theirs (see `model_get_for_editing`)."""

    @wraps(view)
    def wrapper(request: HttpRequest, slug: str, **kwargs: Any) -> HttpResponse:
        try:
            model = model_get_for_editing(actor=request.user, slug=slug)
        except NotFound as error:
            raise Http404(error.message) from error
        except PermissionDenied as error:
            return _render(request, "catalog/creator/forbidden.html", {"message": error.message}, status=403)
        return view(request, model, **kwargs)

    return wrapper


def _version(request: HttpRequest, model: AIModel, version: str) -> ModelVersion:
    try:
        return version_get_for_viewer(viewer=request.user, model=model, version=version)
    except NotFound as error:
        raise Http404(error.message) from error


# --- My models ----------------------------------------------------------------------------------------------------
def _dashboard_models(user: User, include_deleted: bool) -> QuerySet[AIModel]:
    default_versions = Prefetch(
        "versions", queryset=ModelVersion.objects.filter(is_default=True), to_attr="default_versions"
    )
    return (
        models_owned_by(creator=user, include_deleted=include_deleted)
        .order_by("-updated_at", "-pk")
        .prefetch_related(default_versions)
    )


@login_required
@require_GET
def my_models(request: HttpRequest) -> TemplateResponse:
    user = _user(request)
    profile = creator_profile_for(user=user)
    if profile is None and not user_is_catalog_staff(user):
        return _render(request, "catalog/creator/become_creator.html", {})
    show_deleted = request.GET.get("deleted") == "1"
    page = Paginator(_dashboard_models(user, show_deleted), MODELS_PER_PAGE).get_page(request.GET.get("page"))
    for model in page:
        model.view_url = model_page_url(model)  # type: ignore[attr-defined]
    context = {
        "page": page,
        "profile": profile,
        "show_deleted": show_deleted,
        "publishes_directly": actor_publishes_directly(user),
        "can_create": profile is None or profile.status != CreatorProfile.Status.REJECTED,
    }
    return _render(request, "catalog/creator/models.html", context)


# --- Create and edit ----------------------------------------------------------------------------------------------
def _form_context(form: forms.Form, **extra: Any) -> dict[str, Any]:
    return {"form": form, "licenses": COMMON_LICENSES, "license_list_id": LICENSE_DATALIST_ID, **extra}


def _card_preview(request: HttpRequest) -> str:
    """The card as the model page will show it: through the same sanitizer."""
    return render_markdown(request.POST.get("card_markdown", "")[:100_000])


@login_required
@require_POST
def card_preview(request: HttpRequest) -> TemplateResponse:
    """htmx: the preview block of the listing form. Without JavaScript the form's Preview button posts to the
    form's own view, which renders the same block (see `_preview_response`)."""
    context = {"preview": _card_preview(request)}
    return TemplateResponse(request, "catalog/creator/model_form.html#card_preview", context)


def _preview_response(request: HttpRequest, form: forms.Form, **extra: Any) -> TemplateResponse | None:
    if "preview" not in request.POST:
        return None
    context = _form_context(form, preview=_card_preview(request), **extra)
    return _render(request, "catalog/creator/model_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def model_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if creator_profile_for(user=user) is None and not user_is_catalog_staff(user):
        return _render(request, "catalog/creator/become_creator.html", {})
    if request.method != "POST":
        return _render(request, "catalog/creator/model_form.html", _form_context(ListingCreateForm()))
    form = ListingCreateForm(request.POST)
    if preview := _preview_response(request, form):
        return preview
    if form.is_valid():
        try:
            model = services.model_create(actor=user, **form.service_arguments())
        except ApplicationError as error:
            _attach_error(form, error, LISTING_ERROR_FIELDS)
        else:
            messages.success(
                request, f"“{model.name}” was saved as a draft. Next: add a version and its files."
            )
            return redirect("creator_versions", slug=model.slug)
    return _render(request, "catalog/creator/model_form.html", _form_context(form), status=400)


@login_required
@require_http_methods(["GET", "POST"])
@with_editable_model
def model_edit(request: HttpRequest, model: AIModel) -> HttpResponse:
    if request.method != "POST":
        form = ListingEditForm.for_model(model)
        return _render(request, "catalog/creator/model_form.html", _form_context(form, model=model))
    form = ListingEditForm.for_model(model, request.POST)
    if preview := _preview_response(request, form, model=model):
        return preview
    if form.is_valid():
        changes = form.changes()
        try:
            if changes:
                model = services.model_update(actor=_user(request), model=model, changes=changes)
        except ApplicationError as error:
            _attach_error(form, error, LISTING_ERROR_FIELDS)
        else:
            messages.success(request, f"“{model.name}” was saved." if changes else "Nothing changed.")
            return redirect("creator_model_edit", slug=model.slug)
    return _render(request, "catalog/creator/model_form.html", _form_context(form, model=model), status=400)


# --- Listing actions (POST only) ----------------------------------------------------------------------------------
def _model_action(
    request: HttpRequest, model: AIModel, action: Callable[..., AIModel], success: Callable[[AIModel], str]
) -> HttpResponseRedirect:
    try:
        model = action(actor=_user(request), model=model)
    except ApplicationError as error:
        messages.error(request, f"“{model.name}”: {error.message}")
    else:
        messages.success(request, success(model))
    return _back(request, reverse("creator_models"))


def _published_message(model: AIModel) -> str:
    if model.status == ModelStatus.PENDING_REVIEW:
        return f"“{model.name}” was sent for review. Staff check it before it appears in the catalog."
    return f"“{model.name}” is published and listed in the catalog."


@login_required
@require_POST
@with_editable_model
def model_publish(request: HttpRequest, model: AIModel) -> HttpResponse:
    return _model_action(request, model, services.model_publish, _published_message)


@login_required
@require_POST
@with_editable_model
def model_deprecate(request: HttpRequest, model: AIModel) -> HttpResponse:
    return _model_action(
        request,
        model,
        services.model_deprecate,
        lambda model: f"“{model.name}” is deprecated: still listed and callable, marked as such.",
    )


@login_required
@require_POST
@with_editable_model
def model_delete(request: HttpRequest, model: AIModel) -> HttpResponse:
    return _model_action(
        request,
        model,
        services.model_delete,
        lambda model: f"“{model.name}” was deleted. Find it under “Show deleted” to restore it.",
    )


@login_required
@require_POST
@with_editable_model
def model_restore(request: HttpRequest, model: AIModel) -> HttpResponse:
    return _model_action(
        request, model, services.model_restore, lambda model: f"“{model.name}” was restored."
    )


# --- Versions -----------------------------------------------------------------------------------------------------
def _versions_page(
    request: HttpRequest, model: AIModel, form: VersionCreateForm, status: int = 200
) -> TemplateResponse:
    versions = list(versions_visible_to(viewer=request.user, model=model).prefetch_related("files"))
    now = timezone.now()
    for version in versions:
        version.upload_url = _url_or_path(  # type: ignore[attr-defined]
            "catalog_version_files",
            [model.slug, version.version],
            f"/models/{model.slug}/versions/{version.version}/files/",
        )
        version.changelog_html = render_markdown(version.changelog)  # type: ignore[attr-defined]
        version.deprecation_scheduled = bool(  # type: ignore[attr-defined]
            version.deprecated_at and version.deprecated_at > now
        )
        version.input_schema_json = json.dumps(version.input_schema, indent=2)  # type: ignore[attr-defined]
        version.output_schema_json = json.dumps(version.output_schema, indent=2)  # type: ignore[attr-defined]
    context = {
        "model": model,
        "versions": versions,
        "form": form,
        "deprecate_form": VersionDeprecateForm(),
        "view_url": model_page_url(model),
        "publishes_directly": actor_publishes_directly(_user(request)),
    }
    return _render(request, "catalog/creator/versions.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@with_editable_model
def versions(request: HttpRequest, model: AIModel) -> HttpResponse:
    if request.method != "POST":
        return _versions_page(request, model, VersionCreateForm())
    form = VersionCreateForm(request.POST)
    if form.is_valid():
        try:
            version = services.version_create(actor=_user(request), model=model, **form.cleaned_data)
        except ApplicationError as error:
            _attach_error(form, error, VERSION_ERROR_FIELDS)
        else:
            messages.success(
                request, f"Version {version.version} was created as a draft. Upload its files next."
            )
            return redirect("creator_versions", slug=model.slug)
    return _versions_page(request, model, form, status=400)


def _version_action(
    request: HttpRequest, model: AIModel, version: str, action: Callable[[ModelVersion], str]
) -> HttpResponseRedirect:
    """Run `action` on the version (it returns the success message); show the service's message if it refuses."""
    model_version = _version(request, model, version)
    try:
        messages.success(request, action(model_version))
    except ApplicationError as error:
        messages.error(request, f"Version {model_version.version}: {error.message}")
    return redirect("creator_versions", slug=model.slug)


@login_required
@require_POST
@with_editable_model
def version_publish(request: HttpRequest, model: AIModel, version: str) -> HttpResponse:
    def publish(model_version: ModelVersion) -> str:
        published = services.version_publish(actor=_user(request), version=model_version)
        default = " It is the default version." if published.is_default else ""
        return f"Version {published.version} is published and can no longer change.{default}"

    return _version_action(request, model, version, publish)


@login_required
@require_POST
@with_editable_model
def version_set_default(request: HttpRequest, model: AIModel, version: str) -> HttpResponse:
    def make_default(model_version: ModelVersion) -> str:
        services.version_set_default(actor=_user(request), version=model_version)
        return f"Version {model_version.version} is now the default: calls without a version use it."

    return _version_action(request, model, version, make_default)


@login_required
@require_POST
@with_editable_model
def version_deprecate(request: HttpRequest, model: AIModel, version: str) -> HttpResponse:
    form = VersionDeprecateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the deprecation date as YYYY-MM-DD, or leave it empty for today.")
        return redirect("creator_versions", slug=model.slug)

    def deprecate(model_version: ModelVersion) -> str:
        services.version_deprecate(
            actor=_user(request),
            version=model_version,
            note=form.cleaned_data["note"],
            effective_at=form.effective_at(),
        )
        return f"Version {model_version.version} is deprecated."

    return _version_action(request, model, version, deprecate)


# --- Staff: listings waiting for review ---------------------------------------------------------------------------
def _require_catalog_staff(request: HttpRequest) -> User:
    user = _user(request)
    if not user_is_catalog_staff(user):
        raise Http404("No such page.")
    return user


@login_required
@require_GET
def staff_review_queue(request: HttpRequest) -> TemplateResponse:
    try:
        pending = models_pending_review(actor=_user(request))
    except NotFound:
        raise Http404("No such page.") from None
    pending = pending.select_related("creator").prefetch_related(
        Prefetch(
            "versions", queryset=ModelVersion.objects.filter(is_default=True), to_attr="default_versions"
        )
    )
    page = Paginator(pending, MODELS_PER_PAGE).get_page(request.GET.get("page"))
    for model in page:
        model.view_url = model_page_url(model)  # type: ignore[attr-defined]
    return _render(request, "catalog/staff/review.html", {"page": page, "form": ModelReviewForm()})


@login_required
@require_POST
def staff_review_decide(request: HttpRequest, slug: str) -> HttpResponse:
    user = _require_catalog_staff(request)
    try:
        model = model_get_for_editing(actor=user, slug=slug)
    except NotFound as error:
        raise Http404(error.message) from error
    form = ModelReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(map(str, form.non_field_errors())) or "Choose approve or reject.")
        return redirect("staff_model_review")
    try:
        model = services.model_review(
            actor=user,
            model=model,
            approve=form.cleaned_data["decision"] == "approve",
            note=form.cleaned_data["note"],
        )
    except ApplicationError as error:
        messages.error(request, f"“{model.name}”: {error.message}")
    else:
        verb = "approved and published" if model.status == ModelStatus.PUBLISHED else "rejected"
        messages.success(request, f"“{model.name}” was {verb}.")
    return redirect("staff_model_review")


urlpatterns: list[URLPattern] = [
    path("creator/models/", my_models, name="creator_models"),
    path("creator/models/new/", model_new, name="creator_model_new"),
    path("creator/models/preview/", card_preview, name="creator_card_preview"),
    path("creator/models/<slug:slug>/edit/", model_edit, name="creator_model_edit"),
    path("creator/models/<slug:slug>/publish/", model_publish, name="creator_model_publish"),
    path("creator/models/<slug:slug>/deprecate/", model_deprecate, name="creator_model_deprecate"),
    path("creator/models/<slug:slug>/delete/", model_delete, name="creator_model_delete"),
    path("creator/models/<slug:slug>/restore/", model_restore, name="creator_model_restore"),
    path("creator/models/<slug:slug>/versions/", versions, name="creator_versions"),
    path(
        "creator/models/<slug:slug>/versions/<str:version>/publish/",
        version_publish,
        name="creator_version_publish",
    ),
    path(
        "creator/models/<slug:slug>/versions/<str:version>/default/",
        version_set_default,
        name="creator_version_default",
    ),
    path(
        "creator/models/<slug:slug>/versions/<str:version>/deprecate/",
        version_deprecate,
        name="creator_version_deprecate",
    ),
    path("staff/models/review/", staff_review_queue, name="staff_model_review"),
    path("staff/models/<slug:slug>/review/", staff_review_decide, name="staff_model_review_decide"),
]

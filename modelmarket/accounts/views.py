"""Account pages. Each view parses a form, calls one service or selector, and renders; the same services back the
JSON API, so a rule changes in one place."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from modelmarket.accounts import selectors, services
from modelmarket.accounts.forms import ApiKeyCreateForm, CreatorProfileForm, CreatorReviewForm, ProfileForm
from modelmarket.accounts.models import CreatorProfile, User
from modelmarket.core.exceptions import ApplicationError, NotFound

# Which form field an ApplicationError code belongs to; anything else is shown above the form.
PROFILE_ERROR_FIELDS = {
    "too_many_links": "links",
    "invalid_link": "links",
    "image_too_large": "avatar",
    "invalid_image": "avatar",
    "unsupported_image_format": "avatar",
}
API_KEY_ERROR_FIELDS = {"invalid_name": "name", "invalid_scopes": "scopes", "invalid_expiry": "expires_on"}
REVIEW_STATUSES = [("pending", "Pending"), ("verified", "Verified"), ("rejected", "Rejected"), ("all", "All")]


def _attach_error(form: forms.Form, error: ApplicationError, field: str | None) -> None:
    """Show a service's refusal on the form: on `field`, or above the form when it concerns no one field."""
    link = error.details.get("link")
    form.add_error(field, f"{error.message} Not accepted: {link}" if link else error.message)


CREATOR_ERROR_FIELDS = {"too_many_links": "links", "invalid_link": "links", "invalid_website": "website"}


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


# --- Settings -----------------------------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "POST":
        form = ProfileForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                services.user_profile_update(
                    user=user,
                    display_name=form.cleaned_data["display_name"],
                    bio=form.cleaned_data["bio"],
                    links=form.cleaned_data["links"],
                    avatar=form.cleaned_data["avatar"],
                    remove_avatar=form.cleaned_data["remove_avatar"],
                )
            except ApplicationError as error:
                _attach_error(form, error, PROFILE_ERROR_FIELDS.get(error.code))
            else:
                messages.success(request, "Your profile was saved.")
                return redirect("account_settings")
        # The instance may hold unsaved edits from the failed attempt; the preview shows what is stored.
        user.refresh_from_db()
    else:
        form = ProfileForm(
            initial={"display_name": user.display_name, "bio": user.bio, "links": "\n".join(user.links)}
        )
    status = 400 if form.errors else 200
    return TemplateResponse(request, "accounts/settings.html", {"form": form}, status=status)


# --- API keys -----------------------------------------------------------------------------------------------------
def _api_keys_page(request: HttpRequest, form: ApiKeyCreateForm, status: int = 200) -> TemplateResponse:
    user = _user(request)
    context = {
        "form": form,
        "keys": selectors.api_key_list(user=user),
        "email_verified": selectors.user_email_is_verified(user),
    }
    return TemplateResponse(request, "accounts/api_keys.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    """The key list and the create form. A created key is rendered in this POST's answer only: it is never put
    in the session, a message or a redirect URL, and the answer must not be cached."""
    if request.method != "POST":
        return _api_keys_page(request, ApiKeyCreateForm())
    form = ApiKeyCreateForm(request.POST)
    if not form.is_valid():
        return _api_keys_page(request, form, status=400)
    try:
        key, raw_key = services.api_key_create(user=_user(request), **form.service_arguments())
    except ApplicationError as error:
        _attach_error(form, error, API_KEY_ERROR_FIELDS.get(error.code))
        return _api_keys_page(request, form, status=error.status_code)
    response = TemplateResponse(
        request, "accounts/api_key_created.html", {"key": key, "raw_key": raw_key}, status=201
    )
    add_never_cache_headers(response)
    return response


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    try:
        key = services.api_key_revoke(user=_user(request), key_id=key_id)
    except NotFound as error:
        raise Http404(error.message) from error
    if request.htmx:  # type: ignore[attr-defined]
        return TemplateResponse(request, "accounts/api_keys.html#key_row", {"key": key})
    messages.success(request, f"The key “{key.name}” was revoked. Requests using it now fail.")
    return redirect("api_keys")


# --- Creator application ------------------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def creator_profile(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    profile = selectors.creator_profile_for(user=user)
    if request.method != "POST":
        form = CreatorProfileForm.for_profile(profile)
        return TemplateResponse(request, "accounts/creator.html", {"form": form, "profile": profile})
    form = CreatorProfileForm(request.POST)
    if form.is_valid():
        try:
            services.creator_profile_apply(user=user, **form.cleaned_data)
        except ApplicationError as error:
            _attach_error(form, error, CREATOR_ERROR_FIELDS.get(error.code))
        else:
            messages.success(
                request,
                "Your creator profile was saved."
                if profile and profile.status == CreatorProfile.Status.VERIFIED
                else "Thanks! Your application is in the review queue; we will email you the decision.",
            )
            return redirect("creator_profile")
    return TemplateResponse(request, "accounts/creator.html", {"form": form, "profile": profile}, status=400)


# --- Staff: creator applications ----------------------------------------------------------------------------------
@login_required
@require_GET
def staff_creators(request: HttpRequest) -> TemplateResponse:
    status = request.GET.get("status", "pending")
    if status not in dict(REVIEW_STATUSES):
        status = "pending"
    try:
        applications = selectors.creator_profile_review_queue(
            actor=_user(request), status=None if status == "all" else status
        )
    except NotFound as error:
        raise Http404(error.message) from error
    context = {"applications": applications, "status": status, "statuses": REVIEW_STATUSES}
    template = "accounts/staff_creators.html" + ("#applications" if request.htmx else "")  # type: ignore[attr-defined]
    return TemplateResponse(request, template, context)


@login_required
@require_POST
def staff_creator_review(request: HttpRequest, profile_id: int) -> HttpResponse:
    form = CreatorReviewForm(request.POST)
    back = request.POST.get("status", "pending")
    back_url = reverse("staff_creators") + (f"?status={back}" if back in dict(REVIEW_STATUSES) else "")
    if not form.is_valid():
        messages.error(request, "Choose approve or reject.")
        return HttpResponseRedirect(back_url)
    try:
        profile = services.creator_profile_review(
            actor=_user(request),
            profile_id=profile_id,
            approve=form.cleaned_data["decision"] == "approve",
            note=form.cleaned_data["note"],
        )
    except NotFound as error:
        raise Http404(error.message) from error
    except ApplicationError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(back_url)
    verb = "approved" if profile.status == CreatorProfile.Status.VERIFIED else "rejected"
    messages.success(request, f"{profile.display_name}'s application was {verb}; they were told by email.")
    return HttpResponseRedirect(back_url)

"""Notification pages: the list, marking one or all read, and email preferences. Each view parses input, calls one
service or selector, and renders."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from modelmarket.accounts.models import User
from modelmarket.core.exceptions import ApplicationError, NotFound
from modelmarket.notifications import selectors, services
from modelmarket.notifications.forms import NotificationPreferencesForm
from modelmarket.notifications.models import site_path_is_safe

NOTIFICATIONS_PER_PAGE = 25


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@login_required
@require_GET
def notification_list(request: HttpRequest) -> TemplateResponse:
    user = _user(request)
    page = Paginator(selectors.notification_list(user=user), NOTIFICATIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "unread_count": selectors.notification_unread_count(user=user)}
    return TemplateResponse(request, "notifications/list.html", context)


@login_required
@require_POST
def notification_read(request: HttpRequest, notification_id: int) -> HttpResponseRedirect:
    """Mark the notification read and follow its link. The redirect goes only to the stored path, which the
    service accepted as a path on this site; it is checked again here so a bad row can never redirect off-site."""
    try:
        notification = services.notification_mark_read(user=_user(request), notification_id=notification_id)
    except NotFound as error:
        raise Http404(error.message) from error
    url = notification.url
    if url and site_path_is_safe(url) and url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        return HttpResponseRedirect(url)
    return HttpResponseRedirect(reverse("notification_list"))


@login_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponseRedirect:
    count = services.notifications_mark_all_read(user=_user(request))
    if count:
        messages.success(request, f"{count} notification{'' if count == 1 else 's'} marked read.")
    return redirect("notification_list")


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method != "POST":
        form = NotificationPreferencesForm.for_preference(selectors.notification_preferences_get(user=user))
        return TemplateResponse(request, "notifications/settings.html", {"form": form})
    form = NotificationPreferencesForm(request.POST)
    if form.is_valid():
        try:
            services.notification_preferences_update(user=user, **form.service_arguments())
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Your notification preferences were saved.")
            return redirect("notification_settings")
    return TemplateResponse(request, "notifications/settings.html", {"form": form}, status=400)

"""Billing pages: a creator's plans for one listing (list, create, edit, archive). The views parse a form, call one
service from `services/plans.py` (the same ones the JSON API in `api/plans.py` calls) and render. The create form
shows one kind at a time, chosen by tabs that are plain links (`?kind=subscription`), so no script is needed to
show the fields that kind uses. Actions are POST-only and CSRF-protected; refusals show the service's message."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.views.decorators.http import require_http_methods, require_POST

from modelmarket.billing.forms import PlanForm
from modelmarket.billing.models import Plan, PlanKind
from modelmarket.billing.selectors.plans import (
    plan_get_for_editing,
    plan_limits_text,
    plan_terms_text,
    plans_for_editing,
)
from modelmarket.billing.services.plans import MAX_ACTIVE_PLANS, plan_archive, plan_create, plan_update
from modelmarket.catalog.models import AIModel
from modelmarket.catalog.selectors.models import model_get_for_editing, user_is_catalog_staff
from modelmarket.core.exceptions import ApplicationError, NotFound, PermissionDenied

DEFAULT_KIND = PlanKind.ONE_TIME
KIND_TABS: list[tuple[str, str, str]] = [
    (PlanKind.ONE_TIME, "One-time", "One payment for lifetime access."),
    (
        PlanKind.SUBSCRIPTION,
        "Subscription",
        "Charged every month or every year; access lasts while the buyer keeps paying.",
    ),
    (PlanKind.TIME_PASS, "Time pass", "One payment for an hour, a day or a week of access."),
    (
        PlanKind.PAY_AS_YOU_GO,
        "Pay as you go",
        "Buyers pay from prepaid credit per request, per 1,000 tokens or per compute second.",
    ),
    (PlanKind.FREE, "Free", "Anyone with an API key may call the model, within the limits you set."),
]
# Which form field a service refusal belongs to; anything else is shown above the form.
ERROR_FIELDS = {
    "invalid_plan_name": "name",
    "unknown_currency": "currency",
    "invalid_amount": "price",
    "negative_amount": "price",
    "amount_precision": "price",
    "amount_too_large": "price",
    "price_required": "price",
    "price_not_allowed": "price",
    "invalid_interval": "interval",
    "invalid_pass_duration": "pass_duration",
    "invalid_quota_period": "quota_period",
}


def _attach_error(form: PlanForm, error: ApplicationError) -> None:
    """The refusal on its field when the form shows that field (rates and limits name theirs), else above."""
    field = error.details.get("field") or ERROR_FIELDS.get(error.code)
    form.add_error(field if field in form.fields else None, error.message)


type PlanView = Callable[Concatenate[HttpRequest, AIModel, ...], HttpResponse]


def with_editable_model(view: PlanView) -> Callable[..., HttpResponse]:
    """Resolve `slug` to a listing the user may change: 404 when they may not see it, a 403 page when they may see
    it but it is not theirs (as the catalog's own creator pages do)."""

    @wraps(view)
    def wrapper(request: HttpRequest, slug: str, **kwargs: Any) -> HttpResponse:
        try:
            model = model_get_for_editing(actor=request.user, slug=slug)
        except NotFound as error:
            raise Http404(error.message) from error
        except PermissionDenied as error:
            return TemplateResponse(
                request, "catalog/creator/forbidden.html", {"message": error.message}, status=403
            )
        return view(request, model, **kwargs)

    return wrapper


def _plan(request: HttpRequest, model: AIModel, plan_id: str) -> Plan:
    try:
        return plan_get_for_editing(actor=request.user, public_id=plan_id, model=model)
    except NotFound as error:
        raise Http404(error.message) from error


def _plan_rows(request: HttpRequest, model: AIModel) -> list[dict[str, Any]]:
    plans = plans_for_editing(actor=request.user, model=model)
    return [
        {"plan": plan, "terms": plan_terms_text(plan), "limits": plan_limits_text(plan)} for plan in plans
    ]


def _kind(value: str | None) -> str:
    return value if value in PlanKind.values else DEFAULT_KIND


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> TemplateResponse:
    context = {"is_catalog_staff": user_is_catalog_staff(request.user), **context}
    return TemplateResponse(request, template, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@with_editable_model
def plans_manage(request: HttpRequest, model: AIModel) -> HttpResponse:
    """`/creator/models/<slug>/plans/`: the listing's plans, and a form to add one of the chosen kind."""
    kind = _kind(request.POST.get("kind") if request.method == "POST" else request.GET.get("kind"))
    if request.method == "POST":
        form = PlanForm(request.POST, kind=kind)
        if form.is_valid():
            try:
                plan = plan_create(model=model, terms=form.terms())
            except ApplicationError as error:
                _attach_error(form, error)
            else:
                messages.success(request, f"“{plan.name}” is on sale: it shows on the model's page.")
                return redirect("billing_plans_manage", slug=model.slug)
    else:
        form = PlanForm(kind=kind)
    plans = _plan_rows(request, model)
    context = {
        "model": model,
        "plans": plans,
        "form": form,
        "kind": kind,
        "kind_tabs": KIND_TABS,
        "kind_help": next(text for value, _, text in KIND_TABS if value == kind),
        "active_count": sum(1 for row in plans if row["plan"].is_active),
        "max_plans": MAX_ACTIVE_PLANS,
    }
    status = 400 if request.method == "POST" else 200
    return _render(request, "billing/plans_manage.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@with_editable_model
def plan_edit(request: HttpRequest, model: AIModel, plan_id: str) -> HttpResponse:
    """`/creator/models/<slug>/plans/<plan_id>/edit/`: change a plan's terms (not its kind or currency)."""
    plan = _plan(request, model, plan_id)
    form = PlanForm(request.POST if request.method == "POST" else None, kind=plan.kind, plan=plan)
    if request.method == "POST" and form.is_valid():
        try:
            plan = plan_update(plan=plan, terms=form.terms())
        except ApplicationError as error:
            _attach_error(form, error)
        else:
            messages.success(request, f"“{plan.name}” was saved. Orders already pending keep their price.")
            return redirect("billing_plans_manage", slug=model.slug)
    context = {"model": model, "plan": plan, "form": form, "terms": plan_terms_text(plan)}
    return _render(
        request, "billing/plans_edit.html", context, status=400 if request.method == "POST" else 200
    )


@login_required
@require_POST
@with_editable_model
def plan_archive_view(request: HttpRequest, model: AIModel, plan_id: str) -> HttpResponse:
    """Stop selling a plan; buyers keep what they bought until it ends."""
    plan = plan_archive(plan=_plan(request, model, plan_id))
    messages.success(request, f"“{plan.name}” is archived: no one can buy it any more.")
    return redirect("billing_plans_manage", slug=model.slug)


urlpatterns: list[URLPattern] = [
    path("creator/models/<slug:slug>/plans/", plans_manage, name="billing_plans_manage"),
    path("creator/models/<slug:slug>/plans/<str:plan_id>/edit/", plan_edit, name="billing_plan_edit"),
    path(
        "creator/models/<slug:slug>/plans/<str:plan_id>/archive/",
        plan_archive_view,
        name="billing_plan_archive",
    ),
]

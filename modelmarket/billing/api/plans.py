"""Billing API: a listing's plans. Anyone who may see a listing reads its active plans; its creator (or catalog staff)
creates, changes and archives them. Prices and rates travel in whole units as decimal strings ("10.5", "0.001"),
converted exactly to minor units by `billing.forms` (the same parsers as the creator's pages); `price_minor` may be
sent instead of `price`. Permission: `catalog.selectors.models.model_get_for_editing` (drafts of others 404,
public listings of others 403)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Header, Router, Schema
from pydantic import Field

from modelmarket.accounts.authentication import api_auth, api_auth_optional
from modelmarket.accounts.models import ApiKeyScope, User
from modelmarket.billing.forms import amount_to_minor, currency_decimals_active, rate_to_minor
from modelmarket.billing.models import Plan, PlanKind
from modelmarket.billing.selectors.plans import (
    RATE_KEYS,
    plan_get_for_editing,
    plan_limits_text,
    plan_price_amount,
    plan_rates,
    plan_terms_text,
    plans_public_list,
)
from modelmarket.billing.services.plans import (
    PlanTerms,
    plan_archive,
    plan_create,
    plan_terms_of,
    plan_update,
)
from modelmarket.catalog.models import AIModel
from modelmarket.catalog.selectors.models import model_get_for_editing
from modelmarket.core.api.idempotency import idempotent
from modelmarket.core.api.schemas import ERROR_RESPONSES, StrictIn
from modelmarket.core.exceptions import BadRequest

router = Router(tags=["billing"])
WRITE = api_auth(ApiKeyScope.MANAGE)
READ_OPTIONAL = api_auth_optional(ApiKeyScope.READ)
PRICED_KINDS = (PlanKind.ONE_TIME, PlanKind.SUBSCRIPTION, PlanKind.TIME_PASS)
# Input key (rates.<key>) -> the plan's field.
RATE_FIELDS = {key: name for name, key in RATE_KEYS.items()}
CLEARABLE = ("requests_per_minute", "request_quota", "token_quota")


class RatesIn(StrictIn):
    """Pay-as-you-go prices in whole units of the plan's currency, as decimal strings ("0.001")."""

    per_request: str | None = Field(default=None, max_length=60)
    per_1k_input_tokens: str | None = Field(default=None, max_length=60)
    per_1k_output_tokens: str | None = Field(default=None, max_length=60)
    per_compute_second: str | None = Field(default=None, max_length=60)


class PlanIn(StrictIn):
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=300)
    kind: str = Field(description="free, one_time, subscription, time_pass or payg.")
    currency: str = Field(default="USDC", max_length=10)
    price: str | None = Field(
        default=None,
        max_length=60,
        description='Whole units as a decimal string, e.g. "10.5". Or price_minor.',
    )
    price_minor: int | None = Field(default=None, description="The price in minor units, instead of price.")
    interval: str = Field(default="", max_length=10, description="Subscriptions: month or year.")
    pass_duration: str = Field(default="", max_length=10, description="Time passes: hour, day or week.")
    rates: RatesIn | None = None
    requests_per_minute: int | None = None
    request_quota: int | None = None
    token_quota: int | None = None
    quota_period: str = Field(default="month", max_length=10, description="day or month.")
    position: int = Field(default=0, ge=0, le=32_767)


class PlanPatchIn(StrictIn):
    """Only the fields sent change. A plan's kind and currency never change (409 `plan_terms_locked`)."""

    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=300)
    kind: str | None = None
    currency: str | None = Field(default=None, max_length=10)
    price: str | None = Field(default=None, max_length=60)
    price_minor: int | None = None
    interval: str | None = Field(default=None, max_length=10)
    pass_duration: str | None = Field(default=None, max_length=10)
    rates: RatesIn | None = None
    requests_per_minute: int | None = None
    request_quota: int | None = None
    token_quota: int | None = None
    quota_period: str | None = Field(default=None, max_length=10)
    position: int | None = Field(default=None, ge=0, le=32_767)


class RatesOut(Schema):
    per_request: str
    per_1k_input_tokens: str
    per_1k_output_tokens: str
    per_compute_second: str


class LimitsOut(Schema):
    requests_per_minute: int | None
    request_quota: int | None
    token_quota: int | None
    quota_period: str


class PlanOut(Schema):
    id: str
    name: str
    description: str
    terms: str = Field(description='The price in words: "5.00 USDC / month".')
    kind: str
    currency: str
    price_minor: int
    price: str = Field(description='Whole units as a decimal string: "10.50".')
    interval: str
    pass_duration: str
    rates: RatesOut
    limits: LimitsOut
    quotas: list[str] = Field(description='The limits in words: "1,000 requests / month".')
    is_active: bool
    archived_at: datetime | None


class PlanList(Schema):
    items: list[PlanOut]


def plan_out(plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.public_id,
        "name": plan.name,
        "description": plan.description,
        "terms": plan_terms_text(plan),
        "kind": plan.kind,
        "currency": plan.currency_id,
        "price_minor": plan.price_minor,
        "price": plan_price_amount(plan),
        "interval": plan.interval,
        "pass_duration": plan.pass_duration,
        "rates": plan_rates(plan),
        "limits": {
            "requests_per_minute": plan.requests_per_minute,
            "request_quota": plan.request_quota,
            "token_quota": plan.token_quota,
            "quota_period": plan.quota_period,
        },
        "quotas": plan_limits_text(plan),
        "is_active": plan.is_active,
        "archived_at": plan.archived_at,
    }


def _actor(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def _price_minor(payload: PlanIn | PlanPatchIn, decimals: int) -> int | None:
    """The price from `price` (whole units) or `price_minor`; None when neither was sent."""
    if payload.price is not None and payload.price_minor is not None:
        raise BadRequest("Send price or price_minor, not both.", code="price_conflict")
    if payload.price is not None:
        return amount_to_minor(payload.price, decimals=decimals)
    return payload.price_minor


def _rates(rates: RatesIn | None, decimals: int) -> dict[str, Any]:
    if rates is None:
        return {}
    sent = rates.model_dump(exclude_none=True)
    return {
        RATE_FIELDS[key]: rate_to_minor(value, decimals=decimals, field=f"rates.{key}")
        for key, value in sent.items()
    }


def _terms_for_create(payload: PlanIn) -> PlanTerms:
    currency = payload.currency.upper()
    decimals = currency_decimals_active(currency)
    price_minor = _price_minor(payload, decimals)
    return PlanTerms(
        name=payload.name,
        kind=payload.kind,
        currency=currency,
        description=payload.description,
        price_minor=0 if price_minor is None else price_minor,
        interval=payload.interval,
        pass_duration=payload.pass_duration,
        requests_per_minute=payload.requests_per_minute,
        request_quota=payload.request_quota,
        token_quota=payload.token_quota,
        quota_period=payload.quota_period,
        position=payload.position,
        **_rates(payload.rates, decimals),
    )


def _terms_for_update(plan: Plan, payload: PlanPatchIn) -> PlanTerms:
    """The plan's current terms with what the payload sets; amounts in the plan's currency. `null` clears a limit
    and leaves any other field as it is."""
    changes: dict[str, Any] = {}
    for name, value in payload.model_dump(exclude_unset=True).items():
        if name in ("price", "price_minor", "rates") or (value is None and name not in CLEARABLE):
            continue
        changes[name] = value.upper() if name == "currency" else value
    decimals = plan.currency.decimals
    price_minor = _price_minor(payload, decimals)
    if price_minor is not None:
        changes["price_minor"] = price_minor
    changes.update(_rates(payload.rates, decimals))
    return replace(plan_terms_of(plan), **changes)


def _editable_model(request: HttpRequest, slug: str) -> AIModel:
    return model_get_for_editing(actor=_actor(request), slug=slug)


@router.get("/models/{slug}/plans", response={200: PlanList, **ERROR_RESPONSES}, auth=READ_OPTIONAL)
def list_plans(request: HttpRequest, slug: str, include_archived: bool = False) -> dict[str, Any]:
    """A listing's plans by position: active ones for everyone who may see the listing; with
    `include_archived=true`, its creator (and staff) also get archived ones."""
    plans = plans_public_list(viewer=request.user, slug=slug, include_archived=include_archived)
    return {"items": [plan_out(plan) for plan in plans]}


@router.post("/models/{slug}/plans", response={201: PlanOut, **ERROR_RESPONSES}, auth=WRITE)
def create_plan(
    request: HttpRequest,
    slug: str,
    payload: PlanIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> JsonResponse:
    """Offer a new plan on your listing (at most 10 active). Bad terms answer 400 with a code naming what is
    wrong (`amount_precision`, `unknown_currency`, `invalid_interval`, `rate_not_allowed`...) and write nothing."""
    model = _editable_model(request, slug)

    def run() -> tuple[int, dict[str, Any]]:
        plan = plan_create(model=model, terms=_terms_for_create(payload))
        return 201, PlanOut.model_validate(plan_out(plan)).model_dump(mode="json")

    return idempotent(request, key=idempotency_key, owner=f"user:{_actor(request).pk}", run=run)


@router.patch("/models/{slug}/plans/{plan_id}", response={200: PlanOut, **ERROR_RESPONSES}, auth=WRITE)
def update_plan(request: HttpRequest, slug: str, plan_id: str, payload: PlanPatchIn) -> dict[str, Any]:
    """Change a plan's terms. Pending orders keep the price they were created with."""
    model = _editable_model(request, slug)
    plan = plan_get_for_editing(actor=_actor(request), public_id=plan_id, model=model)
    return plan_out(plan_update(plan=plan, terms=_terms_for_update(plan, payload)))


@router.delete("/models/{slug}/plans/{plan_id}", response={204: None, **ERROR_RESPONSES}, auth=WRITE)
def archive_plan(request: HttpRequest, slug: str, plan_id: str) -> HttpResponse:
    """Stop selling a plan (archive it). Buyers keep what they bought until it ends. Archiving twice is harmless."""
    model = _editable_model(request, slug)
    plan_archive(plan=plan_get_for_editing(actor=_actor(request), public_id=plan_id, model=model))
    return HttpResponse(status=204)

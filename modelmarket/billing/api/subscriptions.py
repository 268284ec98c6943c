"""Billing API: the caller's subscriptions, time passes and other access (entitlements), and cancelling a
subscription at period end or resuming it. Someone else's entitlement is 404."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from modelmarket.accounts.authentication import api_auth
from modelmarket.accounts.models import ApiKeyScope, User
from modelmarket.billing.models import Entitlement
from modelmarket.billing.selectors import subscriptions as selectors
from modelmarket.billing.services import subscriptions as services
from modelmarket.core.api.pagination import paginate
from modelmarket.core.api.schemas import ERROR_RESPONSES

router = Router(tags=["billing"])


class SubscriptionModelOut(Schema):
    slug: str
    name: str


class SubscriptionPlanOut(Schema):
    id: str
    name: str
    kind: str
    interval: str
    pass_duration: str


class SubscriptionOut(Schema):
    id: str
    model: SubscriptionModelOut
    plan: SubscriptionPlanOut
    status: str = Field(description="active, grace, expired or revoked.")
    starts_at: datetime
    ends_at: datetime | None = Field(description="End of the paid period; null for lifetime access.")
    grace_ends_at: datetime | None
    cancel_at_period_end: bool
    cancellable: bool = Field(
        description="A running subscription: it can be cancelled at period end or resumed."
    )
    renewal: str = Field(description="helio (renew at renewal_url), order (order the plan again) or none.")
    renewal_url: str | None = Field(
        description="Helio's charge page for the next period, when renewal is helio."
    )


class SubscriptionListOut(Schema):
    items: list[SubscriptionOut]
    next_cursor: str | None


class SubscriptionListQuery(Schema):
    cursor: str | None = None
    limit: int | None = Field(default=None, description="1 to 100 (default 20).")


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def subscription_out(entitlement: Entitlement) -> dict[str, Any]:
    renewal = selectors.entitlement_renewal(entitlement)
    plan = entitlement.plan
    return {
        "id": entitlement.public_id,
        "model": {"slug": entitlement.model.slug, "name": entitlement.model.name},
        "plan": {
            "id": plan.public_id,
            "name": plan.name,
            "kind": plan.kind,
            "interval": plan.interval,
            "pass_duration": plan.pass_duration,
        },
        "status": entitlement.status,
        "starts_at": entitlement.starts_at,
        "ends_at": entitlement.ends_at,
        "grace_ends_at": entitlement.grace_ends_at,
        "cancel_at_period_end": entitlement.cancel_at_period_end,
        "cancellable": selectors.entitlement_is_cancellable(entitlement),
        "renewal": renewal.kind,
        "renewal_url": renewal.url or None,
    }


@router.get(
    "/subscriptions",
    response={200: SubscriptionListOut, **ERROR_RESPONSES},
    auth=api_auth(ApiKeyScope.READ),
)
def subscriptions_list(request: HttpRequest, query: Query[SubscriptionListQuery]) -> dict[str, Any]:
    """Your entitlements — subscriptions, time passes, lifetime access — newest first."""
    page = paginate(
        selectors.entitlements_for_buyer(buyer=_user(request)),
        order_field="created_at",
        cursor=query.cursor,
        limit=query.limit,
    )
    return {"items": [subscription_out(item) for item in page.items], "next_cursor": page.next_cursor}


@router.post(
    "/subscriptions/{entitlement_id}/cancel",
    response={200: SubscriptionOut, **ERROR_RESPONSES},
    auth=api_auth(ApiKeyScope.MANAGE),
)
def subscription_cancel(request: HttpRequest, entitlement_id: str) -> dict[str, Any]:
    """Stop renewing: access continues until the paid period ends, then ends without grace. 409 when the
    entitlement is not a running subscription."""
    services.subscription_cancel(buyer=_user(request), entitlement_id=entitlement_id)
    return subscription_out(
        selectors.entitlement_get_for_buyer(buyer=_user(request), entitlement_id=entitlement_id)
    )


@router.post(
    "/subscriptions/{entitlement_id}/resume",
    response={200: SubscriptionOut, **ERROR_RESPONSES},
    auth=api_auth(ApiKeyScope.MANAGE),
)
def subscription_resume(request: HttpRequest, entitlement_id: str) -> dict[str, Any]:
    """Undo a cancellation while the subscription still runs."""
    services.subscription_resume(buyer=_user(request), entitlement_id=entitlement_id)
    return subscription_out(
        selectors.entitlement_get_for_buyer(buyer=_user(request), entitlement_id=entitlement_id)
    )

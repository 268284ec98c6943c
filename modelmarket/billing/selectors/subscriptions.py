"""Reads for a buyer's subscriptions and time passes: their entitlements (only their own: anyone else's is
NotFound), and how each one is renewed — through Helio's charge page (`next_charge_url`, shown only when it is an
https URL on hel.io) or by ordering the same plan again (time passes, sandbox subscriptions, ended ones)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from django.db.models import Case, F, IntegerField, QuerySet, Value, When

from modelmarket.accounts.models import User
from modelmarket.billing.models import Entitlement, EntitlementStatus, PlanKind
from modelmarket.core.exceptions import NotFound

HELIO_HOST = "hel.io"
RUNNING = (EntitlementStatus.ACTIVE, EntitlementStatus.GRACE)
RENEWABLE_KINDS = (PlanKind.SUBSCRIPTION, PlanKind.TIME_PASS)


def renewal_url_is_safe(url: str) -> bool:
    """True for an https URL on hel.io or one of its subdomains (`app.hel.io`, `app.dev.hel.io`); nothing else is
    ever stored as a renewal link or shown as one (a webhook's `nextChargeUrl` is data from outside)."""
    if not isinstance(url, str) or not url or len(url) > 500 or any(ord(c) <= 0x20 for c in url):
        return False
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "https" or parts.username or parts.password or port not in (None, 443):
        return False
    return host == HELIO_HOST or host.endswith("." + HELIO_HOST)


@dataclass(frozen=True, slots=True)
class Renewal:
    """How the buyer renews: `helio` (a link to Helio's charge page), `order` (order the same plan again), or
    `none` (lifetime access, revoked, a retired plan, or a Helio subscription whose link has not come yet)."""

    kind: Literal["helio", "order", "none"]
    url: str = ""


def entitlement_renewal(entitlement: Entitlement) -> Renewal:
    plan = entitlement.plan
    if plan.kind not in RENEWABLE_KINDS or entitlement.status == EntitlementStatus.REVOKED:
        return Renewal("none")
    if (
        plan.kind == PlanKind.SUBSCRIPTION
        and entitlement.cancel_at_period_end
        and entitlement.status in RUNNING
    ):
        return Renewal("none")  # the buyer chose to stop renewing: "Resume" is the way back
    if (
        plan.kind == PlanKind.SUBSCRIPTION
        and entitlement.helio_subscription_id
        and entitlement.status in RUNNING
    ):
        if renewal_url_is_safe(entitlement.next_charge_url):
            return Renewal("helio", entitlement.next_charge_url)
        return Renewal("none")
    if not plan.is_active or plan.archived_at is not None:
        return Renewal("none")
    return Renewal("order")


def entitlement_is_cancellable(entitlement: Entitlement) -> bool:
    """A running subscription can be set to end at its period's end (and resumed while it still runs)."""
    return entitlement.plan.kind == PlanKind.SUBSCRIPTION and entitlement.status in RUNNING


def entitlements_for_buyer(*, buyer: User) -> QuerySet[Entitlement]:
    """The buyer's entitlements: running ones first, the soonest to end first; then ended ones, latest first."""
    running_first = Case(
        When(status__in=RUNNING, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return (
        Entitlement.objects.filter(buyer=buyer)
        .select_related("plan", "model")
        .annotate(running_first=running_first)
        .order_by("running_first", F("ends_at").asc(nulls_last=True), "-pk")
    )


def entitlement_get_for_buyer(*, buyer: User, entitlement_id: str) -> Entitlement:
    """One of the buyer's own entitlements by public id; anyone else's (or none) is NotFound."""
    entitlement = (
        Entitlement.objects.filter(buyer=buyer, public_id=entitlement_id)
        .select_related("plan", "model")
        .first()
    )
    if entitlement is None:
        raise NotFound("No such subscription.", code="subscription_not_found")
    return entitlement

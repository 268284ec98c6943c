"""Subscriptions and time passes after they start: periods that end (grace, then expired) by our own clock, reminders
before the end, and the buyer's "cancel at period end" and its undoing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse

from modelmarket.accounts.models import User
from modelmarket.billing.models import (
    Entitlement,
    EntitlementStatus,
    PassDuration,
    PlanKind,
)
from modelmarket.billing.selectors.subscriptions import (
    entitlement_get_for_buyer,
    entitlement_is_cancellable,
)
from modelmarket.billing.services import entitlements
from modelmarket.billing.services.subscriptions.common import (
    RUNNING,
    locked_entitlements,
    moment_stamp,
    moment_text,
    one_line,
)
from modelmarket.core.exceptions import Conflict
from modelmarket.notifications.models import NotificationKind
from modelmarket.notifications.services import notification_send

logger = logging.getLogger(__name__)

# How long before a time pass ends its holder is reminded. The hourly one is shorter than the pass itself, or the
# reminder would go out the moment the pass is bought.
PASS_REMINDER_WINDOWS = {
    PassDuration.HOUR: timedelta(minutes=15),
    PassDuration.DAY: timedelta(hours=6),
    PassDuration.WEEK: timedelta(days=1),
}


# --- Ending -------------------------------------------------------------------------------------------------------
def subscription_end(*, entitlement: Entitlement, now: datetime) -> bool:
    """Caller holds a transaction. Helio ended the subscription: expired now, or — while the paid period still
    runs — at the period's end without grace. Returns whether anything changed."""
    if entitlement.status not in RUNNING:
        return False
    if entitlement.next_charge_url:
        entitlement.next_charge_url = ""
        entitlement.save(update_fields=["next_charge_url", "updated_at"])
    if entitlement.ends_at is not None and entitlement.ends_at > now:
        if entitlement.cancel_at_period_end:
            return False
        entitlements.entitlement_cancel_at_period_end(entitlement=entitlement, cancel=True)
        entitlement.cancel_at_period_end = True
        return True
    _expire(entitlement=entitlement, now=now, notify=True)
    return True


def _expire(*, entitlement: Entitlement, now: datetime, notify: bool) -> None:
    ended = entitlements.entitlement_end(entitlement=entitlement, status=EntitlementStatus.EXPIRED, at=now)
    entitlement.status, entitlement.ends_at = ended.status, ended.ends_at
    if not notify:
        return
    model, plan = entitlement.model, entitlement.plan
    notification_send(
        user=entitlement.buyer,
        kind=NotificationKind.SUBSCRIPTION_EXPIRED,
        title=one_line(f"{model.name}: your {plan.name} access has ended"),
        body="Your access through this plan has ended. You can subscribe again from your subscriptions page.",
        url=reverse("billing_subscriptions"),
        dedupe_key=f"subscription_expired:{entitlement.public_id}:{moment_stamp(ended.ends_at or now)}",
    )


# --- The clock ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LifecycleSummary:
    graced: int
    expired: int
    reminded: int


def subscriptions_advance(*, now: datetime) -> LifecycleSummary:
    """Move entitlements along by the clock; each change in its own transaction, re-checked under the row lock
    (a renewal may land between the read and the change):
    - a subscription past its period end enters grace (`BILLING_GRACE_DAYS`), or expires when it was cancelled
      at period end;
    - grace past `grace_ends_at` expires (notified);
    - a time pass (or any other dated access) past its end expires — passes have no grace;
    - entitlements ending soon are reminded once per period end (`reminded_for_period_end`)."""
    graced = expired = reminded = 0
    due = Entitlement.objects.filter(status=EntitlementStatus.ACTIVE, ends_at__lte=now)
    for pk in list(due.values_list("pk", flat=True)):
        outcome = _period_over(entitlement_id=pk, now=now)
        graced += outcome == EntitlementStatus.GRACE
        expired += outcome == EntitlementStatus.EXPIRED
    grace_over = Entitlement.objects.filter(status=EntitlementStatus.GRACE).filter(
        Q(grace_ends_at__lte=now) | Q(grace_ends_at__isnull=True)
    )
    for pk in list(grace_over.values_list("pk", flat=True)):
        expired += _grace_over(entitlement_id=pk, now=now)
    for pk in _reminder_candidates(now):
        with transaction.atomic():
            entitlement = _locked(pk)
            if entitlement is not None and entitlement.status == EntitlementStatus.ACTIVE:
                reminded += entitlement_remind(entitlement=entitlement, now=now)
    return LifecycleSummary(graced=graced, expired=expired, reminded=reminded)


def _locked(pk: int) -> Entitlement | None:
    return locked_entitlements().filter(pk=pk).first()


@transaction.atomic
def _period_over(*, entitlement_id: int, now: datetime) -> str | None:
    entitlement = _locked(entitlement_id)
    if entitlement is None or entitlement.status != EntitlementStatus.ACTIVE:
        return None
    if entitlement.ends_at is None or entitlement.ends_at > now:
        return None
    if entitlement.plan.kind != PlanKind.SUBSCRIPTION:
        _expire(entitlement=entitlement, now=now, notify=False)
        return EntitlementStatus.EXPIRED
    if entitlement.cancel_at_period_end:
        _expire(entitlement=entitlement, now=now, notify=True)
        return EntitlementStatus.EXPIRED
    grace_ends_at = entitlement.ends_at + timedelta(days=settings.BILLING_GRACE_DAYS)
    entitlements.entitlement_grace_start(entitlement=entitlement, grace_ends_at=grace_ends_at)
    return EntitlementStatus.GRACE


@transaction.atomic
def _grace_over(*, entitlement_id: int, now: datetime) -> bool:
    entitlement = _locked(entitlement_id)
    if entitlement is None or entitlement.status != EntitlementStatus.GRACE:
        return False
    grace_ends_at = entitlement.grace_ends_at or (
        (entitlement.ends_at or now) + timedelta(days=settings.BILLING_GRACE_DAYS)
    )
    if grace_ends_at > now:
        return False
    _expire(entitlement=entitlement, now=now, notify=True)
    return True


def reminder_window(entitlement: Entitlement) -> timedelta | None:
    """How long before its end an entitlement is reminded: BILLING_REMINDER_DAYS for subscriptions, by length for
    time passes, never for lifetime access."""
    plan = entitlement.plan
    if plan.kind == PlanKind.SUBSCRIPTION:
        return timedelta(days=settings.BILLING_REMINDER_DAYS)
    if plan.kind == PlanKind.TIME_PASS:
        return PASS_REMINDER_WINDOWS.get(PassDuration(plan.pass_duration)) if plan.pass_duration else None
    return None


def _reminder_candidates(now: datetime) -> list[int]:
    longest = max([timedelta(days=settings.BILLING_REMINDER_DAYS), *PASS_REMINDER_WINDOWS.values()])
    rows = (
        Entitlement.objects.filter(
            status=EntitlementStatus.ACTIVE,
            cancel_at_period_end=False,
            ends_at__gt=now,
            ends_at__lte=now + longest,
            plan__kind__in=[PlanKind.SUBSCRIPTION, PlanKind.TIME_PASS],
        )
        .filter(Q(reminded_for_period_end__isnull=True) | ~Q(reminded_for_period_end=F("ends_at")))
        .select_related("plan")
    )
    return [
        row.pk
        for row in rows
        if (window := reminder_window(row)) is not None
        and row.ends_at is not None
        and row.ends_at - now <= window
    ]


def entitlement_remind(*, entitlement: Entitlement, now: datetime) -> bool:
    """Caller holds a transaction. Remind the buyer that the current period ends soon, once per period end: the
    claim on `reminded_for_period_end` and the notification (with its email) commit together."""
    ends_at = entitlement.ends_at
    if ends_at is None or ends_at <= now or entitlement.cancel_at_period_end:
        return False
    claimed = (
        Entitlement.objects.filter(pk=entitlement.pk, ends_at=ends_at)
        .filter(Q(reminded_for_period_end__isnull=True) | ~Q(reminded_for_period_end=ends_at))
        .update(reminded_for_period_end=ends_at)
    )
    if not claimed:
        return False
    entitlement.reminded_for_period_end = ends_at
    model, plan = entitlement.model, entitlement.plan
    when = moment_text(ends_at)
    is_pass = plan.kind == PlanKind.TIME_PASS
    if is_pass:
        title = f"{model.name}: your {plan.name} pass ends {when}"
        body = "Buy another pass from your subscriptions page to keep access without a break."
    elif entitlement.helio_subscription_id:
        title = f"{model.name}: renew your {plan.name} subscription by {when}"
        body = (
            "Renew through Helio with the link on your subscriptions page. After the period ends you keep "
            f"access for {settings.BILLING_GRACE_DAYS} days of grace."
        )
    else:
        title = f"{model.name}: renew your {plan.name} subscription by {when}"
        body = "Pay for the next period from your subscriptions page to keep access without a break."
    notification_send(
        user=entitlement.buyer,
        kind=NotificationKind.PASS_EXPIRING if is_pass else NotificationKind.SUBSCRIPTION_RENEWAL_DUE,
        title=one_line(title),
        body=body,
        url=reverse("billing_subscriptions"),
        dedupe_key=f"renewal_due:{entitlement.public_id}:{moment_stamp(ends_at)}",
    )
    return True


# --- The buyer's own actions --------------------------------------------------------------------------------------
@transaction.atomic
def subscription_cancel(*, buyer: User, entitlement_id: str) -> Entitlement:
    """Stop renewing: access continues to the end of the paid period, then ends without grace."""
    entitlement = _cancellable(buyer=buyer, entitlement_id=entitlement_id)
    return entitlements.entitlement_cancel_at_period_end(entitlement=entitlement, cancel=True)


@transaction.atomic
def subscription_resume(*, buyer: User, entitlement_id: str) -> Entitlement:
    """Undo a cancellation while the subscription still runs."""
    entitlement = _cancellable(buyer=buyer, entitlement_id=entitlement_id)
    return entitlements.entitlement_cancel_at_period_end(entitlement=entitlement, cancel=False)


def _cancellable(*, buyer: User, entitlement_id: str) -> Entitlement:
    entitlement = entitlement_get_for_buyer(buyer=buyer, entitlement_id=entitlement_id)
    if not entitlement_is_cancellable(entitlement):
        raise Conflict(
            "Only a running subscription can be cancelled at period end or resumed.",
            code="subscription_not_running",
            details={"status": entitlement.status, "kind": entitlement.plan.kind},
        )
    return entitlement

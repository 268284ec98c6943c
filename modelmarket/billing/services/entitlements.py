"""Granting, extending and ending access. One `Entitlement` row per (buyer, plan): a repeat purchase or a renewal
extends it from whichever is later, now or its current end. Every change bumps the gateway generation, so a
gateway worker drops its cached grants within a second (`core.generation`)."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from modelmarket.billing.models import (
    Entitlement,
    EntitlementStatus,
    Order,
    PassDuration,
    Plan,
    PlanKind,
    SubscriptionInterval,
)
from modelmarket.core.generation import generation_bump

PASS_LENGTHS = {
    PassDuration.HOUR: timedelta(hours=1),
    PassDuration.DAY: timedelta(days=1),
    PassDuration.WEEK: timedelta(weeks=1),
}


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def period_end(*, kind: str, interval: str = "", pass_duration: str = "", start: datetime) -> datetime | None:
    """When access bought at `start` ends; None for lifetime access (one-time plans)."""
    if kind == PlanKind.SUBSCRIPTION:
        return add_months(start, 12 if interval == SubscriptionInterval.YEAR else 1)
    if kind == PlanKind.TIME_PASS:
        return start + PASS_LENGTHS[PassDuration(pass_duration)]
    if kind == PlanKind.ONE_TIME:
        return None
    raise ValueError(f"{kind} plans are not bought")


def _entitlement_for(*, buyer_id: int, plan: Plan, now: datetime) -> Entitlement:
    """The (buyer, plan) row, locked for update; created inactive-looking (ends now) when new."""
    rows = Entitlement.objects.select_for_update()
    existing = rows.filter(buyer_id=buyer_id, plan=plan).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Entitlement.objects.create(
                buyer_id=buyer_id,
                model_id=plan.model_id,
                plan=plan,
                status=EntitlementStatus.EXPIRED,
                starts_at=now,
                ends_at=now + timedelta(microseconds=1),
            )
    except IntegrityError:
        return rows.get(buyer_id=buyer_id, plan=plan)


@transaction.atomic
def entitlement_grant(*, order: Order, paid_at: datetime | None = None) -> Entitlement:
    """Give the buyer of a paid plan order what the order's plan snapshot promised, from `paid_at`. Idempotent per
    order: granting the same order twice extends nothing."""
    assert order.plan is not None
    now = paid_at or timezone.now()
    entitlement = _entitlement_for(buyer_id=order.buyer_id, plan=order.plan, now=now)
    if entitlement.last_order_id == order.pk:
        return entitlement
    terms = order.plan_snapshot
    still_running = entitlement.status in (EntitlementStatus.ACTIVE, EntitlementStatus.GRACE) and (
        entitlement.ends_at is None or entitlement.ends_at > now
    )
    start = entitlement.ends_at if still_running and entitlement.ends_at else now
    if not still_running:
        entitlement.starts_at = now
    entitlement.ends_at = (
        None
        if still_running and entitlement.ends_at is None
        else period_end(
            kind=terms["kind"],
            interval=terms.get("interval", ""),
            pass_duration=terms.get("pass_duration", ""),
            start=start,
        )
    )
    entitlement.status = EntitlementStatus.ACTIVE
    entitlement.grace_ends_at = None
    entitlement.last_order = order
    entitlement.save()
    generation_bump()
    return entitlement


@transaction.atomic
def entitlement_extend(
    *, entitlement: Entitlement, until: datetime, next_charge_url: str = ""
) -> Entitlement:
    """A renewal seen at the provider (e.g. Helio's RENEWED): active until `until` (never shortened)."""
    locked = Entitlement.objects.select_for_update().get(pk=entitlement.pk)
    if locked.ends_at is not None and until > locked.ends_at:
        locked.ends_at = until
    locked.status = EntitlementStatus.ACTIVE
    locked.grace_ends_at = None
    if next_charge_url:
        locked.next_charge_url = next_charge_url
    locked.save()
    generation_bump()
    return locked


@transaction.atomic
def entitlement_end(*, entitlement: Entitlement, status: str, at: datetime | None = None) -> Entitlement:
    """Stop access now: `expired` (period and grace over), or `revoked` (refunded, or ended by staff)."""
    if status not in (EntitlementStatus.EXPIRED, EntitlementStatus.REVOKED):
        raise ValueError("an entitlement ends as expired or revoked")
    locked = Entitlement.objects.select_for_update().get(pk=entitlement.pk)
    locked.status = status
    moment = at or timezone.now()
    if locked.ends_at is None or locked.ends_at > moment:
        locked.ends_at = max(moment, locked.starts_at + timedelta(microseconds=1))
    locked.save()
    generation_bump()
    return locked


@transaction.atomic
def entitlement_grace_start(*, entitlement: Entitlement, grace_ends_at: datetime) -> Entitlement:
    locked = Entitlement.objects.select_for_update().get(pk=entitlement.pk)
    if locked.status == EntitlementStatus.ACTIVE:
        locked.status = EntitlementStatus.GRACE
        locked.grace_ends_at = grace_ends_at
        locked.save()
        generation_bump()
    return locked


@transaction.atomic
def entitlement_cancel_at_period_end(*, entitlement: Entitlement, cancel: bool = True) -> Entitlement:
    """The buyer stops renewing: access continues until the period ends, then expires without grace."""
    locked = Entitlement.objects.select_for_update().get(pk=entitlement.pk)
    locked.cancel_at_period_end = cancel
    locked.save(update_fields=["cancel_at_period_end", "updated_at"])
    return locked

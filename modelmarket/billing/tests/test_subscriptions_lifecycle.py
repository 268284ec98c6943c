"""The subscriptions clock (`subscriptions_advance(now=...)`, a fake clock by explicit `now`): a subscription
past its period end goes to grace, then expires when grace runs out; one cancelled at period end expires without
grace; time passes expire on time without grace; lifetime access is never touched; reminders go out once per
period, within BILLING_REMINDER_DAYS for subscriptions and by length for passes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from modelmarket.billing.models import Entitlement, EntitlementStatus, PlanKind
from modelmarket.billing.services.entitlements import add_months, entitlement_extend
from modelmarket.billing.services.subscriptions import LifecycleSummary, subscriptions_advance
from modelmarket.billing.tests.factories import make_plan
from modelmarket.billing.tests.test_subscriptions_support import (
    NOW,
    helio_settings,
    order_paid,
    pending_order,
    subscription_plan,
)
from modelmarket.notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    helio_settings(settings)


def subscription(**terms):
    """A monthly subscription paid at NOW: its period ends at add_months(NOW, 1)."""
    return order_paid(pending_order(subscription_plan(**terms)), paid_at=NOW)


def time_pass(duration):
    plan = make_plan(
        name=f"{duration} pass", kind=PlanKind.TIME_PASS, pass_duration=duration, price_minor=1_000_000
    )
    return order_paid(pending_order(plan), paid_at=NOW)


def reload(entitlement):
    return Entitlement.objects.get(pk=entitlement.pk)


def notifications(entitlement, kind):
    return Notification.objects.filter(user=entitlement.buyer, kind=kind)


def test_a_running_subscription_is_left_alone():
    entitlement = subscription()
    assert subscriptions_advance(now=NOW + timedelta(days=10)) == LifecycleSummary(
        graced=0, expired=0, reminded=0
    )
    assert reload(entitlement).status == EntitlementStatus.ACTIVE


def test_a_subscription_past_its_period_end_enters_grace_then_expires_when_grace_runs_out():
    entitlement = subscription()
    period_end = add_months(NOW, 1)

    summary = subscriptions_advance(now=period_end + timedelta(minutes=1))
    entitlement = reload(entitlement)
    assert summary.graced == 1
    assert (entitlement.status, entitlement.grace_ends_at, entitlement.ends_at) == (
        EntitlementStatus.GRACE,
        period_end + timedelta(days=3),
        period_end,
    )

    assert subscriptions_advance(now=period_end + timedelta(days=2)).expired == 0
    assert reload(entitlement).status == EntitlementStatus.GRACE

    summary = subscriptions_advance(now=period_end + timedelta(days=3, seconds=1))
    entitlement = reload(entitlement)
    assert summary == LifecycleSummary(graced=0, expired=1, reminded=0)
    assert entitlement.status == EntitlementStatus.EXPIRED
    expired = notifications(entitlement, "subscription_expired")
    assert expired.count() == 1
    assert expired.get().url == "/account/subscriptions/"

    subscriptions_advance(now=period_end + timedelta(days=10))
    assert notifications(entitlement, "subscription_expired").count() == 1


def test_a_clock_that_was_stopped_past_the_grace_expires_in_one_run():
    entitlement = subscription()
    summary = subscriptions_advance(now=add_months(NOW, 1) + timedelta(days=30))
    assert summary == LifecycleSummary(graced=1, expired=1, reminded=0)
    assert reload(entitlement).status == EntitlementStatus.EXPIRED


def test_a_subscription_cancelled_at_period_end_expires_at_the_end_without_grace():
    entitlement = subscription()
    Entitlement.objects.filter(pk=entitlement.pk).update(cancel_at_period_end=True)
    assert subscriptions_advance(now=add_months(NOW, 1) - timedelta(seconds=1)).expired == 0
    summary = subscriptions_advance(now=add_months(NOW, 1))
    entitlement = reload(entitlement)
    assert summary == LifecycleSummary(graced=0, expired=1, reminded=0)
    assert (entitlement.status, entitlement.grace_ends_at) == (EntitlementStatus.EXPIRED, None)
    assert notifications(entitlement, "subscription_expired").count() == 1


@pytest.mark.parametrize(("duration", "length"), [("hour", timedelta(hours=1)), ("day", timedelta(days=1))])
def test_a_time_pass_expires_on_time_without_grace(duration, length):
    entitlement = time_pass(duration)
    assert subscriptions_advance(now=NOW + length - timedelta(seconds=1)).expired == 0
    summary = subscriptions_advance(now=NOW + length + timedelta(seconds=1))
    entitlement = reload(entitlement)
    assert summary.expired == 1
    assert summary.graced == 0
    assert (entitlement.status, entitlement.ends_at, entitlement.grace_ends_at) == (
        EntitlementStatus.EXPIRED,
        NOW + length,
        None,
    )


def test_lifetime_access_is_never_expired_nor_reminded():
    entitlement = order_paid(pending_order(make_plan()), paid_at=NOW)
    assert entitlement.ends_at is None
    assert subscriptions_advance(now=NOW + timedelta(days=4000)) == LifecycleSummary(0, 0, 0)
    assert reload(entitlement).status == EntitlementStatus.ACTIVE
    assert Notification.objects.count() == 0


def test_a_renewal_that_landed_before_the_clock_keeps_the_subscription_active():
    entitlement = subscription()
    entitlement_extend(entitlement=entitlement, until=add_months(NOW, 2))
    assert subscriptions_advance(now=add_months(NOW, 1) + timedelta(hours=1)).graced == 0
    assert reload(entitlement).status == EntitlementStatus.ACTIVE


def test_subscription_reminders_go_out_once_per_period_within_the_reminder_days():
    entitlement = subscription()
    period_end = add_months(NOW, 1)
    assert subscriptions_advance(now=period_end - timedelta(days=3, minutes=1)).reminded == 0

    assert subscriptions_advance(now=period_end - timedelta(days=3)).reminded == 1
    assert subscriptions_advance(now=period_end - timedelta(days=2)).reminded == 0
    reminder = notifications(entitlement, "subscription_renewal_due").get()
    assert reminder.url == "/account/subscriptions/"
    assert reminder.emailed_at is not None
    assert "renew" in reminder.title.lower()
    assert reload(entitlement).reminded_for_period_end == period_end

    entitlement_extend(entitlement=entitlement, until=add_months(NOW, 2))  # renewed: a new period end
    assert subscriptions_advance(now=add_months(NOW, 2) - timedelta(days=1)).reminded == 1
    assert notifications(entitlement, "subscription_renewal_due").count() == 2


def test_a_subscription_cancelled_at_period_end_is_not_reminded():
    entitlement = subscription()
    Entitlement.objects.filter(pk=entitlement.pk).update(cancel_at_period_end=True)
    assert subscriptions_advance(now=add_months(NOW, 1) - timedelta(days=1)).reminded == 0
    assert Notification.objects.count() == 0


@pytest.mark.parametrize(
    ("duration", "length", "window"),
    [
        ("hour", timedelta(hours=1), timedelta(minutes=15)),
        ("day", timedelta(days=1), timedelta(hours=6)),
        ("week", timedelta(weeks=1), timedelta(days=1)),
    ],
)
def test_time_pass_reminders_come_by_the_pass_length_once(duration, length, window):
    entitlement = time_pass(duration)
    ends_at = NOW + length
    assert subscriptions_advance(now=ends_at - window - timedelta(seconds=1)).reminded == 0
    assert subscriptions_advance(now=ends_at - window).reminded == 1
    assert subscriptions_advance(now=ends_at - window / 2).reminded == 0
    reminder = notifications(entitlement, "pass_expiring").get()
    assert reminder.url == "/account/subscriptions/"
    assert reminder.dedupe_key.startswith(f"renewal_due:{entitlement.public_id}:")


def test_the_periodic_job_runs_the_clock(monkeypatch):
    from modelmarket.billing.tasks import subscriptions as tasks

    entitlement = subscription()
    monkeypatch.setattr(tasks.timezone, "now", lambda: add_months(NOW, 1) + timedelta(minutes=5))
    tasks.subscriptions_advance_task.call_local()
    assert reload(entitlement).status == EntitlementStatus.GRACE

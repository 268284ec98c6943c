"""Reads for staff: payments by status and match, one payment with its raw webhook deliveries, and the deliveries
that need attention. Anyone who is not staff sees nothing (NotFound), as if the pages did not exist."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from modelmarket.accounts.models import User
from modelmarket.billing.models import Payment, PaymentMatch, PaymentStatus, WebhookEvent, WebhookStatus
from modelmarket.core.exceptions import NotFound, ValidationFailed


def _require_staff(actor: User) -> None:
    if not (actor.is_authenticated and actor.is_active and actor.is_staff):
        raise NotFound()


def _choice(value: str | None, allowed: list[str], name: str) -> str | None:
    if value in (None, ""):
        return None
    if value not in allowed:
        raise ValidationFailed(
            f"Unknown {name} {value!r}.", code=f"invalid_{name}", details={"allowed": allowed}
        )
    return value


def payments_for_staff(
    *, actor: User, status: str | None = None, match: str | None = None
) -> QuerySet[Payment]:
    """Every payment, newest first, optionally of one status (succeeded/pending/failed) and one match
    (matched/unmatched/mismatch/resolved). Unknown filter values raise ValidationFailed."""
    _require_staff(actor)
    status = _choice(status, list(PaymentStatus.values), "status")
    match = _choice(match, list(PaymentMatch.values), "match")
    payments = Payment.objects.select_related("order", "order__buyer", "currency", "entitlement")
    if status:
        payments = payments.filter(status=status)
    if match:
        payments = payments.filter(match=match)
    return payments.order_by("-created_at", "-id")


def payment_get_for_staff(*, actor: User, public_id: str) -> Payment:
    """One payment with its order, and its webhook deliveries (oldest first) in `webhook_events`."""
    _require_staff(actor)
    events = WebhookEvent.objects.order_by("received_at", "pk")
    payment = (
        Payment.objects.select_related("order", "order__buyer", "order__model", "currency", "entitlement")
        .prefetch_related(Prefetch("webhook_events", queryset=events))
        .filter(public_id=public_id)
        .first()
    )
    if payment is None:
        raise NotFound("No such payment.")
    return payment


def webhook_events_for_staff(*, actor: User, status: str | None = None) -> QuerySet[WebhookEvent]:
    """Webhook deliveries, newest first, optionally of one status — `failed` and `parked` are the ones needing
    attention (a parked delivery may have no payment: an unreadable body)."""
    _require_staff(actor)
    status = _choice(status, list(WebhookStatus.values), "status")
    events = WebhookEvent.objects.select_related("payment").defer("body")
    if status:
        events = events.filter(status=status)
    return events.order_by("-received_at", "-pk")

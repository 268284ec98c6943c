"""Reads for the staff payments page and API: payments (parked ones first) with the raw webhook events behind
them, and webhook events whose processing failed or was parked. Staff only: for anyone else these are NotFound,
so the pages do not reveal they exist. Webhook events hold the raw body only (never the delivery's headers, so
no Authorization token is ever stored or shown)."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Case, IntegerField, Prefetch, Q, QuerySet, Value, When

from modelmarket.billing.models import (
    Payment,
    PaymentMatch,
    PaymentStatus,
    WebhookEvent,
    WebhookStatus,
)
from modelmarket.core.exceptions import BadRequest, NotFound

PARKED = (PaymentMatch.UNMATCHED, PaymentMatch.MISMATCH)
MATCH_FILTERS = ("parked", *PaymentMatch.values)
NEEDS_ATTENTION = (WebhookStatus.FAILED, WebhookStatus.PARKED)


def user_is_billing_staff(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def staff_required(actor: Any) -> None:
    if not user_is_billing_staff(actor):
        raise NotFound("Not found.", code="not_found")


def _events_oldest_first() -> Prefetch:
    return Prefetch("webhook_events", queryset=WebhookEvent.objects.order_by("received_at", "pk"))


def payments_for_staff(*, actor: Any, status: str = "", match: str = "") -> QuerySet[Payment]:
    """Payments with their webhook events, filtered by `status` (succeeded | pending | failed) and `match`
    (matched | unmatched | mismatch | resolved, or `parked` for unmatched and mismatch); parked ones first,
    then newest first. An unknown filter value is a 400 naming it."""
    staff_required(actor)
    if status and status not in PaymentStatus.values:
        raise BadRequest(
            f"Unknown payment status {status!r}.",
            code="invalid_filter",
            details={"status": status, "allowed": list(PaymentStatus.values)},
        )
    if match and match not in MATCH_FILTERS:
        raise BadRequest(
            f"Unknown match {match!r}.",
            code="invalid_filter",
            details={"match": match, "allowed": list(MATCH_FILTERS)},
        )
    payments = Payment.objects.select_related("order", "order__buyer", "entitlement").prefetch_related(
        _events_oldest_first()
    )
    if status:
        payments = payments.filter(status=status)
    if match == "parked":
        payments = payments.filter(match__in=PARKED)
    elif match:
        payments = payments.filter(match=match)
    parked_first = Case(When(match__in=PARKED, then=Value(0)), default=Value(1), output_field=IntegerField())
    return payments.annotate(parked_first=parked_first).order_by("parked_first", "-created_at", "-pk")


def webhook_events_needing_attention(*, actor: Any) -> QuerySet[WebhookEvent]:
    """Webhook events whose processing failed (retrying with backoff) or was parked: newest first."""
    staff_required(actor)
    return (
        WebhookEvent.objects.filter(status__in=NEEDS_ATTENTION)
        .select_related("payment")
        .order_by("-received_at", "-pk")
    )


def webhook_event_get_for_staff(*, actor: Any, event_id: int) -> WebhookEvent:
    staff_required(actor)
    event = WebhookEvent.objects.filter(pk=event_id).first()
    if event is None:
        raise NotFound("No such webhook event.", code="webhook_event_not_found")
    return event


def parked_counts(*, actor: Any) -> dict[str, int]:
    """How many payments wait for review, and how many webhook events failed or were parked."""
    staff_required(actor)
    return {
        "parked_payments": Payment.objects.filter(match__in=PARKED).count(),
        "failed_events": WebhookEvent.objects.filter(
            Q(status=WebhookStatus.FAILED) | Q(status=WebhookStatus.PARKED)
        ).count(),
    }


def webhook_body_text(body: bytes | memoryview | None) -> str:
    """The raw delivery for people: pretty-printed JSON (keys sorted), else the text as received. Templates
    escape it; never mark it safe."""
    raw = bytes(body or b"")
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False)
    except ValueError:
        return text


def webhook_body_json(body: bytes | memoryview | None) -> Any:
    """The raw delivery as JSON for the API (the text, when it is not JSON)."""
    text = bytes(body or b"").decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text

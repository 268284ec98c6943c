"""What the subscription modules share: the statuses that count as running, Helio's subscription states, the
locked entitlement query, and how dates read in notifications."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db.models import QuerySet

from modelmarket.billing.models import (
    Entitlement,
    EntitlementStatus,
    PaymentMatch,
)

RUNNING = (EntitlementStatus.ACTIVE, EntitlementStatus.GRACE)
PARKED = (PaymentMatch.UNMATCHED, PaymentMatch.MISMATCH)
HELIO_ACTIVE, HELIO_EXPIRED = "ACTIVE", "EXPIRED"


def locked_entitlements() -> QuerySet[Entitlement]:
    return Entitlement.objects.select_for_update(of=("self",)).select_related("plan", "model", "buyer")


def moment_text(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment else "further notice"


def moment_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


def one_line(text: str) -> str:
    return " ".join(text.split())[:200]

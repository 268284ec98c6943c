"""Billing: currencies, plans, orders, payments and their raw webhook deliveries, entitlements, the double-entry
ledger, invoices, refunds and payouts.

Amounts are integers in a currency's minor units (`*_minor`), stored as NUMERIC(38, 0): ETH has 18 decimals, so a
balance of ten ETH in wei already overflows a 64-bit integer. PostgreSQL keeps them exact at any size; SQLite keeps
integers exact up to 2**63 - 1 and the ledger refuses a balance beyond that (`billing/services/ledger.py`).
Per-unit pay-as-you-go rates are Decimals in minor units with twelve places; a cost is rounded once, when booked."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.expressions import Combinable

from modelmarket.core.models import TimestampedModel


def _token() -> str:
    return secrets.token_hex(10)


def public_id_plan() -> str:
    return f"plan_{_token()}"


def public_id_order() -> str:
    return f"ord_{_token()}"


def public_id_payment() -> str:
    return f"pay_{_token()}"


def public_id_entitlement() -> str:
    return f"ent_{_token()}"


def public_id_transaction() -> str:
    return f"txn_{_token()}"


def public_id_refund() -> str:
    return f"ref_{_token()}"


def public_id_payout() -> str:
    return f"po_{_token()}"


class AmountField(models.DecimalField):
    """An integer amount of minor units, exact beyond 64 bits on PostgreSQL; Python sees an `int`."""

    # What django-stubs reports for instances of the field (it reads these names).
    _pyi_private_set_type: int | Combinable
    _pyi_private_get_type: int  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 38)
        kwargs.setdefault("decimal_places", 0)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> int | None:
        return None if value is None else int(value)

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return None if value is None else int(value)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and connection.vendor == "sqlite":
            return value  # an INTEGER, not text, so SQLite's arithmetic stays integral
        return super().get_db_prep_value(value, connection, prepared)


def RateField(**kwargs: Any) -> models.DecimalField:  # noqa: N802 - a field factory reads like a field class
    return models.DecimalField(max_digits=30, decimal_places=12, default=Decimal(0), **kwargs)


# --- Currencies ---------------------------------------------------------------------------------------------------
class Chain(models.TextChoices):
    SOLANA = "solana", "Solana"
    ETHEREUM = "ethereum", "Ethereum"
    BASE = "base", "Base"
    POLYGON = "polygon", "Polygon"
    BITCOIN = "bitcoin", "Bitcoin"


class Currency(models.Model):
    """A currency we price and settle in. `helio_currency_id` is resolved from Helio's `/currency/all` at run time
    (never hard-coded); `chain` is where Helio settles it for us."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=60)
    decimals = models.PositiveSmallIntegerField()
    is_crypto = models.BooleanField(default=True)
    chain = models.CharField(max_length=20, choices=Chain.choices, blank=True)
    helio_currency_id = models.CharField(max_length=40, blank=True)
    helio_refreshed_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "currencies"
        ordering = ["code"]
        constraints = [models.CheckConstraint(condition=Q(decimals__lte=18), name="currency_decimals_max_18")]

    def __str__(self) -> str:
        return self.code


# --- Plans --------------------------------------------------------------------------------------------------------
class PlanKind(models.TextChoices):
    FREE = "free", "Free"
    ONE_TIME = "one_time", "One-time (lifetime access)"
    SUBSCRIPTION = "subscription", "Subscription"
    TIME_PASS = "time_pass", "Time pass"
    PAY_AS_YOU_GO = "payg", "Pay as you go"


class SubscriptionInterval(models.TextChoices):
    MONTH = "month", "Monthly"
    YEAR = "year", "Yearly"


class PassDuration(models.TextChoices):
    HOUR = "hour", "Hourly"
    DAY = "day", "Daily"
    WEEK = "week", "Weekly"


class QuotaPeriod(models.TextChoices):
    DAY = "day", "per day"
    MONTH = "month", "per month"


class Plan(TimestampedModel):
    """How a buyer may use one model, at what price and within which limits. Orders copy the price when created,
    so editing a plan never changes what a pending order costs; a plan that sold is archived, not deleted."""

    public_id = models.CharField(max_length=40, unique=True, default=public_id_plan, editable=False)
    model = models.ForeignKey("catalog.AIModel", on_delete=models.CASCADE, related_name="plans")
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=20, choices=PlanKind.choices)
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, to_field="code", related_name="+")
    price_minor = AmountField(default=0, help_text="What the plan costs (not used by pay as you go).")
    interval = models.CharField(max_length=10, choices=SubscriptionInterval.choices, blank=True)
    pass_duration = models.CharField(max_length=10, choices=PassDuration.choices, blank=True)
    # Pay as you go, in minor units of `currency`, debited from prepaid credit.
    price_per_request = RateField()
    price_per_1k_input_tokens = RateField()
    price_per_1k_output_tokens = RateField()
    price_per_compute_second = RateField()
    # Limits the gateway enforces for holders of this plan (null = none).
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    request_quota = models.PositiveIntegerField(null=True, blank=True)
    token_quota = models.PositiveBigIntegerField(null=True, blank=True)
    quota_period = models.CharField(max_length=10, choices=QuotaPeriod.choices, default=QuotaPeriod.MONTH)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # Helio: the pay link this plan sells through (created lazily on the first Helio checkout).
    helio_paylink_id = models.CharField(max_length=40, blank=True)
    helio_paylink_price_minor = AmountField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["model", "is_active"], name="plan_model_active_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=PlanKind.values), name="plan_kind_valid"),
            models.CheckConstraint(condition=Q(price_minor__gte=0), name="plan_price_not_negative"),
            models.CheckConstraint(
                condition=Q(price_per_request__gte=0)
                & Q(price_per_1k_input_tokens__gte=0)
                & Q(price_per_1k_output_tokens__gte=0)
                & Q(price_per_compute_second__gte=0),
                name="plan_rates_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=[PlanKind.FREE, PlanKind.PAY_AS_YOU_GO]) | Q(price_minor=0),
                name="plan_free_and_payg_have_no_price",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=[PlanKind.ONE_TIME, PlanKind.SUBSCRIPTION, PlanKind.TIME_PASS])
                | Q(price_minor__gt=0),
                name="plan_paid_has_price",
            ),
            models.CheckConstraint(
                condition=(Q(kind=PlanKind.SUBSCRIPTION) & Q(interval__in=SubscriptionInterval.values))
                | (~Q(kind=PlanKind.SUBSCRIPTION) & Q(interval="")),
                name="plan_subscription_has_interval",
            ),
            models.CheckConstraint(
                condition=(Q(kind=PlanKind.TIME_PASS) & Q(pass_duration__in=PassDuration.values))
                | (~Q(kind=PlanKind.TIME_PASS) & Q(pass_duration="")),
                name="plan_time_pass_has_duration",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_id}: {self.name}"

    @property
    def is_paid(self) -> bool:
        return self.kind not in (PlanKind.FREE, PlanKind.PAY_AS_YOU_GO)


# --- Orders and payments ------------------------------------------------------------------------------------------
class OrderKind(models.TextChoices):
    PLAN = "plan", "Plan"
    TOP_UP = "top_up", "Credit top-up"


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"


class PaymentGateway(models.TextChoices):
    SANDBOX = "sandbox", "Sandbox"
    HELIO = "helio", "Helio"


class Order(TimestampedModel):
    """A buyer's intent to pay: for a plan (its price and terms copied in `plan_snapshot`) or for credit."""

    public_id = models.CharField(max_length=40, unique=True, default=public_id_order, editable=False)
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    kind = models.CharField(max_length=10, choices=OrderKind.choices)
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    model = models.ForeignKey(
        "catalog.AIModel", null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    plan_snapshot = models.JSONField(default=dict, blank=True)
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, to_field="code", related_name="+")
    amount_minor = AmountField()
    status = models.CharField(max_length=10, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    gateway = models.CharField(max_length=10, choices=PaymentGateway.choices)
    gateway_reference = models.CharField(max_length=100, blank=True, help_text="Helio's charge id.")
    checkout_url = models.URLField(max_length=500, blank=True)
    # NULL, not "", when absent: the unique constraint below only covers orders made with a key.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    expires_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    refunded_minor = AmountField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["buyer", "-created_at"], name="order_buyer_created_idx"),
            models.Index(fields=["status", "expires_at"], name="order_status_expires_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["buyer", "plan", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="order_unique_idempotency_key",
            ),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="order_amount_positive"),
            models.CheckConstraint(
                condition=Q(refunded_minor__gte=0) & Q(refunded_minor__lte=F("amount_minor")),
                name="order_refund_within_amount",
            ),
            models.CheckConstraint(
                condition=(Q(kind=OrderKind.PLAN) & Q(plan__isnull=False))
                | (Q(kind=OrderKind.TOP_UP) & Q(plan__isnull=True)),
                name="order_plan_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.public_id


class PaymentStatus(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    PENDING = "pending", "Pending"
    FAILED = "failed", "Failed"


class PaymentMatch(models.TextChoices):
    MATCHED = "matched", "Matched to an order"
    UNMATCHED = "unmatched", "No order: parked for review"
    MISMATCH = "mismatch", "Does not fit its order: parked for review"
    RESOLVED = "resolved", "Reviewed by staff"


class Payment(TimestampedModel):
    """Money a gateway reports received (or failed), once per provider transaction. Gross, the provider's fee and
    net are recorded as reported; a payment that fits no order is parked for staff, never dropped."""

    public_id = models.CharField(max_length=40, unique=True, default=public_id_payment, editable=False)
    gateway = models.CharField(max_length=10, choices=PaymentGateway.choices)
    provider_payment_id = models.CharField(max_length=120)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    entitlement = models.ForeignKey(
        "Entitlement", null=True, blank=True, on_delete=models.SET_NULL, related_name="payments"
    )
    status = models.CharField(max_length=10, choices=PaymentStatus.choices)
    match = models.CharField(max_length=10, choices=PaymentMatch.choices, default=PaymentMatch.MATCHED)
    review_reason = models.CharField(max_length=300, blank=True)
    currency = models.ForeignKey(
        Currency, null=True, blank=True, on_delete=models.PROTECT, to_field="code", related_name="+"
    )
    gross_minor = AmountField(default=0)
    fee_minor = AmountField(default=0)
    net_minor = AmountField(default=0)
    refunded_minor = AmountField(default=0)
    transaction_signature = models.CharField(max_length=200, blank=True)
    payer_address = models.CharField(max_length=200, blank=True)
    payer_email = models.EmailField(blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    provider_data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["match", "-created_at"], name="payment_match_created_idx"),
            models.Index(fields=["status", "-created_at"], name="payment_status_created_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "provider_payment_id"], name="payment_unique_provider_id"
            ),
            models.CheckConstraint(
                condition=Q(gross_minor__gte=0) & Q(fee_minor__gte=0) & Q(net_minor__gte=0),
                name="payment_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(refunded_minor__gte=0) & Q(refunded_minor__lte=F("gross_minor")),
                name="payment_refund_within_gross",
            ),
        ]

    def __str__(self) -> str:
        return self.public_id


class WebhookStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed (will retry)"
    PARKED = "parked", "Parked for review"
    IGNORED = "ignored", "Ignored"


class WebhookEvent(models.Model):
    """A verified webhook delivery, stored raw before anything else. Unique per (gateway, dedupe key) — Helio's
    `transactionObject.id` plus the event — so a redelivery is acknowledged and ignored."""

    gateway = models.CharField(max_length=10, choices=PaymentGateway.choices)
    dedupe_key = models.CharField(max_length=200)
    event = models.CharField(max_length=60, blank=True)
    body = models.BinaryField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=10, choices=WebhookStatus.choices, default=WebhookStatus.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_events"
    )

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_status_next_idx")]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "dedupe_key"], name="webhook_unique_dedupe_key")
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.event} {self.dedupe_key}"


class HelioPaylinkPurpose(models.TextChoices):
    PLAN = "plan", "A plan"
    TOP_UP = "top_up", "Credit top-ups in one currency"


class HelioPaylink(TimestampedModel):
    """A pay link we created at Helio, with the webhooks registered on it (their shared tokens encrypted)."""

    helio_id = models.CharField(max_length=40, unique=True)
    purpose = models.CharField(max_length=10, choices=HelioPaylinkPurpose.choices)
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.SET_NULL, related_name="paylinks")
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, to_field="code", related_name="+")
    price_minor = AmountField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    reconciled_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.helio_id


class HelioWebhook(TimestampedModel):
    KIND_TRANSACTION = "transaction"
    KIND_SUBSCRIPTION = "subscription"

    paylink = models.ForeignKey(HelioPaylink, on_delete=models.CASCADE, related_name="webhooks")
    kind = models.CharField(max_length=20)
    helio_id = models.CharField(max_length=40, unique=True)
    shared_token_encrypted = models.BinaryField()

    def __str__(self) -> str:
        return f"{self.kind} webhook {self.helio_id}"


# --- Entitlements -------------------------------------------------------------------------------------------------
class EntitlementStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    GRACE = "grace", "In grace period"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class Entitlement(TimestampedModel):
    """A buyer's access through one plan: lifetime (`ends_at` null), a subscription period, or a time pass.
    One row per (buyer, plan): renewals and repeat passes extend it."""

    public_id = models.CharField(max_length=40, unique=True, default=public_id_entitlement, editable=False)
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="entitlements")
    model = models.ForeignKey("catalog.AIModel", on_delete=models.CASCADE, related_name="entitlements")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="entitlements")
    status = models.CharField(
        max_length=10, choices=EntitlementStatus.choices, default=EntitlementStatus.ACTIVE
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Null: lifetime access.")
    grace_ends_at = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    helio_subscription_id = models.CharField(max_length=60, null=True, blank=True, unique=True)
    next_charge_url = models.URLField(max_length=500, blank=True)
    reminded_for_period_end = models.DateTimeField(null=True, blank=True)
    last_order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [
            models.Index(fields=["buyer", "model", "status"], name="entitlement_buyer_model_idx"),
            models.Index(fields=["status", "ends_at"], name="entitlement_status_ends_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["buyer", "plan"], name="entitlement_unique_buyer_plan"),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="entitlement_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.public_id


# --- Ledger -------------------------------------------------------------------------------------------------------
class AccountKind(models.TextChoices):
    BUYER_WALLET = "buyer_wallet", "Buyer wallet (prepaid credit)"
    CREATOR_EARNINGS = "creator_earnings", "Creator earnings (pending)"
    CREATOR_PAYOUT_PENDING = "creator_payout_pending", "Creator payouts requested"
    PLATFORM_REVENUE = "platform_revenue", "Platform revenue"
    PAYMENT_CLEARING = "payment_clearing", "Payments received (clearing)"
    PROCESSOR_FEES = "processor_fees", "Payment processor fees"
    REFUNDS = "refunds", "Refunds paid out"
    PAYOUTS = "payouts", "Payouts paid out"


# Accounts that hold someone's money and can never go below zero (minus what is held for calls in flight).
NON_NEGATIVE_ACCOUNTS = (
    AccountKind.BUYER_WALLET,
    AccountKind.CREATOR_EARNINGS,
    AccountKind.CREATOR_PAYOUT_PENDING,
)
USER_ACCOUNTS = NON_NEGATIVE_ACCOUNTS


class LedgerAccount(models.Model):
    """A balance in one currency. `balance_minor` is the sum of the account's entries, changed only together with
    them by one conditional UPDATE (`services/ledger.py`); `version` counts those changes. `held_minor` is credit
    reserved for pay-as-you-go calls in flight on the embedded default (Redis holds it otherwise)."""

    kind = models.CharField(max_length=30, choices=AccountKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, to_field="code", related_name="+")
    balance_minor = AmountField(default=0)
    held_minor = AmountField(default=0)
    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "user", "currency"],
                condition=Q(user__isnull=False),
                name="ledger_account_unique_user_kind_currency",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"],
                condition=Q(user__isnull=True),
                name="ledger_account_unique_platform_kind_currency",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False, kind__in=USER_ACCOUNTS)
                | Q(user__isnull=True) & ~Q(kind__in=USER_ACCOUNTS),
                name="ledger_account_owner_matches_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=NON_NEGATIVE_ACCOUNTS) | Q(balance_minor__gte=F("held_minor")),
                name="ledger_account_not_overdrawn",
            ),
            models.CheckConstraint(condition=Q(held_minor__gte=0), name="ledger_account_held_not_negative"),
        ]

    def __str__(self) -> str:
        owner = f"user {self.user_id} " if self.user_id else ""
        return f"{owner}{self.kind} {self.currency_id}"


class TransactionKind(models.TextChoices):
    PAYMENT = "payment", "Payment for a plan"
    TOP_UP = "top_up", "Credit top-up"
    USAGE = "usage", "Pay-as-you-go usage"
    REFUND = "refund", "Refund"
    PAYOUT_REQUEST = "payout_request", "Payout requested"
    PAYOUT = "payout", "Payout sent"
    PAYOUT_CANCEL = "payout_cancel", "Payout request cancelled"
    ADJUSTMENT = "adjustment", "Adjustment by staff"


class LedgerTransaction(models.Model):
    """One balanced movement of money: its entries sum to zero. `reference` makes posting idempotent."""

    public_id = models.CharField(max_length=40, unique=True, default=public_id_transaction, editable=False)
    kind = models.CharField(max_length=20, choices=TransactionKind.choices)
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, to_field="code", related_name="+")
    reference = models.CharField(max_length=200, unique=True)
    description = models.CharField(max_length=300, blank=True)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return self.public_id


class LedgerEntry(models.Model):
    """Append-only. Positive amounts increase the account's balance. `model` attributes earnings to a listing."""

    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="entries")
    amount_minor = AmountField()
    model = models.ForeignKey(
        "catalog.AIModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="ledger_entries"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["account", "-created_at"], name="ledger_entry_account_idx"),
            models.Index(fields=["model", "created_at"], name="ledger_entry_model_idx"),
        ]
        constraints = [models.CheckConstraint(condition=~Q(amount_minor=0), name="ledger_entry_not_zero")]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.amount_minor}"


# --- Invoices, refunds, payouts -----------------------------------------------------------------------------------
class InvoiceSequence(models.Model):
    """The last invoice number issued in a year. Incremented inside the transaction that issues the invoice, so
    a rolled-back issue leaves no gap."""

    year = models.PositiveSmallIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class Invoice(models.Model):
    """Issued once per paid order; the parties' names are copied so the invoice never changes afterwards."""

    number = models.CharField(max_length=20, unique=True)
    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="invoice")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="invoices")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="invoices")
    buyer_name = models.CharField(max_length=200)
    buyer_email = models.EmailField()
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    creator_name = models.CharField(max_length=200, blank=True)
    description = models.CharField(max_length=300)
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, to_field="code", related_name="+")
    amount_minor = AmountField()
    platform_fee_minor = AmountField(default=0)
    creator_amount_minor = AmountField(default=0)
    transaction_signature = models.CharField(max_length=200, blank=True)
    issued_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["year", "sequence"], name="invoice_unique_year_sequence"),
            models.CheckConstraint(
                condition=Q(amount_minor=F("platform_fee_minor") + F("creator_amount_minor")),
                name="invoice_split_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class Refund(models.Model):
    """Money sent back to a buyer on chain by an operator (Helio has no refund API), recorded with its signature."""

    public_id = models.CharField(max_length=40, unique=True, default=public_id_refund, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds")
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, to_field="code", related_name="+")
    amount_minor = AmountField()
    reason = models.CharField(max_length=300)
    transaction_signature = models.CharField(max_length=200)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    ledger_transaction = models.OneToOneField(
        LedgerTransaction, on_delete=models.PROTECT, related_name="refund"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(fields=["transaction_signature"], name="refund_unique_signature"),
        ]

    def __str__(self) -> str:
        return self.public_id


class PayoutStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    PAID = "paid", "Paid"
    CANCELLED = "cancelled", "Cancelled"


class Payout(TimestampedModel):
    """A creator's request to be paid their earnings to a wallet address; staff record the on-chain transfer."""

    public_id = models.CharField(max_length=40, unique=True, default=public_id_payout, editable=False)
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, to_field="code", related_name="+")
    amount_minor = AmountField()
    wallet_address = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=PayoutStatus.choices, default=PayoutStatus.REQUESTED)
    paid_at = models.DateTimeField(null=True, blank=True)
    transaction_signature = models.CharField(max_length=200, null=True, blank=True, unique=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payout_amount_positive")]

    def __str__(self) -> str:
        return self.public_id

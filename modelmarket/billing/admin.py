"""Billing in the Django admin: read-only. Money moves only through the services (the ledger's conditional updates,
the payment processor, refunds and payouts on the staff pages), never by editing rows here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from modelmarket.billing import models


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.Currency)
class CurrencyAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "decimals", "chain", "helio_currency_id", "is_active")


@admin.register(models.Plan)
class PlanAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "model", "name", "kind", "price_minor", "currency", "is_active")
    list_filter = ("kind", "is_active", "currency")
    search_fields = ("public_id", "name", "model__slug")
    list_select_related = ("model",)


@admin.register(models.Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "buyer", "kind", "model", "amount_minor", "currency", "status", "created_at")
    list_filter = ("status", "kind", "gateway")
    search_fields = ("public_id", "buyer__email", "gateway_reference")
    list_select_related = ("buyer", "model")


@admin.register(models.Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "gateway", "provider_payment_id", "order", "status", "match", "gross_minor")
    list_filter = ("status", "match", "gateway")
    search_fields = ("public_id", "provider_payment_id", "transaction_signature")


@admin.register(models.WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "gateway", "event", "dedupe_key", "status", "attempts", "received_at")
    list_filter = ("status", "gateway", "event")
    search_fields = ("dedupe_key",)
    exclude = ("body",)


@admin.register(models.Entitlement)
class EntitlementAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "buyer", "model", "plan", "status", "starts_at", "ends_at")
    list_filter = ("status",)
    search_fields = ("public_id", "buyer__email", "model__slug", "helio_subscription_id")
    list_select_related = ("buyer", "model", "plan")


@admin.register(models.LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "user", "currency", "balance_minor", "held_minor", "version")
    list_filter = ("kind", "currency")
    search_fields = ("user__email",)


@admin.register(models.LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "kind", "currency", "reference", "created_at")
    list_filter = ("kind", "currency")
    search_fields = ("public_id", "reference")


@admin.register(models.Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ("number", "buyer_email", "amount_minor", "currency", "issued_at")
    search_fields = ("number", "buyer_email")


@admin.register(models.Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "payment", "amount_minor", "currency", "transaction_signature", "created_at")


@admin.register(models.Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "creator", "amount_minor", "currency", "status", "created_at")
    list_filter = ("status", "currency")

"""What the webhook and payment tests share (no tests here): FakeHelio with a HelioClient on its transport, pay
links and charges for our orders at the fake, a webhook registered the way the Helio gateway stores it (its shared
token encrypted in a HelioWebhook row), and signed deliveries of the fake's payloads."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Sum

from modelmarket.billing.gateways.helio.client import HelioClient
from modelmarket.billing.models import (
    AccountKind,
    HelioPaylink,
    HelioPaylinkPurpose,
    HelioWebhook,
    LedgerAccount,
    LedgerEntry,
    Order,
)
from modelmarket.billing.tests.helio_fake import (
    HELIO_TEST_API_BASE,
    HELIO_TEST_PAY_BASE,
    HELIO_TEST_PUBLIC_KEY,
    HELIO_TEST_SECRET_KEY,
    HELIO_TEST_WALLET_ID,
    SOL_ID,
    USD_ID,
    USDC_SOLANA_ID,
    FakeHelio,
)
from modelmarket.core.crypto import encrypt_bytes

WEBHOOK_PATH = "/api/v1/payments/helio/webhook"
HELIO_CURRENCY_IDS = {"USDC": USDC_SOLANA_ID, "SOL": SOL_ID, "USD": USD_ID}


def helio_settings(settings: Any) -> None:
    settings.HELIO_API_BASE = HELIO_TEST_API_BASE
    settings.HELIO_PAY_BASE = HELIO_TEST_PAY_BASE
    settings.HELIO_PUBLIC_KEY = HELIO_TEST_PUBLIC_KEY
    settings.HELIO_SECRET_KEY = HELIO_TEST_SECRET_KEY
    settings.HELIO_WALLET_ID = HELIO_TEST_WALLET_ID


class HelioWorld:
    """The fake Helio and our side of it. `helio_settings(settings)` must have run."""

    def __init__(self) -> None:
        self.fake = FakeHelio()
        self.client = HelioClient(transport=self.fake.transport())
        self._paylinks: dict[tuple[str, int], str] = {}
        self.token = ""

    def paylink(self, *, currency: str = "USDC", price_minor: int = 10_000_000) -> str:
        """A pay link at the fake (one per currency and price), with a transaction webhook registered on it and
        stored as the Helio gateway stores it. `self.token` is the last webhook's shared token."""
        key = (currency, price_minor)
        if key not in self._paylinks:
            link = self.client.paylink_create(
                name=f"{currency} {price_minor}",
                price_base_units=price_minor,
                currency_id=HELIO_CURRENCY_IDS[currency],
            )
            self._paylinks[key] = link.id
            self.register_webhook(link.id, currency=currency, price_minor=price_minor)
        return self._paylinks[key]

    def register_webhook(
        self, paylink_id: str, *, currency: str = "USDC", price_minor: int = 0
    ) -> HelioWebhook:
        webhook = self.client.webhook_create_transaction(
            paylink_id=paylink_id, target_url=f"https://mm{WEBHOOK_PATH}"
        )
        assert webhook.shared_token
        paylink, _ = HelioPaylink.objects.get_or_create(
            helio_id=paylink_id,
            defaults={
                "purpose": HelioPaylinkPurpose.PLAN,
                "currency_id": currency,
                "price_minor": price_minor,
            },
        )
        self.token = webhook.shared_token
        return HelioWebhook.objects.create(
            paylink=paylink,
            kind=HelioWebhook.KIND_TRANSACTION,
            helio_id=webhook.id,
            shared_token_encrypted=encrypt_bytes(webhook.shared_token.encode()),
        )

    def charge(self, order: Order, *, currency: str | None = None) -> str:
        """A charge for `order` (its reference in additionalJSON) on a pay link of the order's price."""
        paylink_id = self.paylink(currency=currency or order.currency_id, price_minor=order.amount_minor)
        charge = self.client.charge_create(
            paylink_id=paylink_id,
            order_reference=order.public_id,
            expires_at=order.expires_at,
            success_url="https://mm/ok",
            cancel_url="https://mm/cancel",
        )
        return charge.id

    def pay(self, order: Order, *, amount: int | None = None, fee: int = 0, **options: Any) -> dict[str, Any]:
        """The CREATED payload of paying `order` in full (amount + fee = its price unless `amount` is given)."""
        charge_id = self.charge(order, currency=options.pop("currency", None))
        paid = order.amount_minor - fee if amount is None else amount
        return self.fake.pay(charge_id, amount=paid, fee=fee, **options)

    def signed(
        self, payload: dict[str, Any] | bytes, token: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
        return body, self.fake.sign(body, token or self.token)


def with_status(payload: dict[str, Any], status: str) -> dict[str, Any]:
    """The same delivery with another `meta.transactionStatus` (in `transactionObject` and `transaction`)."""
    changed = json.loads(json.dumps(payload))
    changed["transactionObject"]["meta"]["transactionStatus"] = status
    changed["transaction"] = json.dumps(changed["transactionObject"])
    return changed


def ledger_total() -> int:
    return int(LedgerEntry.objects.aggregate(total=Sum("amount_minor"))["total"] or 0)


def clearing_balance(currency: str = "USDC") -> int:
    account = LedgerAccount.objects.filter(kind=AccountKind.PAYMENT_CLEARING, currency_id=currency).first()
    return account.balance_minor if account else 0


def balance(kind: str, *, currency: str = "USDC", user_id: int | None = None) -> int:
    accounts = LedgerAccount.objects.filter(kind=kind, currency_id=currency)
    account = (
        accounts.filter(user__isnull=True) if user_id is None else accounts.filter(user_id=user_id)
    ).first()
    return account.balance_minor if account else 0

"""Checkout through Helio: a pay link per plan (one dynamic pay link per currency for credit top-ups), the
webhooks on it, and a charge per order carrying our order reference in `additionalJSON`.

Pay links and webhooks are made lazily, by the first checkout that needs them, and kept in `HelioPaylink` /
`HelioWebhook` (each webhook's `sharedToken` encrypted with `core.crypto`; it is never logged). A plan's pay link is
reused while its price and currency stay what the order asks; otherwise a new one is made and the old ones are
disabled at Helio. Every step is resumable: a pay link stored before its webhooks failed to register gets them on the
next checkout, and a webhook Helio holds but we lost the token of (a timeout after Helio created it) is deleted and
registered again, so every delivery can be verified.

Nothing here holds a database transaction across an HTTP call; each write is its own short transaction."""

from __future__ import annotations

import logging
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from modelmarket.billing.gateways.base import Checkout
from modelmarket.billing.gateways.helio.client import HelioClient, SubscriptionInterval, WebhookKind
from modelmarket.billing.gateways.helio.errors import HelioResponseError
from modelmarket.billing.models import (
    Currency,
    HelioPaylink,
    HelioPaylinkPurpose,
    HelioWebhook,
    Order,
    OrderKind,
    PaymentGateway,
    Plan,
    PlanKind,
)
from modelmarket.billing.money import from_minor
from modelmarket.billing.services.currencies import HelioCurrencyUnsupported, currency_helio_id
from modelmarket.core.crypto import encrypt_bytes
from modelmarket.core.exceptions import UpstreamError

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/v1/payments/helio/webhook"
INTERVALS: dict[str, SubscriptionInterval] = {"month": "MONTH", "year": "YEAR"}
# A dynamic pay link still needs a price on creation; each charge then names its own (`requestAmount`).
TOP_UP_NOMINAL_WHOLE_UNITS = 1
# Charge pages live on Helio's app host (app.hel.io, app.dev.hel.io; the newer moonpay.hel.io too).
HELIO_PAGE_DOMAIN = "hel.io"


def helio_client() -> HelioClient:
    """The client checkouts use. Tests replace this factory to pass FakeHelio's transport."""
    return HelioClient()


def webhook_target_url() -> str:
    return f"{settings.SITE_URL.rstrip('/')}{WEBHOOK_PATH}"


def order_page_url(order: Order) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{reverse('billing_order_detail', args=[order.public_id])}"


def helio_page_url_allowed(url: str) -> bool:
    """An https page on Helio's own hosts (the pay base's host, or any host under hel.io)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        return False
    host = parts.hostname.lower()
    pay_host = (urlsplit(settings.HELIO_PAY_BASE).hostname or "").lower()
    return host in (pay_host, HELIO_PAGE_DOMAIN) or host.endswith(f".{HELIO_PAGE_DOMAIN}")


def request_amount(amount_minor: int, decimals: int) -> str:
    """Whole units as a plain decimal string, as Helio's charge takes it: 25500000 at 6 decimals -> "25.5"."""
    value = from_minor(amount_minor, decimals)
    text = format(value.normalize() if value else Decimal(0), "f")
    return text


class HelioGateway:
    name: str = PaymentGateway.HELIO

    def __init__(self, client: HelioClient | None = None) -> None:
        self._client = client  # None: a client from helio_client() per checkout, closed after it

    def checkout_url_allowed(self, url: str) -> bool:
        return helio_page_url_allowed(url)

    def checkout_create(self, order: Order) -> Checkout:
        """A Helio charge for `order`. Raises UpstreamError (HelioRejected, HelioCurrencyUnsupported, ...) when
        Helio cannot take it; nothing of the order is changed here."""
        client = self._client or helio_client()
        try:
            return _Checkout(client).create(order)
        finally:
            if self._client is None:
                client.close()


class _Checkout:
    """One checkout's calls to Helio, on one client."""

    def __init__(self, client: HelioClient) -> None:
        self.client = client

    def create(self, order: Order) -> Checkout:
        currency = Currency.objects.get(code=order.currency_id)
        if not currency.is_crypto:
            raise HelioCurrencyUnsupported(
                f"Helio takes crypto payments only; {currency.code} cannot be paid through it.",
                details={"currency": currency.code},
            )
        currency_id = currency_helio_id(currency=currency, client=self.client)
        if order.kind == OrderKind.TOP_UP:
            paylink = self._top_up_paylink(currency, currency_id)
            amount: str | None = request_amount(order.amount_minor, currency.decimals)
        else:
            assert order.plan is not None
            paylink = self._plan_paylink(order, currency_id)
            amount = None
        self._webhooks_ensure(paylink, subscription=order.plan_snapshot.get("kind") == PlanKind.SUBSCRIPTION)
        charge = self.client.charge_create(
            paylink_id=paylink.helio_id,
            order_reference=order.public_id,
            expires_at=order.expires_at,
            success_url=order_page_url(order),
            cancel_url=order_page_url(order),
            request_amount=amount,
        )
        if not helio_page_url_allowed(charge.page_url):
            raise HelioResponseError("Helio's charge page is not on a Helio https address.")
        logger.info(
            "helio charge created",
            extra={"order": order.public_id, "charge": charge.id, "paylink": paylink.helio_id},
        )
        return Checkout(reference=charge.id, url=charge.page_url)

    # --- Pay links ---
    def _plan_paylink(self, order: Order, currency_id: str) -> HelioPaylink:
        """The plan's active pay link at the order's price, made when missing; links at another price are
        disabled (the plan's price changed)."""
        plan = order.plan
        assert plan is not None
        active = list(
            HelioPaylink.objects.filter(purpose=HelioPaylinkPurpose.PLAN, plan=plan, is_active=True).order_by(
                "-created_at", "-pk"
            )
        )
        current = next(
            (
                link
                for link in active
                if link.price_minor == order.amount_minor and link.currency_id == order.currency_id
            ),
            None,
        )
        if current is None:
            current = self._plan_paylink_create(order, plan, currency_id)
        for stale in active:
            if stale.pk != current.pk and (
                stale.price_minor != current.price_minor or stale.currency_id != current.currency_id
            ):
                self._paylink_disable(stale)
        return current

    def _plan_paylink_create(self, order: Order, plan: Plan, currency_id: str) -> HelioPaylink:
        snapshot = order.plan_snapshot
        # A subscription plan always has a month or year interval (a database constraint).
        interval = INTERVALS[snapshot["interval"]] if snapshot.get("kind") == PlanKind.SUBSCRIPTION else None
        created = self.client.paylink_create(
            name=f"{plan.model.name} — {snapshot.get('name') or plan.name}"[:80],
            description=(plan.description or None),
            price_base_units=order.amount_minor,  # our decimals are Helio's (currencies_refresh checks them)
            currency_id=currency_id,
            subscription_interval=interval,
            grace_period_days=settings.BILLING_GRACE_DAYS if interval else None,
        )
        with transaction.atomic():
            paylink = HelioPaylink.objects.create(
                helio_id=created.id,
                purpose=HelioPaylinkPurpose.PLAN,
                plan=plan,
                currency_id=order.currency_id,
                price_minor=order.amount_minor,
            )
            Plan.objects.filter(pk=plan.pk).update(
                helio_paylink_id=created.id, helio_paylink_price_minor=order.amount_minor
            )
        logger.info("helio pay link created", extra={"plan": plan.public_id, "paylink": created.id})
        return paylink

    def _top_up_paylink(self, currency: Currency, currency_id: str) -> HelioPaylink:
        existing = (
            HelioPaylink.objects.filter(
                purpose=HelioPaylinkPurpose.TOP_UP, currency_id=currency.code, is_active=True
            )
            .order_by("-created_at", "-pk")
            .first()
        )
        if existing is not None:
            return existing
        created = self.client.paylink_create(
            name=f"ModelMarket credit ({currency.code})",
            description="Prepaid credit for pay-as-you-go calls.",
            price_base_units=TOP_UP_NOMINAL_WHOLE_UNITS * 10**currency.decimals,
            currency_id=currency_id,
            dynamic=True,
        )
        paylink = HelioPaylink.objects.create(
            helio_id=created.id,
            purpose=HelioPaylinkPurpose.TOP_UP,
            currency_id=currency.code,
            price_minor=None,
        )
        logger.info("helio top-up pay link created", extra={"currency": currency.code, "paylink": created.id})
        return paylink

    def _paylink_disable(self, paylink: HelioPaylink) -> None:
        """Disable at Helio, then mark inactive. If Helio fails, the link stays active here (and so reconciled)
        and is tried again by the next checkout of the plan."""
        try:
            self.client.paylink_disable(paylink.helio_id)
        except UpstreamError:  # a stale link must not stop the buyer's checkout
            logger.warning(
                "helio pay link could not be disabled", extra={"paylink": paylink.helio_id}, exc_info=True
            )
            return
        HelioPaylink.objects.filter(pk=paylink.pk).update(is_active=False)
        logger.info("helio pay link disabled", extra={"paylink": paylink.helio_id})

    # --- Webhooks ---
    def _webhooks_ensure(self, paylink: HelioPaylink, *, subscription: bool) -> None:
        kinds: list[WebhookKind] = ["transaction", "subscription"] if subscription else ["transaction"]
        have = set(paylink.webhooks.values_list("kind", flat=True))
        for kind in kinds:
            if kind not in have:
                self._webhook_register(paylink, kind)

    def _webhook_register(self, paylink: HelioPaylink, kind: WebhookKind) -> None:
        """Register our endpoint for `kind` events on the pay link and keep its shared token, encrypted. A webhook
        to our endpoint that Helio already holds but we have no token for is deleted first."""
        target = webhook_target_url()
        known = set(HelioWebhook.objects.filter(paylink=paylink).values_list("helio_id", flat=True))
        for orphan in self.client.webhook_list(paylink.helio_id, kind):
            if orphan.target_url == target and orphan.id not in known:
                self.client.webhook_delete(orphan.id, kind)
                logger.info("helio webhook without a stored token deleted", extra={"webhook": orphan.id})
        if kind == "subscription":
            webhook = self.client.webhook_create_subscription(paylink_id=paylink.helio_id, target_url=target)
        else:
            webhook = self.client.webhook_create_transaction(paylink_id=paylink.helio_id, target_url=target)
        assert webhook.shared_token  # the client refuses a create answer without one
        HelioWebhook.objects.create(
            paylink=paylink,
            kind=kind,
            helio_id=webhook.id,
            shared_token_encrypted=encrypt_bytes(webhook.shared_token.encode()),
        )
        logger.info(
            "helio webhook registered",
            extra={"paylink": paylink.helio_id, "webhook": webhook.id, "kind": kind},
        )

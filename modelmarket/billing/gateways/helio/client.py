"""Helio (MoonPay Commerce) merchant API, synchronous, on `modelmarket.core.http.RetryingClient`.

The facts this follows are in /work/shared/reference/helio.md. In short:
- every merchant call sends the public key as `?apiKey=` and the secret key as `Authorization: Bearer`;
  `GET /currency/all` needs neither and gets neither;
- amounts on the wire are integer strings in the currency's base units; callers pass ints, we format at this
  boundary and parse back to ints;
- each method returns a small frozen dataclass with the fields we use, parsed defensively: a missing optional
  field becomes None, a missing required one raises `HelioResponseError` (`helio_bad_response`).

Retries (see core/http.py): connection failures and 429 (honouring Retry-After) always; read timeouts and
502/503/504 only for calls that are safe to repeat: GETs, the PATCHes (they set values) and DELETE. Creating a
pay link or a webhook is a POST and is not repeated after the request may have reached Helio: a duplicate pay
link is clutter and a duplicate webhook's sharedToken would be lost. Creating a charge is repeated: an unused
charge page simply expires. A 4xx is never retried; it raises `HelioRejected` with a code for its status.

Secrets: the secret key and webhook sharedTokens never go into a log record or an exception message. URLs are
logged without their query (`_loggable`), Helio's error messages are redacted before we quote them, bad
responses are described by what is missing, never by their body, and `HelioWebhook.shared_token` is left out
of its repr."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx
from django.conf import settings

from modelmarket.billing.gateways.helio.errors import HelioNotConfigured, HelioRejected, HelioResponseError
from modelmarket.billing.gateways.helio.payloads import (
    HelioCharge,
    HelioChargeStatus,
    HelioCurrency,
    HelioPaylink,
    HelioSubscription,
    HelioTransaction,
    HelioWebhook,
    currency_from_payload,
    items_of,
    object_of,
    optional_str,
    required_str,
    subscription_from_payload,
    transaction_from_payload,
    webhook_from_payload,
)
from modelmarket.core.http import (
    RetryingClient,
    RetryPolicy,
    Timeouts,
    UpstreamUnavailable,
    make_http_client,
)

SERVICE_NAME = "Helio"
SubscriptionInterval = Literal["MONTH", "YEAR"]
WebhookKind = Literal["transaction", "subscription"]
SUBSCRIPTION_INTERVALS: frozenset[str] = frozenset({"MONTH", "YEAR"})
TRANSACTION_WEBHOOK_EVENTS: tuple[str, ...] = ("CREATED",)
# Helio's docs disagree on the subscription event names we register for: the webhook-create reference lists
# STARTED | RENEWED | ENDED, a newer overview says SUBSCRIPTION_STARTED | SUBSCRIPTION_RENEWED | SUBSCRIPTION_ENDED
# (| SUBSCRIPTION_PENDING_PAYMENT). Deliveries carry the short names (plus SUBSCRIPTION_PENDING_PAYMENT) either
# way, and the webhook processor accepts both spellings. We register with the create reference's spelling; if
# Helio rejects it, this constant is the one place to change.
SUBSCRIPTION_WEBHOOK_EVENTS: tuple[str, ...] = ("STARTED", "RENEWED", "ENDED")
# The values of Helio's own example ("3 daily reminders", "2 days of grace") when the caller gives none.
DEFAULT_GRACE_PERIOD_DAYS = 2
DEFAULT_RENEWAL_REMINDERS = 3
# Helio answers within seconds; a stuck call should fail well inside a web request or a task's time limit.
MAX_ATTEMPTS = 4
TIME_BUDGET_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 5.0


# --- Client -------------------------------------------------------------------------------------------------------
class HelioClient:
    """One per job or request (not thread-safe, like RetryingClient). Reads the HELIO_* settings when built."""

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        random_fraction: Callable[[], float] = random.random,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._public_key: str = settings.HELIO_PUBLIC_KEY
        self._secret_key: str = settings.HELIO_SECRET_KEY
        self._wallet_id: str = settings.HELIO_WALLET_ID
        self._pay_base: str = settings.HELIO_PAY_BASE.rstrip("/")
        timeout_seconds = float(settings.HELIO_TIMEOUT_SECONDS)
        http = make_http_client(
            base_url=settings.HELIO_API_BASE.rstrip("/"),
            headers={"Accept": "application/json"},
            timeouts=Timeouts(
                connect_seconds=min(CONNECT_TIMEOUT_SECONDS, timeout_seconds),
                read_seconds=timeout_seconds,
                write_seconds=timeout_seconds,
                pool_seconds=CONNECT_TIMEOUT_SECONDS,
            ),
            transport=transport,
        )
        self.http = RetryingClient(
            http,
            policy=policy or RetryPolicy(max_attempts=MAX_ATTEMPTS, total_budget_seconds=TIME_BUDGET_SECONDS),
            rate_limit_hook=None,  # Helio sends no RateLimit headers; 429 + Retry-After is handled anyway
            sleep=sleep,
            clock=clock,
            random_fraction=random_fraction,
            service_name=SERVICE_NAME,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> HelioClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- Currencies ---
    def currencies(self) -> list[HelioCurrency]:
        """`GET /currency/all` (no authentication)."""
        payload = self._call("GET", "/currency/all", authenticated=False)
        return [currency_from_payload(item) for item in items_of(payload, what="currency list")]

    # --- Pay links ---
    def paylink_create(
        self,
        *,
        name: str,
        price_base_units: int,
        currency_id: str,
        description: str | None = None,
        subscription_interval: SubscriptionInterval | None = None,
        grace_period_days: int | None = None,
        renewal_reminders: int | None = None,
        dynamic: bool = False,
    ) -> HelioPaylink:
        """A pay link paying HELIO_WALLET_ID in `currency_id`; a subscription pay link when an interval is given.
        `dynamic`: each charge names its own amount (`requestAmount`, which Helio accepts on dynamic links only);
        `price` is still sent, since the docs list it as required either way."""
        if not self._wallet_id:
            raise HelioNotConfigured()
        body: dict[str, Any] = {
            "template": "SUBSCRIPTION" if subscription_interval else "OTHER",
            "name": name,
            "price": _price(price_base_units),
            "pricingCurrency": currency_id,
            "features": {"isSubscription": True} if subscription_interval else {},
            "recipients": [{"walletId": self._wallet_id, "currencyId": currency_id}],
        }
        if description is not None:
            body["description"] = description
        if dynamic:
            body["dynamic"] = True
        if subscription_interval is not None:
            body["subscriptionDetails"] = _subscription_details(
                subscription_interval, grace_period_days, renewal_reminders
            )
        payload = object_of(self._call("POST", "/paylink/create/api-key", body=body), what="pay link")
        paylink_id = required_str(payload, "id", what="pay link")
        return HelioPaylink(id=paylink_id, pay_url=self.pay_url(paylink_id))

    def paylink_update(
        self,
        paylink_id: str,
        *,
        name: str | None = None,
        price_base_units: int | None = None,
        description: str | None = None,
    ) -> HelioPaylink:
        """`PATCH /paylink/{id}/api-key` with only the fields given."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if price_base_units is not None:
            body["price"] = _price(price_base_units)
        if description is not None:
            body["description"] = description
        if not body:
            raise ValueError("paylink_update needs at least one of name, price_base_units, description.")
        self._call("PATCH", f"/paylink/{_segment(paylink_id)}/api-key", body=body, idempotent=True)
        return HelioPaylink(id=paylink_id, pay_url=self.pay_url(paylink_id))

    def paylink_disable(self, paylink_id: str) -> None:
        """`PATCH /paylink/{id}/disable`: the link stops taking payments."""
        self._call("PATCH", f"/paylink/{_segment(paylink_id)}/disable", idempotent=True)

    def pay_url(self, paylink_id: str) -> str:
        return f"{self._pay_base}/{paylink_id}"

    def paylink_transactions(
        self, paylink_id: str, *, since: datetime, until: datetime
    ) -> list[HelioTransaction]:
        """`GET /paylink/{id}/transactions?from=&to=`: the pay link's transactions in that window."""
        payload = self._call(
            "GET",
            f"/paylink/{_segment(paylink_id)}/transactions",
            params={"from": _iso(since), "to": _iso(until)},
        )
        return [transaction_from_payload(item) for item in items_of(payload, what="transaction list")]

    # --- Charges ---
    def charge_create(
        self,
        *,
        paylink_id: str,
        order_reference: str,
        expires_at: datetime,
        success_url: str,
        cancel_url: str,
        request_amount: str | None = None,
    ) -> HelioCharge:
        """A single checkout page for one buyer; `order_reference` comes back in the webhook's additionalJSON
        as `{"order": order_reference}`. `request_amount` (a decimal string) is for dynamic-price links only."""
        body: dict[str, Any] = {
            "paymentRequestId": paylink_id,
            "expiresAt": _iso(expires_at),
            "successRedirectUrl": success_url,
            "cancelRedirectUrl": cancel_url,
            "prepareRequestBody": {
                "customerDetails": {"additionalJSON": json.dumps({"order": order_reference})}
            },
        }
        if request_amount is not None:
            body["requestAmount"] = request_amount
        payload = object_of(self._call("POST", "/charge/api-key", body=body, idempotent=True), what="charge")
        return HelioCharge(
            id=required_str(payload, "id", what="charge"),
            page_url=required_str(payload, "pageUrl", what="charge"),
        )

    def charge_get(self, charge_id: str) -> HelioChargeStatus:
        """`GET /charge/{id}`; `paylinkTx` stays null until the buyer pays."""
        payload = object_of(self._call("GET", f"/charge/{_segment(charge_id)}"), what="charge")
        raw_transaction = payload.get("paylinkTx")
        transaction = (
            transaction_from_payload(object_of(raw_transaction, what="charge transaction"))
            if raw_transaction is not None
            else None
        )
        return HelioChargeStatus(
            id=optional_str(payload, "id") or charge_id,
            paid=transaction is not None and transaction.status == "SUCCESS",
            transaction=transaction,
        )

    # --- Transactions ---
    def transaction_by_signature(self, signature: str) -> HelioTransaction | None:
        """`GET /transactions/signature/{signature}`; None when Helio does not know it (404)."""
        try:
            payload = self._call("GET", f"/transactions/signature/{_segment(signature)}")
        except HelioRejected as error:
            if error.upstream_status == 404:
                return None
            raise
        return transaction_from_payload(object_of(payload, what="transaction"))

    # --- Webhooks ---
    def webhook_create_transaction(self, *, paylink_id: str, target_url: str) -> HelioWebhook:
        """Payments on one pay link (`CREATED`). The result's `shared_token` is shown once: store it."""
        return self._webhook_create("transaction", paylink_id, target_url, TRANSACTION_WEBHOOK_EVENTS)

    def webhook_create_subscription(self, *, paylink_id: str, target_url: str) -> HelioWebhook:
        """Subscription events on one pay link (SUBSCRIPTION_WEBHOOK_EVENTS). `shared_token` is shown once."""
        return self._webhook_create("subscription", paylink_id, target_url, SUBSCRIPTION_WEBHOOK_EVENTS)

    def webhook_list(self, paylink_id: str, kind: WebhookKind = "transaction") -> list[HelioWebhook]:
        payload = self._call("GET", f"/webhook/paylink/{kind}", params={"paylinkId": paylink_id})
        return [webhook_from_payload(item) for item in items_of(payload, what="webhook list")]

    def webhook_delete(self, webhook_id: str, kind: WebhookKind) -> None:
        self._call("DELETE", f"/webhook/paylink/{kind}/{_segment(webhook_id)}")

    def _webhook_create(
        self, kind: WebhookKind, paylink_id: str, target_url: str, events: tuple[str, ...]
    ) -> HelioWebhook:
        body = {"paylinkId": paylink_id, "targetUrl": target_url, "events": list(events)}
        payload = object_of(self._call("POST", f"/webhook/paylink/{kind}", body=body), what="webhook")
        webhook = webhook_from_payload(payload)
        if not webhook.shared_token:
            raise HelioResponseError(
                f"Helio's new {kind} webhook {webhook.id} came back without a sharedToken."
            )
        return webhook

    # --- Subscriptions ---
    def subscriptions(self, *, paylink_id: str, email: str | None = None) -> list[HelioSubscription]:
        params = {"paylink": paylink_id, **({"email": email} if email else {})}
        payload = self._call("GET", "/subscriptions", params=params)
        return [subscription_from_payload(item) for item in items_of(payload, what="subscription list")]

    def subscription_get(self, subscription_id: str) -> HelioSubscription:
        payload = self._call("GET", f"/subscriptions/{_segment(subscription_id)}")
        return subscription_from_payload(object_of(payload, what="subscription"))

    # --- Plumbing ---
    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        authenticated: bool = True,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one request and return its decoded JSON (None for an empty 2xx body). Raises HelioRejected for
        a 4xx, UpstreamUnavailable / UpstreamThrottled when retries run out, HelioResponseError for non-JSON."""
        query = dict(params or {})
        headers: dict[str, str] = {}
        if authenticated:
            if not (self._public_key and self._secret_key):
                raise HelioNotConfigured()
            query["apiKey"] = self._public_key
            headers["Authorization"] = f"Bearer {self._secret_key}"
        response = self.http.request(
            method, path, params=query, json=body, headers=headers, idempotent=idempotent
        )
        self._raise_for_status(response)
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise HelioResponseError(
                f"Helio answered {method} {path} with something other than JSON "
                f"({response.headers.get('Content-Type', 'no content type')}).",
                details={"url": _url_without_query(response)},
            ) from None

    def _raise_for_status(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        status = response.status_code
        url = _url_without_query(response)
        reason = self._redact(_error_message(response))
        if status >= 500:
            raise UpstreamUnavailable(
                f"Helio answered HTTP {status}: {reason}", url=url, upstream_status=status
            )
        code = {401: "helio_unauthorized", 403: "helio_unauthorized", 404: "helio_not_found"}.get(status)
        error = HelioRejected(
            f"Helio refused the request (HTTP {status}): {reason}", url=url, upstream_status=status
        )
        error.code = code or error.code
        raise error

    def _redact(self, text: str) -> str:
        for secret in (self._secret_key, self._public_key):
            if secret:
                text = text.replace(secret, "[redacted]")
        return text


def _iso(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and Z, as Helio's own examples (JavaScript's toISOString) write it."""
    if moment.tzinfo is None:
        raise ValueError("Helio timestamps need an aware datetime.")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _price(price_base_units: int) -> str:
    if isinstance(price_base_units, bool) or not isinstance(price_base_units, int) or price_base_units <= 0:
        raise ValueError("price_base_units must be a positive integer of the currency's base units.")
    return str(price_base_units)


def _subscription_details(
    interval: str, grace_period_days: int | None, renewal_reminders: int | None
) -> dict[str, Any]:
    if interval not in SUBSCRIPTION_INTERVALS:
        raise ValueError(f"Helio subscriptions renew every MONTH or YEAR, not {interval!r}.")
    return {
        "interval": interval,
        "gracePeriod": DEFAULT_GRACE_PERIOD_DAYS if grace_period_days is None else grace_period_days,
        "renewalReminders": DEFAULT_RENEWAL_REMINDERS if renewal_reminders is None else renewal_reminders,
        "annualDiscountBps": 0,
        "isAnonymous": True,
    }


def _segment(value: str) -> str:
    """An id placed in a URL path, escaped so it cannot reach another path."""
    if not value:
        raise ValueError("A Helio id is empty.")
    return quote(value, safe="")


def _url_without_query(response: httpx.Response) -> str:
    """The request's URL for messages: without the query, which carries our apiKey (as core.http logs URLs)."""
    return str(response.request.url.copy_with(query=None))


def _error_message(response: httpx.Response) -> str:
    """Helio's own words from an error body (`{"code": 401, "message": "..."}`; validation errors may send a
    list of messages), else the status's reason phrase. Never the raw body."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no message"
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, list):
        message = "; ".join(str(item) for item in message)
    if not isinstance(message, str) or not message:
        return response.reason_phrase or "no message"
    return message[:300]

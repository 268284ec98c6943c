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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx
from django.conf import settings

from modelmarket.core.exceptions import UpstreamError
from modelmarket.core.http import (
    RetryingClient,
    RetryPolicy,
    Timeouts,
    UpstreamRejected,
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


# --- Errors -------------------------------------------------------------------------------------------------------
class HelioResponseError(UpstreamError):
    """Helio answered 2xx with something we cannot use: not JSON, or a required field missing or malformed."""

    default_code = "helio_bad_response"
    default_message = "Helio answered with a response we could not read."


class HelioRejected(UpstreamRejected):
    """Helio refused the request with a 4xx (never retried). `code` says which kind: `helio_unauthorized`
    (401/403: wrong or missing keys), `helio_not_found` (404), `helio_rejected` (any other 4xx)."""

    default_code = "helio_rejected"


class HelioNotConfigured(UpstreamError):
    default_code = "helio_not_configured"
    default_message = (
        "Helio is not configured: set HELIO_PUBLIC_KEY and HELIO_SECRET_KEY (and HELIO_WALLET_ID)."
    )


# --- Results ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HelioCurrency:
    id: str
    symbol: str
    name: str | None
    decimals: int
    type: str | None
    blockchain_name: str | None
    blockchain_symbol: str | None
    engine: str | None  # SOL | EVM | BTC


@dataclass(frozen=True)
class HelioPaylink:
    id: str
    pay_url: str


@dataclass(frozen=True)
class HelioCharge:
    id: str
    page_url: str


@dataclass(frozen=True)
class HelioTransaction:
    id: str
    paylink_id: str | None
    status: str  # meta.transactionStatus: SUCCESS in Helio's examples; FAILED, PENDING seen in community code
    amount_base_units: int  # meta.amount: net of `fee` in Helio's examples
    total_amount_base_units: int | None
    fee_base_units: int
    signature: str | None
    sender: str | None
    currency_symbol: str | None
    created_at: datetime | None
    additional_json: dict[str, Any] | None
    email: str | None


@dataclass(frozen=True)
class HelioChargeStatus:
    id: str
    paid: bool  # a transaction with status SUCCESS is attached
    transaction: HelioTransaction | None


@dataclass(frozen=True)
class HelioWebhook:
    """`shared_token` comes back once, from the create call (None from list and get); it is kept out of repr."""

    id: str
    shared_token: str | None = field(default=None, repr=False)
    paylink_id: str | None = None
    target_url: str | None = None
    events: tuple[str, ...] = ()


@dataclass(frozen=True)
class HelioSubscription:
    id: str
    status: str  # ACTIVE | EXPIRED
    email: str | None
    renewal_date: datetime | None
    created_at: datetime | None
    transaction_ids: tuple[str, ...]


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
        return [currency_from_payload(item) for item in _items(payload, what="currency list")]

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
        payload = _object(self._call("POST", "/paylink/create/api-key", body=body), what="pay link")
        paylink_id = _required_str(payload, "id", what="pay link")
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
        return [transaction_from_payload(item) for item in _items(payload, what="transaction list")]

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
        payload = _object(self._call("POST", "/charge/api-key", body=body, idempotent=True), what="charge")
        return HelioCharge(
            id=_required_str(payload, "id", what="charge"),
            page_url=_required_str(payload, "pageUrl", what="charge"),
        )

    def charge_get(self, charge_id: str) -> HelioChargeStatus:
        """`GET /charge/{id}`; `paylinkTx` stays null until the buyer pays."""
        payload = _object(self._call("GET", f"/charge/{_segment(charge_id)}"), what="charge")
        raw_transaction = payload.get("paylinkTx")
        transaction = (
            transaction_from_payload(_object(raw_transaction, what="charge transaction"))
            if raw_transaction is not None
            else None
        )
        return HelioChargeStatus(
            id=_optional_str(payload, "id") or charge_id,
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
        return transaction_from_payload(_object(payload, what="transaction"))

    # --- Webhooks ---
    def webhook_create_transaction(self, *, paylink_id: str, target_url: str) -> HelioWebhook:
        """Payments on one pay link (`CREATED`). The result's `shared_token` is shown once: store it."""
        return self._webhook_create("transaction", paylink_id, target_url, TRANSACTION_WEBHOOK_EVENTS)

    def webhook_create_subscription(self, *, paylink_id: str, target_url: str) -> HelioWebhook:
        """Subscription events on one pay link (SUBSCRIPTION_WEBHOOK_EVENTS). `shared_token` is shown once."""
        return self._webhook_create("subscription", paylink_id, target_url, SUBSCRIPTION_WEBHOOK_EVENTS)

    def webhook_list(self, paylink_id: str, kind: WebhookKind = "transaction") -> list[HelioWebhook]:
        payload = self._call("GET", f"/webhook/paylink/{kind}", params={"paylinkId": paylink_id})
        return [webhook_from_payload(item) for item in _items(payload, what="webhook list")]

    def webhook_delete(self, webhook_id: str, kind: WebhookKind) -> None:
        self._call("DELETE", f"/webhook/paylink/{kind}/{_segment(webhook_id)}")

    def _webhook_create(
        self, kind: WebhookKind, paylink_id: str, target_url: str, events: tuple[str, ...]
    ) -> HelioWebhook:
        body = {"paylinkId": paylink_id, "targetUrl": target_url, "events": list(events)}
        payload = _object(self._call("POST", f"/webhook/paylink/{kind}", body=body), what="webhook")
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
        return [subscription_from_payload(item) for item in _items(payload, what="subscription list")]

    def subscription_get(self, subscription_id: str) -> HelioSubscription:
        payload = self._call("GET", f"/subscriptions/{_segment(subscription_id)}")
        return subscription_from_payload(_object(payload, what="subscription"))

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


# --- Parsing ------------------------------------------------------------------------------------------------------
def transaction_from_payload(obj: dict[str, Any]) -> HelioTransaction:
    """A Helio transaction object (a webhook's `transactionObject`, a charge's `paylinkTx`, an item of the
    transaction lists). Required: `id`, `meta.transactionStatus`, `meta.amount`; the rest may be missing."""
    obj = _object(obj, what="transaction")
    transaction_id = _required_str(obj, "id", what="transaction")
    what = f"transaction {transaction_id}"
    meta = _object(obj.get("meta"), what=f"{what} meta")
    customer = _nested(meta, "customerDetails")
    fee = _base_units(obj.get("fee"), field_name="fee", what=what)
    amount = _base_units(meta.get("amount"), field_name="meta.amount", what=what)
    if amount is None:
        raise HelioResponseError(f"Helio's {what} has no meta.amount.")
    return HelioTransaction(
        id=transaction_id,
        paylink_id=_optional_str(obj, "paylinkId"),
        status=_required_str(meta, "transactionStatus", what=what),
        amount_base_units=amount,
        total_amount_base_units=_base_units(
            meta.get("totalAmount"), field_name="meta.totalAmount", what=what
        ),
        fee_base_units=fee or 0,
        signature=_optional_str(meta, "transactionSignature"),
        sender=_optional_str(meta, "senderPK"),
        currency_symbol=_currency_symbol(meta),
        created_at=_parse_datetime(obj.get("createdAt")),
        additional_json=decode_additional_json(customer.get("additionalJSON")),
        email=_optional_str(customer, "email"),
    )


def decode_additional_json(value: Any) -> dict[str, Any] | None:
    """`customerDetails.additionalJSON` as a dict. It is a JSON string, sometimes encoded twice (a JSON string
    whose value is another JSON string): decode up to twice. Anything that does not end as a dict is None."""
    for _ in range(3):  # the value as given, then up to two decodings
        if isinstance(value, dict):
            return value
        if not isinstance(value, str):
            return None
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return None


def currency_from_payload(obj: Any) -> HelioCurrency:
    obj = _object(obj, what="currency")
    what = f"currency {obj.get('id') or '(no id)'}"
    decimals = obj.get("decimals")
    if isinstance(decimals, bool) or not isinstance(decimals, int) or decimals < 0:
        raise HelioResponseError(f"Helio's {what} has no usable decimals.")
    blockchain = _nested(obj, "blockchain")
    engine = _nested(blockchain, "engine")
    return HelioCurrency(
        id=_required_str(obj, "id", what="currency"),
        symbol=_required_str(obj, "symbol", what=what),
        name=_optional_str(obj, "name"),
        decimals=decimals,
        type=_optional_str(obj, "type"),
        blockchain_name=_optional_str(blockchain, "name"),
        blockchain_symbol=_optional_str(blockchain, "symbol"),
        engine=_optional_str(engine, "type"),
    )


def webhook_from_payload(obj: Any) -> HelioWebhook:
    obj = _object(obj, what="webhook")
    events = obj.get("events")
    return HelioWebhook(
        id=_required_str(obj, "id", what="webhook"),
        shared_token=_optional_str(obj, "sharedToken"),
        paylink_id=_optional_str(obj, "paylinkId") or _optional_str(obj, "paylink"),
        target_url=_optional_str(obj, "targetUrl"),
        events=tuple(str(event) for event in events) if isinstance(events, list) else (),
    )


def subscription_from_payload(obj: Any) -> HelioSubscription:
    obj = _object(obj, what="subscription")
    subscription_id = _required_str(obj, "id", what="subscription")
    transactions = obj.get("transactions") if isinstance(obj.get("transactions"), list) else []
    # Helio's docs show `transactions[...]` without saying whether it holds objects or ids: take either.
    transaction_ids = [item.get("id") if isinstance(item, dict) else item for item in transactions]
    return HelioSubscription(
        id=subscription_id,
        status=_required_str(obj, "status", what=f"subscription {subscription_id}"),
        email=_optional_str(obj, "email"),
        renewal_date=_parse_datetime(obj.get("renewalDate")),
        created_at=_parse_datetime(obj.get("createdAt")),
        transaction_ids=tuple(str(item) for item in transaction_ids if isinstance(item, str) and item),
    )


def _currency_symbol(meta: dict[str, Any]) -> str | None:
    currency = meta.get("currency")
    if isinstance(currency, dict):  # community code shows both a symbol and a currency object here
        currency = currency.get("symbol")
    if isinstance(currency, str) and currency:
        return currency
    token_quote = meta.get("tokenQuote")
    return _optional_str(token_quote, "to") if isinstance(token_quote, dict) else None


def _nested(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    """An optional nested object: {} when missing or not an object."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _object(value: Any, *, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HelioResponseError(f"Helio's {what} is not a JSON object.")
    return value


def _items(payload: Any, *, what: str) -> list[Any]:
    """A list answer: a bare JSON array, or (defensively) an object wrapping one under a usual key."""
    if isinstance(payload, dict):
        payload = next(
            (payload[key] for key in ("data", "results", "items") if isinstance(payload.get(key), list)),
            payload,
        )
    if not isinstance(payload, list):
        raise HelioResponseError(f"Helio's {what} is not a JSON array.")
    return payload


def _required_str(obj: Mapping[str, Any], key: str, *, what: str) -> str:
    value = _optional_str(obj, key)
    if value is None:
        raise HelioResponseError(f"Helio's {what} has no {key}.")
    return value


def _optional_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if isinstance(value, bool) or value is None or value == "":
        return None
    return str(value) if isinstance(value, str | int) else None


def _base_units(value: Any, *, field_name: str, what: str) -> int | None:
    """An amount in base units: Helio sends integer strings ("98000"); a plain integer is accepted too.
    Missing is None; anything else (decimals, negatives, text) is a bad response, never a guess."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise HelioResponseError(f"Helio's {what} has a {field_name} that is not an integer amount.")


def _parse_datetime(value: Any) -> datetime | None:
    """ISO-8601 (with Z or an offset; naive means UTC) or epoch milliseconds; None when absent or unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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

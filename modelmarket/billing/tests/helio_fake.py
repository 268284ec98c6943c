"""A fake of Helio's merchant API for `httpx.MockTransport`, keeping state and answering with payloads shaped
as /work/shared/reference/helio.md describes them. Reused by the client's, the gateway's and the webhook
processor's tests: keep the shapes faithful.

    helio = FakeHelio()
    client = HelioClient(transport=helio.transport(), sleep=clock.sleep, clock=clock)
    link = client.paylink_create(name="Pro", price_base_units=5_000_000, currency_id=USDC_SOLANA_ID)
    charge = client.charge_create(paylink_id=link.id, order_reference="ord_1", ...)
    payload = helio.pay(charge.id, amount=4_900_000, fee=100_000)     # the CREATED webhook Helio would send
    body, headers = helio.signed_delivery(payload, shared_token=webhook.shared_token)

Authentication is checked exactly (`?apiKey=` public key and `Authorization: Bearer` secret key on every call
but `GET /currency/all`); errors look like Helio's, `{"code": 401, "message": "..."}`. `fail()` scripts faults
(429 with Retry-After, 5xx, connect errors, timeouts, malformed JSON) for the next matching requests. Every
request is recorded in `requests`, faulted ones included."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

HELIO_TEST_API_BASE = "https://api.dev.hel.io/v1"
HELIO_TEST_PAY_BASE = "https://app.dev.hel.io/pay"
HELIO_TEST_APP_BASE = "https://app.dev.hel.io"
HELIO_TEST_PUBLIC_KEY = "pk_test_9f8e7d6c5b4a"
HELIO_TEST_SECRET_KEY = "sk_test_SECRET_3b1d0f9a8c7e6d5c4b3a2f1e"
HELIO_TEST_WALLET_ID = "65f1c2d3e4a5b6c7d8e9f0a1"
MERCHANT_WALLET_ADDRESS = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"
BUYER_WALLET_ADDRESS = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"

USDC_SOLANA_ID = "6340313846e4f91b8abc519b"
SOL_ID = "63430c8348c610068bcdc474"
ETH_ID = "65a4f0c1b2d3e4f5a6b7c801"
BTC_ID = "65a4f0c1b2d3e4f5a6b7c802"
USDC_BASE_ID = "65a4f0c1b2d3e4f5a6b7c803"
USDC_POLYGON_ID = "65a4f0c1b2d3e4f5a6b7c804"
USDC_ETHEREUM_ID = "65a4f0c1b2d3e4f5a6b7c805"
USD_ID = "63f4d1a2b3c4d5e6f7a8b9c0"

TRANSACTION_EVENTS = frozenset({"CREATED"})
SUBSCRIPTION_EVENTS = frozenset(
    {
        "STARTED",
        "RENEWED",
        "ENDED",
        "SUBSCRIPTION_STARTED",
        "SUBSCRIPTION_RENEWED",
        "SUBSCRIPTION_ENDED",
        "SUBSCRIPTION_PENDING_PAYMENT",
    }
)
INTERVALS = {"MONTH": timedelta(days=30), "YEAR": timedelta(days=365)}
REQUIRED_PAYLINK_FIELDS = ("template", "name", "price", "pricingCurrency", "features", "recipients")


# --- Currencies ---------------------------------------------------------------------------------------------------
def _blockchain(name: str, symbol: str, engine: str, blockchain_id: str) -> dict[str, Any]:
    return {
        "id": blockchain_id,
        "name": name,
        "symbol": symbol,
        "engine": {"id": f"{blockchain_id[:-1]}e", "type": engine},
    }


SOLANA = _blockchain("Solana", "SOL", "SOL", "63b7a1c2d3e4f5a6b7c8d901")
ETHEREUM = _blockchain("Ethereum", "ETH", "EVM", "63b7a1c2d3e4f5a6b7c8d902")
BASE = _blockchain("Base", "BASE", "EVM", "63b7a1c2d3e4f5a6b7c8d903")
POLYGON = _blockchain("Polygon", "POL", "EVM", "63b7a1c2d3e4f5a6b7c8d904")
BITCOIN = _blockchain("Bitcoin", "BTC", "BTC", "63b7a1c2d3e4f5a6b7c8d905")


def _currency(
    currency_id: str,
    symbol: str,
    name: str,
    decimals: int,
    blockchain: dict[str, Any] | None,
    mint_address: str | None,
    *,
    currency_type: str = "DIGITAL",
    order: int = 1,
) -> dict[str, Any]:
    return {
        "id": currency_id,
        "name": name,
        "decimals": decimals,
        "order": order,
        "mintAddress": mint_address,
        "symbol": symbol,
        "symbolPrefix": "$" if symbol in ("USDC", "USD") else None,
        "type": currency_type,
        "iconUrl": f"https://helio-assets.s3.eu-west-1.amazonaws.com/{symbol}.svg",
        "blockchain": blockchain,
        "features": ["PAYMENT", "PRICING"],
    }


def default_currencies() -> list[dict[str, Any]]:
    """Objects as `GET /currency/all` returns them. The ids other than USDC-on-Solana and SOL are made up."""
    return [
        _currency(
            USDC_SOLANA_ID, "USDC", "USDC", 6, SOLANA, "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", order=1
        ),
        _currency(SOL_ID, "SOL", "Solana", 9, SOLANA, "So11111111111111111111111111111111111111112", order=2),
        _currency(ETH_ID, "ETH", "Ether", 18, ETHEREUM, None, order=3),
        _currency(BTC_ID, "BTC", "Bitcoin", 8, BITCOIN, None, order=4),
        _currency(
            USDC_BASE_ID, "USDC", "USDC", 6, BASE, "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", order=5
        ),
        _currency(
            USDC_POLYGON_ID, "USDC", "USDC", 6, POLYGON, "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", order=6
        ),
        _currency(
            USDC_ETHEREUM_ID,
            "USDC",
            "USDC",
            6,
            ETHEREUM,
            "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
            order=7,
        ),
        _currency(USD_ID, "USD", "US Dollar", 2, None, None, currency_type="FIAT", order=8),
    ]


# --- Faults -------------------------------------------------------------------------------------------------------
@dataclass
class HelioFault:
    """One scripted bad answer: a status with headers and a JSON body (or raw `content`), or an exception."""

    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    content: bytes | None = None
    exception: type[httpx.TransportError] | None = None


def throttled(seconds: int = 3) -> HelioFault:
    return HelioFault(
        status=429, headers={"Retry-After": str(seconds)}, body={"code": 429, "message": "Too Many Requests"}
    )


def unavailable(status: int = 503) -> HelioFault:
    return HelioFault(status=status, body={"code": status, "message": "Service Unavailable"})


def connect_error() -> HelioFault:
    return HelioFault(exception=httpx.ConnectError)


def read_timeout() -> HelioFault:
    return HelioFault(exception=httpx.ReadTimeout)


def malformed_json() -> HelioFault:
    return HelioFault(
        status=200,
        headers={"Content-Type": "application/json"},
        content=b'{"id": "6340313846e4f91b8abc519b", "pageUrl": ',
    )


@dataclass
class _ScriptedFault:
    fault: HelioFault
    method: str | None
    path: str | None


# --- Helpers ------------------------------------------------------------------------------------------------------
def _object_id() -> str:
    return secrets.token_hex(12)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _signature() -> str:
    """Something shaped like a base58 Solana transaction signature (88 characters)."""
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    return "".join(secrets.choice(alphabet) for _ in range(88))


def _error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"code": status, "message": message})


def _ok(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


def _is_integer_string(value: Any) -> bool:
    return isinstance(value, str) and value.isdigit() and value.isascii()


_NOT_GIVEN: Any = object()


# --- The fake -----------------------------------------------------------------------------------------------------
class FakeHelio:
    def __init__(
        self,
        *,
        public_key: str = HELIO_TEST_PUBLIC_KEY,
        secret_key: str = HELIO_TEST_SECRET_KEY,
        wallet_ids: tuple[str, ...] = (HELIO_TEST_WALLET_ID,),
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.public_key, self.secret_key, self.wallet_ids = public_key, secret_key, wallet_ids
        self.now = now or (lambda: datetime.now(UTC))
        self.currencies = default_currencies()
        self.paylinks: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}  # each with "kind" and its "sharedToken"
        self.transactions: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self._faults: list[_ScriptedFault] = []
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., httpx.Response], bool]] = [
            ("GET", re.compile(r"/currency/all"), self._currencies, False),
            ("POST", re.compile(r"/paylink/create/api-key"), self._paylink_create, True),
            ("PATCH", re.compile(r"/paylink/(?P<id>[^/]+)/api-key"), self._paylink_update, True),
            ("PATCH", re.compile(r"/paylink/(?P<id>[^/]+)/disable"), self._paylink_disable, True),
            ("GET", re.compile(r"/paylink/(?P<id>[^/]+)/transactions"), self._paylink_transactions, True),
            ("POST", re.compile(r"/charge/api-key"), self._charge_create, True),
            ("GET", re.compile(r"/charge/(?P<id>[^/]+)"), self._charge_get, True),
            ("POST", re.compile(r"/webhook/paylink/(?P<kind>transaction|subscription)"), self._webhook_create, True),
            ("GET", re.compile(r"/webhook/paylink/(?P<kind>transaction|subscription)"), self._webhook_list, True),
            ("GET", re.compile(r"/webhook/paylink/(?P<kind>transaction|subscription)/(?P<id>[^/]+)"), self._webhook_get, True),
            ("DELETE", re.compile(r"/webhook/paylink/(?P<kind>transaction|subscription)/(?P<id>[^/]+)"), self._webhook_delete, True),
            ("GET", re.compile(r"/transactions/signature/(?P<signature>[^/]+)"), self._transaction_by_signature, True),
            ("GET", re.compile(r"/subscriptions"), self._subscription_list, True),
            ("GET", re.compile(r"/subscriptions/(?P<id>[^/]+)"), self._subscription_get, True),
        ]  # fmt: skip

    # --- Plumbing ---
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def fail(self, *faults: HelioFault, method: str | None = None, path: str | None = None) -> None:
        """Answer the next requests matching `method` and `path` (a prefix of the path after /v1; both
        optional) with `faults`, one each, before answering normally."""
        self._faults.extend(_ScriptedFault(fault, method, path) for fault in faults)

    def request_json(self, index: int = -1) -> Any:
        """The JSON body of a recorded request (the last by default)."""
        return json.loads(self.requests[index].content)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix(httpx.URL(HELIO_TEST_API_BASE).path)
        scripted = self._scripted(request, path)
        if scripted is not None:
            return scripted
        for method, pattern, handler, authenticated in self._routes:
            match = pattern.fullmatch(path)
            if match is None or method != request.method:
                continue
            if authenticated:
                refusal = self._refuse_unauthenticated(request)
                if refusal is not None:
                    return refusal
            return handler(request, **match.groupdict())
        return _error(404, f"Cannot {request.method} {request.url.path}")

    def _scripted(self, request: httpx.Request, path: str) -> httpx.Response | None:
        for scripted in self._faults:
            if (scripted.method is None or scripted.method == request.method) and (
                scripted.path is None or path.startswith(scripted.path)
            ):
                self._faults.remove(scripted)
                fault = scripted.fault
                if fault.exception is not None:
                    raise fault.exception("scripted failure", request=request)
                if fault.content is not None:
                    return httpx.Response(fault.status, headers=fault.headers, content=fault.content)
                return httpx.Response(fault.status, headers=fault.headers, json=fault.body)
        return None

    def _refuse_unauthenticated(self, request: httpx.Request) -> httpx.Response | None:
        api_key = request.url.params.get("apiKey")
        authorization = request.headers.get("Authorization")
        if not api_key:
            return _error(401, "Missing apiKey query parameter")
        if not authorization or not authorization.startswith("Bearer "):
            return _error(401, "Missing Authorization Bearer token")
        given_secret = authorization.removeprefix("Bearer ")
        if not (
            hmac.compare_digest(api_key, self.public_key)
            and hmac.compare_digest(given_secret, self.secret_key)
        ):
            return _error(401, "Invalid API key or token")
        return None

    @staticmethod
    def _body(request: httpx.Request) -> dict[str, Any] | None:
        try:
            body = json.loads(request.content or b"null")
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    # --- Currencies and pay links ---
    def _currencies(self, request: httpx.Request) -> httpx.Response:
        return _ok(self.currencies)

    def currency(self, currency_id: str) -> dict[str, Any] | None:
        return next((item for item in self.currencies if item["id"] == currency_id), None)

    def _paylink_create(self, request: httpx.Request) -> httpx.Response:
        body = self._body(request)
        if body is None:
            return _error(400, "Request body must be a JSON object")
        missing = [name for name in REQUIRED_PAYLINK_FIELDS if body.get(name) in (None, "")]
        if missing:
            return _error(400, f"{missing[0]} should not be empty")
        problem = self._paylink_problem(body)
        if problem:
            return _error(400, problem)
        paylink = {
            "id": _object_id(),
            "name": body["name"],
            "description": body.get("description"),
            "template": body["template"],
            "price": body["price"],
            "pricingCurrency": body["pricingCurrency"],
            "features": body["features"],
            "recipients": body["recipients"],
            "subscriptionDetails": body.get("subscriptionDetails"),
            "disabled": False,
            "createdAt": _iso(self.now()),
        }
        self.paylinks[paylink["id"]] = paylink
        return _ok(self._paylink_view(paylink), status=201)

    def _paylink_problem(self, body: dict[str, Any]) -> str | None:
        if body["template"] not in ("OTHER", "SUBSCRIPTION"):
            return f"template must be one of OTHER, SUBSCRIPTION, ... (got {body['template']!r})"
        if not _is_integer_string(body["price"]):
            return "price must be an integer string in the currency's base units"
        if self.currency(body["pricingCurrency"]) is None:
            return f"Currency {body['pricingCurrency']} not found"
        if not isinstance(body["features"], dict):
            return "features must be an object"
        recipients = body["recipients"]
        if not isinstance(recipients, list) or not recipients:
            return "recipients must contain at least one recipient"
        for recipient in recipients:
            if not isinstance(recipient, dict) or recipient.get("walletId") not in self.wallet_ids:
                return "recipients.walletId must be one of your wallets"
            if self.currency(str(recipient.get("currencyId"))) is None:
                return "recipients.currencyId must be a supported currency"
        if body["template"] == "SUBSCRIPTION":
            details = body.get("subscriptionDetails")
            if body["features"].get("isSubscription") is not True:
                return "features.isSubscription must be true for a subscription"
            if not isinstance(details, dict) or details.get("interval") not in INTERVALS:
                return "subscriptionDetails.interval must be one of MONTH, YEAR"
        return None

    def _paylink_view(self, paylink: dict[str, Any]) -> dict[str, Any]:
        return {**paylink, "pricingCurrency": self.currency(paylink["pricingCurrency"])}

    def _paylink_update(self, request: httpx.Request, id: str) -> httpx.Response:
        paylink = self.paylinks.get(id)
        if paylink is None:
            return _error(404, f"Paylink {id} not found")
        body = self._body(request)
        if body is None:
            return _error(400, "Request body must be a JSON object")
        if "price" in body and not _is_integer_string(body["price"]):
            return _error(400, "price must be an integer string in the currency's base units")
        paylink.update({key: body[key] for key in ("name", "price", "description") if key in body})
        return _ok(self._paylink_view(paylink))

    def _paylink_disable(self, request: httpx.Request, id: str) -> httpx.Response:
        paylink = self.paylinks.get(id)
        if paylink is None:
            return _error(404, f"Paylink {id} not found")
        paylink["disabled"] = True
        return _ok(self._paylink_view(paylink))

    def _paylink_transactions(self, request: httpx.Request, id: str) -> httpx.Response:
        if id not in self.paylinks:
            return _error(404, f"Paylink {id} not found")
        since = _parse_iso(request.url.params.get("from"))
        until = _parse_iso(request.url.params.get("to"))
        found = []
        for transaction in self.transactions.values():
            created_at = _parse_iso(transaction["createdAt"])
            assert created_at is not None
            if (
                transaction["paylinkId"] != id
                or (since and created_at < since)
                or (until and created_at > until)
            ):
                continue
            found.append(transaction)
        return _ok(found)

    # --- Charges ---
    def _charge_create(self, request: httpx.Request) -> httpx.Response:
        body = self._body(request)
        if body is None or not body.get("paymentRequestId"):
            return _error(400, "paymentRequestId should not be empty")
        paylink = self.paylinks.get(body["paymentRequestId"])
        if paylink is None:
            return _error(404, f"Paylink {body['paymentRequestId']} not found")
        if paylink["disabled"]:
            return _error(400, "Paylink is disabled")
        customer = (body.get("prepareRequestBody") or {}).get("customerDetails") or {}
        token = str(uuid.uuid4())
        charge = {
            "id": _object_id(),
            "token": token,
            "paylinkId": paylink["id"],
            "pageUrl": f"{HELIO_TEST_APP_BASE}/charge/{token}",
            "requestAmount": body.get("requestAmount"),
            "expiresAt": body.get("expiresAt"),
            "successRedirectUrl": body.get("successRedirectUrl"),
            "cancelRedirectUrl": body.get("cancelRedirectUrl"),
            "additionalJSON": customer.get("additionalJSON"),
            "paylinkTx": None,
            "createdAt": _iso(self.now()),
        }
        self.charges[charge["id"]] = charge
        return _ok({"id": charge["id"], "pageUrl": charge["pageUrl"]}, status=201)

    def _charge_get(self, request: httpx.Request, id: str) -> httpx.Response:
        charge = self.charges.get(id)
        if charge is None:
            return _error(404, f"Charge {id} not found")
        return _ok({key: value for key, value in charge.items() if key != "additionalJSON"})

    # --- Webhooks ---
    def _webhook_create(self, request: httpx.Request, kind: str) -> httpx.Response:
        body = self._body(request)
        if body is None or not body.get("paylinkId") or not body.get("targetUrl"):
            return _error(400, "paylinkId and targetUrl should not be empty")
        if body["paylinkId"] not in self.paylinks:
            return _error(404, f"Paylink {body['paylinkId']} not found")
        allowed = TRANSACTION_EVENTS if kind == "transaction" else SUBSCRIPTION_EVENTS
        events = body.get("events")
        if not isinstance(events, list) or not events or not set(events) <= allowed:
            return _error(400, f"events must be a non-empty subset of {sorted(allowed)}")
        webhook = {
            "id": _object_id(),
            "kind": kind,
            "paylinkId": body["paylinkId"],
            "targetUrl": body["targetUrl"],
            "events": events,
            "sharedToken": secrets.token_urlsafe(32),
            "createdAt": _iso(self.now()),
        }
        self.webhooks[webhook["id"]] = webhook
        return _ok(self._webhook_view(webhook, with_token=True), status=201)

    @staticmethod
    def _webhook_view(webhook: dict[str, Any], *, with_token: bool = False) -> dict[str, Any]:
        hidden = {"kind"} if with_token else {"kind", "sharedToken"}
        return {key: value for key, value in webhook.items() if key not in hidden}

    def _webhook_list(self, request: httpx.Request, kind: str) -> httpx.Response:
        paylink_id = request.url.params.get("paylinkId")
        return _ok(
            [
                self._webhook_view(webhook)
                for webhook in self.webhooks.values()
                if webhook["kind"] == kind and (not paylink_id or webhook["paylinkId"] == paylink_id)
            ]
        )

    def _webhook_get(self, request: httpx.Request, kind: str, id: str) -> httpx.Response:
        webhook = self.webhooks.get(id)
        if webhook is None or webhook["kind"] != kind:
            return _error(404, f"Webhook {id} not found")
        return _ok(self._webhook_view(webhook))

    def _webhook_delete(self, request: httpx.Request, kind: str, id: str) -> httpx.Response:
        webhook = self.webhooks.get(id)
        if webhook is None or webhook["kind"] != kind:
            return _error(404, f"Webhook {id} not found")
        del self.webhooks[id]
        return _ok(self._webhook_view(webhook))

    def shared_token(self, webhook_id: str) -> str:
        return str(self.webhooks[webhook_id]["sharedToken"])

    # --- Transactions and subscriptions ---
    def _transaction_by_signature(self, request: httpx.Request, signature: str) -> httpx.Response:
        for transaction in self.transactions.values():
            if transaction["meta"]["transactionSignature"] == signature:
                return _ok(transaction)
        return _error(404, "Transaction not found")

    def _subscription_list(self, request: httpx.Request) -> httpx.Response:
        paylink_id, email = request.url.params.get("paylink"), request.url.params.get("email")
        return _ok(
            [
                self._subscription_view(subscription)
                for subscription in self.subscriptions.values()
                if (not paylink_id or subscription["paylinkId"] == paylink_id)
                and (not email or subscription["email"] == email)
            ]
        )

    def _subscription_get(self, request: httpx.Request, id: str) -> httpx.Response:
        subscription = self.subscriptions.get(id)
        if subscription is None:
            return _error(404, f"Subscription {id} not found")
        return _ok(self._subscription_view(subscription))

    def _subscription_view(self, subscription: dict[str, Any]) -> dict[str, Any]:
        return {
            **subscription,
            "transactions": [self.transactions[tx_id] for tx_id in subscription["transactions"]],
        }

    # --- Test helpers: what a buyer does, what Helio then delivers ---
    def pay(
        self,
        target_id: str,
        *,
        amount: int,
        fee: int = 0,
        signature: str | None = None,
        status: str = "SUCCESS",
        email: str = "buyer@example.com",
        sender: str = BUYER_WALLET_ADDRESS,
        additional_json: Any = _NOT_GIVEN,
        created_at: datetime | None = None,
    ) -> dict[str, Any]:
        """A buyer pays a charge (by its id) or a pay link (by its id). `amount` becomes `meta.amount` and `fee`
        the transaction's `fee`; as in Helio's example, the buyer paid amount + fee (`tokenQuote`) and
        `meta.totalAmount` repeats `meta.amount`. `additionalJSON` is copied from the charge unless given (pass a
        double-encoded string to test that case; None leaves it out). Stores the transaction (the charge's
        `paylinkTx` too) and returns the exact `CREATED` payload Helio would deliver."""
        charge = self.charges.get(target_id)
        paylink = self.paylinks[charge["paylinkId"] if charge else target_id]
        if additional_json is _NOT_GIVEN:
            additional_json = charge["additionalJSON"] if charge else None
        transaction = self._transaction(
            paylink,
            amount=amount,
            fee=fee,
            signature=signature,
            status=status,
            email=email,
            sender=sender,
            additional_json=additional_json,
            created_at=created_at,
        )
        if charge:
            charge["paylinkTx"] = transaction
        return {
            "event": "CREATED",
            "chargeToken": charge["token"] if charge else str(uuid.uuid4()),
            "transaction": json.dumps(transaction),
            "transactionObject": transaction,
        }

    def _transaction(
        self,
        paylink: dict[str, Any],
        *,
        amount: int,
        fee: int,
        signature: str | None,
        status: str,
        email: str | None,
        sender: str,
        additional_json: Any,
        created_at: datetime | None,
    ) -> dict[str, Any]:
        currency = self.currency(paylink["pricingCurrency"]) or {}
        symbol, decimals = currency.get("symbol", "USDC"), int(currency.get("decimals", 6))
        paid = amount + fee
        customer: dict[str, Any] = {"email": email, "fullName": "Ada Buyer"}
        if additional_json is not None:
            customer["additionalJSON"] = additional_json
        meta: dict[str, Any] = {
            "id": _object_id(),
            "amount": str(amount),
            "totalAmount": str(amount),
            "senderPK": sender,
            "recipientPK": MERCHANT_WALLET_ADDRESS,
            "transactionSignature": signature or _signature(),
            "transactionStatus": status,
            "transactionType": "PAYLINK",
            "customerDetails": customer,
            "tokenQuote": {
                "from": symbol,
                "fromAmountDecimal": format(Decimal(paid).scaleb(-decimals).normalize(), "f"),
                "to": symbol,
                "toAmountMinimal": str(paid),
            },
        }
        if symbol == "USDC":
            meta["totalAmountAsUSD"] = str(amount)
        transaction = {
            "id": _object_id(),
            "paylinkId": paylink["id"],
            "fee": str(fee),
            "quantity": 1,
            "createdAt": _iso(created_at or self.now()),
            "paymentType": "PAYLINK",
            "meta": meta,
        }
        self.transactions[transaction["id"]] = transaction
        return transaction

    def subscription_event(
        self,
        event: str,
        *,
        paylink_id: str | None = None,
        subscription_id: str | None = None,
        charge_id: str | None = None,
        email: str = "buyer@example.com",
        amount: int | None = None,
        fee: int = 0,
        signature: str | None = None,
        status: str = "SUCCESS",
    ) -> dict[str, Any]:
        """The payload of one subscription webhook, with the state change behind it:
        - STARTED (pay link or charge given): a new ACTIVE subscription and its first payment;
        - RENEWED (subscription given): another payment, renewal date moved one interval on;
        - ENDED: the subscription EXPIRED; no `nextChargeUrl` / `chargeToken`;
        - SUBSCRIPTION_PENDING_PAYMENT: a renewal is due; no `email` / `subscriptionState`.
        `event` may use either documented spelling (`STARTED` or `SUBSCRIPTION_STARTED`); the payload's `event`
        field carries it as given. `amount` defaults to the pay link's price."""
        kind = event if event == "SUBSCRIPTION_PENDING_PAYMENT" else event.removeprefix("SUBSCRIPTION_")
        if kind == "STARTED":
            subscription = self._subscription_start(paylink_id=paylink_id, charge_id=charge_id, email=email)
        else:
            assert subscription_id is not None, f"{event} needs the subscription_id of a started subscription"
            subscription = self.subscriptions[subscription_id]
        paylink = self.paylinks[subscription["paylinkId"]]
        interval = INTERVALS[(paylink.get("subscriptionDetails") or {}).get("interval", "MONTH")]
        if kind in ("STARTED", "RENEWED"):
            charge = self.charges.get(charge_id or "")
            transaction = self._transaction(
                paylink,
                amount=int(paylink["price"]) if amount is None else amount,
                fee=fee,
                signature=signature,
                status=status,
                email=subscription["email"],
                sender=BUYER_WALLET_ADDRESS,
                additional_json=charge["additionalJSON"] if charge else None,
                created_at=None,
            )
            if charge:
                charge["paylinkTx"] = transaction
            subscription["transactions"].append(transaction["id"])
            if kind == "RENEWED":
                renewal = _parse_iso(subscription["renewalDate"]) or self.now()
                subscription["renewalDate"] = _iso(renewal + interval)
        elif kind == "ENDED":
            subscription["status"] = "EXPIRED"
        elif kind != "SUBSCRIPTION_PENDING_PAYMENT":
            raise ValueError(f"Unknown subscription event {event!r}")
        return self._subscription_payload(event, kind, subscription)

    def _subscription_start(
        self, *, paylink_id: str | None, charge_id: str | None, email: str
    ) -> dict[str, Any]:
        if charge_id:
            paylink_id = self.charges[charge_id]["paylinkId"]
        assert paylink_id is not None, "STARTED needs a paylink_id or a charge_id"
        paylink = self.paylinks[paylink_id]
        interval = INTERVALS[(paylink.get("subscriptionDetails") or {}).get("interval", "MONTH")]
        started = self.now()
        subscription: dict[str, Any] = {
            "id": _object_id(),
            "paylinkId": paylink_id,
            "status": "ACTIVE",
            "email": email,
            "renewalDate": _iso(started + interval),
            "createdAt": _iso(started),
            "transactions": [],
        }
        self.subscriptions[subscription["id"]] = subscription
        return subscription

    def _subscription_payload(self, event: str, kind: str, subscription: dict[str, Any]) -> dict[str, Any]:
        transaction = self.transactions[subscription["transactions"][-1]]
        payload: dict[str, Any] = {"event": event, "subscriptionId": subscription["id"]}
        if kind != "SUBSCRIPTION_PENDING_PAYMENT":
            payload["subscriptionState"] = {"STARTED": "NEW", "RENEWED": "RENEWED", "ENDED": "EXPIRED"}[kind]
            payload["email"] = subscription["email"]
        if kind != "ENDED":
            token = str(uuid.uuid4())
            payload["nextChargeUrl"] = f"{HELIO_TEST_APP_BASE}/charge/{token}"
            payload["chargeToken"] = token
        payload["transaction"] = json.dumps(transaction)
        payload["transactionObject"] = transaction
        return payload

    # --- Deliveries ---
    @staticmethod
    def sign(body: bytes, shared_token: str) -> dict[str, str]:
        """The headers Helio sends with a webhook delivery of `body`."""
        return {
            "Authorization": f"Bearer {shared_token}",
            "X-Signature": hmac.new(shared_token.encode(), body, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json",
        }

    def signed_delivery(self, payload: dict[str, Any], *, shared_token: str) -> tuple[bytes, dict[str, str]]:
        """The raw body and headers of delivering `payload` (as Helio serialises it: compact JSON)."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        return body, self.sign(body, shared_token)

"""The sandbox gateway: the whole payment flow offline, the default when no Helio keys are configured.

The checkout is a local page (`views/sandbox.py`) where the buyer clicks Pay or Decline. Either way it builds the
`CREATED` delivery Helio would send for a charge (shaped exactly as reference/helio.md's example), signs it with the
sandbox shared token the way Helio signs (`Authorization: Bearer <token>`, `X-Signature`: hex HMAC-SHA256 of the
raw body) and hands the raw bytes to `services/webhooks.py::webhook_receive` — the code behind the real webhook
endpoint — so a sandbox payment goes through the same verification, storage and processing as a Helio one."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from modelmarket.billing.gateways.base import Checkout
from modelmarket.billing.models import Order, PaymentGateway
from modelmarket.billing.money import currency_decimals, from_minor

if TYPE_CHECKING:
    from modelmarket.billing.models import WebhookEvent

SHARED_TOKEN_SALT = "modelmarket.billing.gateways.sandbox.shared_token"  # noqa: S105 - a salt, not a secret
SANDBOX_PAYLINK_ID = "sandbox"
SANDBOX_PAYER_WALLET = "SandboxBuyer1111111111111111111111111111111"
SANDBOX_MERCHANT_WALLET = "SandboxMerchant111111111111111111111111111"
BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def sandbox_enabled() -> bool:
    return bool(settings.PAYMENT_GATEWAY == PaymentGateway.SANDBOX)


def sandbox_shared_token() -> str:
    """The sandbox's webhook secret: derived from SECRET_KEY (stable across restarts and workers, different on
    every installation), so nothing has to be stored. The webhook endpoint accepts it only while the sandbox is
    the configured gateway."""
    return salted_hmac(SHARED_TOKEN_SALT, "webhook", algorithm="sha256").hexdigest()


def sandbox_page_path(order: Order) -> str:
    return reverse("billing_sandbox_pay", args=[order.public_id])


class SandboxGateway:
    name: str = PaymentGateway.SANDBOX

    def checkout_create(self, order: Order) -> Checkout:
        url = f"{settings.SITE_URL.rstrip('/')}{sandbox_page_path(order)}"
        return Checkout(reference=f"sandbox_{order.public_id}", url=url)

    def checkout_url_allowed(self, url: str) -> bool:
        """Only our own sandbox pages."""
        parts, site = urlsplit(url), urlsplit(settings.SITE_URL)
        return (
            parts.scheme == site.scheme
            and parts.netloc == site.netloc
            and parts.path.startswith(reverse("billing_sandbox_pay", args=["x"]).removesuffix("x"))
            and not parts.query
            and not parts.fragment
        )


def _base58(length: int) -> str:
    return "".join(secrets.choice(BASE58_ALPHABET) for _ in range(length))


def sandbox_transaction(*, order: Order, succeed: bool) -> dict[str, Any]:
    """The `transactionObject` Helio would report for paying `order` in full (no fee)."""
    now = timezone.now()
    amount = str(order.amount_minor)
    return {
        "id": secrets.token_hex(12),
        "paylinkId": SANDBOX_PAYLINK_ID,
        "fee": "0",
        "quantity": 1,
        "createdAt": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "paymentType": "PAYLINK",
        "meta": {
            "id": secrets.token_hex(12),
            "amount": amount,
            "totalAmount": amount,
            "senderPK": SANDBOX_PAYER_WALLET,
            "recipientPK": SANDBOX_MERCHANT_WALLET,
            "transactionSignature": _base58(88),
            "transactionStatus": "SUCCESS" if succeed else "FAILED",
            "transactionType": "PAYLINK",
            "currency": order.currency_id,
            "customerDetails": {
                "email": order.buyer.email,
                "fullName": order.buyer.public_name,
                "additionalJSON": json.dumps({"order": order.public_id}),
            },
            "tokenQuote": {
                "from": order.currency_id,
                "fromAmountDecimal": format(
                    from_minor(order.amount_minor, currency_decimals(order.currency_id)).normalize(), "f"
                ),
                "to": order.currency_id,
                "toAmountMinimal": amount,
            },
        },
    }


def sandbox_delivery(*, order: Order, succeed: bool) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers of the `CREATED` delivery for paying (or failing to pay) `order`."""
    transaction_object = sandbox_transaction(order=order, succeed=succeed)
    payload = {
        "event": "CREATED",
        "chargeToken": str(uuid.uuid4()),
        "transaction": json.dumps(transaction_object),
        "transactionObject": transaction_object,
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    token = sandbox_shared_token()
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Signature": hmac.new(token.encode(), body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }
    return body, headers


def sandbox_payment_complete(*, order: Order, succeed: bool) -> WebhookEvent | None:
    """Deliver the sandbox payment of `order` to the webhook code, as Helio would deliver it. Returns what
    `webhook_receive` returns (the stored event, or None for a duplicate). The caller checks that `order` is a
    pending sandbox order of the person paying."""
    from modelmarket.billing.services.webhooks import webhook_receive

    body, headers = sandbox_delivery(order=order, succeed=succeed)
    return webhook_receive(body=body, headers=headers)

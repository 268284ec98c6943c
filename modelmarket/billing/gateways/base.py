"""The payment gateway protocol: what the checkout needs from a payment provider, and nothing more.

A backend turns a pending order into a checkout page the buyer is sent to. How the money then arrives is the same
for every backend: a Helio-shaped webhook through `services/webhooks.py::webhook_receive` (the sandbox builds and
signs one itself). `payment_gateway()` in this package picks the backend named by settings.PAYMENT_GATEWAY."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from modelmarket.billing.gateways import payment_gateway

if TYPE_CHECKING:
    from modelmarket.billing.models import Order

__all__ = ["Checkout", "PaymentGatewayBackend", "payment_gateway"]


@dataclass(frozen=True)
class Checkout:
    """Where the buyer pays: `reference` is the provider's id for this checkout (Helio's charge id), `url` the page
    (absolute). Stored on the order as `gateway_reference` and `checkout_url`."""

    reference: str
    url: str


class PaymentGatewayBackend(Protocol):
    """A payment provider. `checkout_create` may call the provider over HTTP: the caller must not hold a database
    transaction open around it. It raises an `UpstreamError` (or a subclass) when the provider fails or refuses;
    the caller then marks the order failed."""

    name: str

    def checkout_create(self, order: Order) -> Checkout: ...

    def checkout_url_allowed(self, url: str) -> bool:
        """Whether `url` is a page of this provider that we may redirect a buyer to (no open redirects)."""
        ...

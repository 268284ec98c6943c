"""Payment gateways: the protocol (`base.py`), the offline sandbox (`sandbox.py`) and Helio (`helio/`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from modelmarket.billing.gateways.base import PaymentGatewayBackend


def payment_gateway(name: str | None = None) -> PaymentGatewayBackend:
    """The backend called `name`, settings.PAYMENT_GATEWAY by default ("sandbox" or "helio")."""
    name = name or settings.PAYMENT_GATEWAY
    # Imported here: the Helio client and the sandbox pull in models and services, this package must stay light.
    if name == "sandbox":
        from modelmarket.billing.gateways.sandbox import SandboxGateway

        return SandboxGateway()
    if name == "helio":
        from modelmarket.billing.gateways.helio.gateway import HelioGateway

        return HelioGateway()
    raise ValueError(f"Unknown payment gateway {name!r}: PAYMENT_GATEWAY must be 'sandbox' or 'helio'.")

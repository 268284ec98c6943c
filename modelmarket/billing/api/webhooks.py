"""Billing API: the payment webhook Helio (and the sandbox, in-process) delivers to."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from modelmarket.billing.services.webhooks import MAX_BODY_BYTES, webhook_receive
from modelmarket.core.api.schemas import ErrorOut
from modelmarket.core.exceptions import PayloadTooLarge

router = Router(tags=["billing"])


class WebhookReceivedOut(Schema):
    received: bool
    duplicate: bool


# The body is read raw (the signature covers its exact bytes), so it is documented here rather than parsed.
WEBHOOK_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "description": (
            "A Helio webhook delivery as sent (`CREATED`, `STARTED`, `RENEWED`, `ENDED`, "
            "`SUBSCRIPTION_PENDING_PAYMENT`, or their `SUBSCRIPTION_`-prefixed spellings)."
        ),
        "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
    },
    "parameters": [
        {
            "name": "Authorization",
            "in": "header",
            "required": True,
            "description": "`Bearer <sharedToken>` of the registered webhook.",
            "schema": {"type": "string"},
        },
        {
            "name": "X-Signature",
            "in": "header",
            "required": True,
            "description": "Hex HMAC-SHA256 of the raw request body, keyed with the sharedToken.",
            "schema": {"type": "string"},
        },
    ],
}


@router.post(
    "/payments/helio/webhook",
    auth=None,
    response={200: WebhookReceivedOut, 401: ErrorOut, 413: ErrorOut},
    summary="Receive a Helio webhook delivery",
    openapi_extra=WEBHOOK_REQUEST_BODY,
)
def helio_webhook(request: HttpRequest) -> dict[str, bool]:
    """Verifies `Authorization: Bearer <sharedToken>` and `X-Signature` on the raw body, stores the delivery and
    answers at once; processing happens in a background job. A redelivery answers 200 with `duplicate: true`.
    Forged or unsigned deliveries get 401 (`invalid_webhook_signature`) and change nothing."""
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"A webhook body is at most {MAX_BODY_BYTES} bytes.")
    event = webhook_receive(body=body, headers=request.headers)
    return {"received": True, "duplicate": event is None}

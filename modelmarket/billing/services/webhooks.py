"""Payment webhooks: verify a delivery, store it raw, process it in a job.

Receiving (`webhook_receive`: the HTTP endpoint and the sandbox's pay page both call it). The `Authorization:
Bearer` token must be the shared token of a registered Helio webhook — or the sandbox's own token while the sandbox
is the payment gateway — and `X-Signature` the hex HMAC-SHA256 of the raw body keyed with that token; both are
compared in constant time before a byte of the body is parsed. A forged or unsigned delivery raises
`InvalidWebhookSignature` (401) and stores nothing. A verified one is stored raw under a unique dedupe key (Helio
sends no delivery id): a redelivery hits the constraint and is acknowledged without being stored again. A signed
body we cannot read (not JSON, not an object, no event name) is stored too, parked for staff: signed deliveries
are never dropped. Processing is scheduled when the storing transaction commits.

Processing (`webhook_event_process`, in the job): the event row is locked, its payload dispatched inside a
savepoint — `CREATED` (or any payload carrying a pay-link transaction) to `payments.payment_record`, subscription
events to `subscriptions.subscription_event_apply` — and the outcome saved on the event: processed, parked (a
payment that fits no order, or a payload missing what we need), ignored (an event we have no use for) or failed.
A failure rolls back everything the dispatch did, keeps its traceback on the event and schedules a retry with
exponential backoff; `webhook_events_process_due` (a job every minute) runs the retries and picks up deliveries
whose job was lost. Processing an event again is a no-op: payments are unique per provider id and everything
they trigger is idempotent."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from modelmarket.billing.gateways.helio.errors import HelioResponseError
from modelmarket.billing.gateways.helio.payloads import transaction_from_payload
from modelmarket.billing.models import (
    HelioWebhook,
    Payment,
    PaymentGateway,
    PaymentMatch,
    WebhookEvent,
    WebhookStatus,
)
from modelmarket.core.crypto import decrypt_bytes
from modelmarket.core.exceptions import NotAuthenticated, PayloadTooLarge

logger = logging.getLogger(__name__)

# Helio's deliveries are a few kilobytes; anything near this is not a payment notification.
MAX_BODY_BYTES = 1024 * 1024
# Decrypted shared tokens are kept this long per process (and dropped at once when the set of webhooks changes).
TOKEN_CACHE_SECONDS = 60
# Retries: 30 s after the first failure, doubling, at most an hour apart; after this many attempts the event stays
# failed (visible to staff, who can replay it) and the sweep leaves it alone.
RETRY_BASE_SECONDS = 30
RETRY_MAX_DELAY_SECONDS = 3600
MAX_ATTEMPTS = 10
# A delivery still `received` this long after it was stored lost its job (the queue was down at commit).
LOST_JOB_AFTER = timedelta(minutes=1)
DUE_BATCH_SIZE = 200
DEDUPE_KEY_MAX_LENGTH = 200
EVENT_NAME_MAX_LENGTH = 60
LAST_ERROR_MAX_CHARS = 20_000

# Event names as Helio delivers them, and the spellings its docs also use, mapped to one canonical name each.
CREATED = "CREATED"
STARTED = "STARTED"
RENEWED = "RENEWED"
ENDED = "ENDED"
PENDING_PAYMENT = "SUBSCRIPTION_PENDING_PAYMENT"
EVENT_NAMES: dict[str, str] = {
    "CREATED": CREATED,
    "STARTED": STARTED,
    "SUBSCRIPTION_STARTED": STARTED,
    "RENEWED": RENEWED,
    "SUBSCRIPTION_RENEWED": RENEWED,
    "ENDED": ENDED,
    "SUBSCRIPTION_ENDED": ENDED,
    "PENDING_PAYMENT": PENDING_PAYMENT,
    "SUBSCRIPTION_PENDING_PAYMENT": PENDING_PAYMENT,
}
SUBSCRIPTION_EVENTS: frozenset[str] = frozenset({STARTED, RENEWED, ENDED, PENDING_PAYMENT})
PAYLINK_PAYMENT_TYPE = "PAYLINK"


class InvalidWebhookSignature(NotAuthenticated):
    default_code = "invalid_webhook_signature"
    default_message = "The delivery is not signed with the shared token of a registered webhook."


def event_name_normalize(name: object) -> str | None:
    """The canonical name of a Helio event (`SUBSCRIPTION_RENEWED` and `RENEWED` are both `RENEWED`); None for a
    name we do not know."""
    if not isinstance(name, str):
        return None
    return EVENT_NAMES.get(name.strip().upper())


# --- Verification -------------------------------------------------------------------------------------------------
@dataclass
class _TokenCache:
    key: frozenset[tuple[int, datetime]] | None = None
    tokens: tuple[bytes, ...] = ()
    loaded_at: float = 0.0


_token_cache = _TokenCache()
_token_cache_lock = threading.Lock()


def webhook_tokens_cache_clear() -> None:
    """Forget the decrypted shared tokens (they are reloaded on the next delivery)."""
    with _token_cache_lock:
        _token_cache.key, _token_cache.tokens, _token_cache.loaded_at = None, (), 0.0


def _helio_shared_tokens() -> tuple[bytes, ...]:
    """The shared tokens of every registered Helio webhook, decrypted. Cached per process, keyed by the webhooks'
    ids and creation times, so a deleted or added webhook changes the key and the tokens are read again."""
    key = frozenset(HelioWebhook.objects.values_list("id", "created_at"))
    with _token_cache_lock:
        if _token_cache.key == key and time.monotonic() - _token_cache.loaded_at < TOKEN_CACHE_SECONDS:
            return _token_cache.tokens
    rows = list(HelioWebhook.objects.values_list("id", "created_at", "shared_token_encrypted"))
    tokens = []
    for webhook_id, _, ciphertext in rows:
        try:
            tokens.append(decrypt_bytes(bytes(ciphertext)))
        except ValueError:
            # SECRET_KEY changed without the old one in SECRET_KEY_FALLBACKS: this webhook's deliveries fail
            # verification until it is registered again. The token itself is never logged.
            logger.error("helio webhook shared token cannot be decrypted", extra={"webhook_id": webhook_id})
    with _token_cache_lock:
        _token_cache.key = frozenset((webhook_id, created_at) for webhook_id, created_at, _ in rows)
        _token_cache.tokens = tuple(tokens)
        _token_cache.loaded_at = time.monotonic()
    return tuple(tokens)


def _sandbox_shared_token() -> bytes | None:
    """The sandbox's token, accepted only while the sandbox is the payment gateway."""
    if settings.PAYMENT_GATEWAY != PaymentGateway.SANDBOX:
        return None
    from modelmarket.billing.gateways.sandbox import sandbox_shared_token

    return sandbox_shared_token().encode()


def _candidate_tokens() -> list[tuple[str, bytes]]:
    candidates = [(PaymentGateway.HELIO.value, token) for token in _helio_shared_tokens()]
    sandbox_token = _sandbox_shared_token()
    if sandbox_token:
        candidates.append((PaymentGateway.SANDBOX.value, sandbox_token))
    return candidates


def webhook_authenticate(*, body: bytes, headers: Mapping[str, str]) -> str:
    """The gateway whose shared token signed this delivery ("helio" or "sandbox"). Raises InvalidWebhookSignature
    unless `Authorization: Bearer <token>` names a known token and `X-Signature` is the hex HMAC-SHA256 of `body`
    keyed with it (either case of hex). Every comparison is constant-time; the body is not looked at otherwise."""
    lowered = {name.lower(): value for name, value in headers.items()}
    scheme, _, presented = str(lowered.get("authorization", "")).strip().partition(" ")
    signature = str(lowered.get("x-signature", "")).strip().lower()
    if scheme.lower() != "bearer" or not presented.strip() or not signature:
        raise InvalidWebhookSignature()
    presented_token = presented.strip().encode("utf-8", "replace")
    matched: tuple[str, bytes] | None = None
    for gateway, token in _candidate_tokens():
        # No early exit: every token is compared, so the timing does not tell how many tokens exist or which.
        if hmac.compare_digest(presented_token, token) and matched is None:
            matched = (gateway, token)
    if matched is None:
        raise InvalidWebhookSignature()
    gateway, token = matched
    expected = hmac.new(token, body, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        raise InvalidWebhookSignature()
    return gateway


# --- Receiving ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Delivery:
    payload: dict[str, Any] | None
    event: str
    dedupe_key: str
    problem: str  # why the delivery cannot be processed at all ("" when it can)


def _bounded(key: str) -> str:
    if len(key) <= DEDUPE_KEY_MAX_LENGTH:
        return key
    return f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def _text(value: Any) -> str | None:
    """A string or integer field as text (whole: `_bounded` hashes keys that grow too long); None otherwise."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    return str(value) if isinstance(value, str | int) else None


def payload_transaction_object(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The transaction a payload carries: `transactionObject`, or else its `transaction` JSON string decoded."""
    transaction_object = payload.get("transactionObject")
    if isinstance(transaction_object, dict):
        return transaction_object
    raw = payload.get("transaction")
    if isinstance(raw, str):
        try:
            decoded = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        return decoded if isinstance(decoded, dict) else None
    return raw if isinstance(raw, dict) else None


def webhook_dedupe_key(*, payload: Mapping[str, Any], event: str, body: bytes = b"") -> str:
    """The unique key of a delivery (anything stored as a WebhookEvent, reconciliation's synthetic ones too):
    - with a transaction: `<transaction id>:<event>`, plus `:<status>` when its status is not SUCCESS, so a
      transaction reported PENDING and then SUCCESS is two events (the second completes the order) while a
      redelivery of either is one;
    - a subscription event without one: `<subscriptionId>:<event>:<chargeToken, else sha256 of the body>`;
    - anything else: `raw:<sha256 of the body>`.
    `event` is the canonical name (see `event_name_normalize`)."""
    digest = hashlib.sha256(body).hexdigest()
    transaction_object = payload_transaction_object(payload)
    transaction_id = _text(transaction_object.get("id")) if transaction_object else None
    if transaction_object is not None and transaction_id:
        meta = transaction_object.get("meta")
        status = _text(meta.get("transactionStatus")) if isinstance(meta, dict) else None
        suffix = f":{status.upper()}" if status and status.upper() != "SUCCESS" else ""
        return _bounded(f"{transaction_id}:{event}{suffix}")
    subscription_id = _text(payload.get("subscriptionId"))
    if subscription_id:
        return _bounded(f"{subscription_id}:{event}:{_text(payload.get('chargeToken')) or digest}")
    return f"raw:{digest}"


def _delivery_read(body: bytes) -> _Delivery:
    raw_key = f"raw:{hashlib.sha256(body).hexdigest()}"
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _Delivery(None, "", raw_key, "The body is not valid JSON.")
    if not isinstance(payload, dict):
        return _Delivery(None, "", raw_key, "The body is not a JSON object.")
    name = payload.get("event")
    if not isinstance(name, str) or not name.strip():
        return _Delivery(payload, "", raw_key, "The payload has no event name.")
    event = event_name_normalize(name) or name.strip().upper()[:EVENT_NAME_MAX_LENGTH]
    return _Delivery(payload, event, webhook_dedupe_key(payload=payload, event=event, body=body), "")


def webhook_receive(*, body: bytes, headers: Mapping[str, str]) -> WebhookEvent | None:
    """Verify and store one delivery; None when it is a duplicate of one already stored (answer 200 either way).
    Raises InvalidWebhookSignature (401) for a forged or unsigned delivery and PayloadTooLarge (413) for a body over
    MAX_BODY_BYTES — in both cases nothing is stored. Processing is scheduled when the caller's transaction
    commits."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"A webhook body is at most {MAX_BODY_BYTES} bytes.")
    gateway = webhook_authenticate(body=body, headers=headers)
    delivery = _delivery_read(body)
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                gateway=gateway,
                dedupe_key=delivery.dedupe_key,
                event=delivery.event,
                body=body,
                status=WebhookStatus.PARKED if delivery.problem else WebhookStatus.RECEIVED,
                last_error=delivery.problem,
            )
            if not delivery.problem:
                transaction.on_commit(lambda: _schedule(event.pk))
    except IntegrityError:
        logger.info(
            "webhook duplicate acknowledged",
            extra={"gateway": gateway, "event": delivery.event, "dedupe_key": delivery.dedupe_key},
        )
        return None
    logger.info(
        "webhook stored",
        extra={
            "gateway": gateway,
            "event": delivery.event,
            "webhook_event_id": event.pk,
            "status": event.status,
        },
    )
    return event


def _schedule(event_id: int) -> None:
    from modelmarket.billing.tasks.webhooks import webhook_event_process_task

    webhook_event_process_task(event_id)


# --- Processing ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Outcome:
    status: str
    reason: str = ""
    payment: Payment | None = None


def retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th failed attempt an event is tried again: 30 s, 60 s, 120 s ... at most 1 h."""
    exponent = max(0, attempts - 1)
    seconds = RETRY_MAX_DELAY_SECONDS if exponent >= 12 else RETRY_BASE_SECONDS * 2**exponent
    return timedelta(seconds=min(seconds, RETRY_MAX_DELAY_SECONDS))


def webhook_event_process(*, event_id: int) -> WebhookEvent | None:
    """Process one stored delivery (the job's body; staff replays call it too). Locks the event, skips it when it
    is already processed or ignored, dispatches it in a savepoint and saves the outcome on the event. Never raises
    for a failure of the dispatch: that is saved (status failed, traceback, next attempt) and the dispatch's writes
    are rolled back. None when there is no such event."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None or event.status in (WebhookStatus.PROCESSED, WebhookStatus.IGNORED):
            return event
        try:
            with transaction.atomic():
                outcome = _dispatch(event)
        except Exception:
            _failure_save(event, traceback.format_exc())
        else:
            _outcome_save(event, outcome)
        return event


def _outcome_save(event: WebhookEvent, outcome: _Outcome) -> None:
    event.status = outcome.status
    event.attempts += 1
    event.last_error = outcome.reason
    event.next_attempt_at = None
    event.processed_at = timezone.now()
    fields = ["status", "attempts", "last_error", "next_attempt_at", "processed_at"]
    if outcome.payment is not None:
        event.payment = outcome.payment
        fields.append("payment")
    event.save(update_fields=fields)
    logger.info(
        "webhook processed",
        extra={"webhook_event_id": event.pk, "event": event.event, "status": event.status},
    )


def _failure_save(event: WebhookEvent, error: str) -> None:
    event.status = WebhookStatus.FAILED
    event.attempts += 1
    event.last_error = error[-LAST_ERROR_MAX_CHARS:]
    event.next_attempt_at = (
        timezone.now() + retry_delay(event.attempts) if event.attempts < MAX_ATTEMPTS else None
    )
    event.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
    log = logger.error if event.next_attempt_at is None else logger.warning
    log(
        "webhook processing failed",
        extra={
            "webhook_event_id": event.pk,
            "event": event.event,
            "attempts": event.attempts,
            "gives_up": event.next_attempt_at is None,
        },
    )


def _dispatch(event: WebhookEvent) -> _Outcome:
    problem = ""
    try:
        payload = json.loads(bytes(event.body))
    except (ValueError, UnicodeDecodeError, RecursionError):
        payload, problem = None, "The body is not valid JSON."
    if payload is not None and not isinstance(payload, dict):
        payload, problem = None, "The body is not a JSON object."
    if payload is None:
        return _Outcome(WebhookStatus.PARKED, problem)
    raw_name = payload.get("event")
    name = event_name_normalize(raw_name)
    if name in SUBSCRIPTION_EVENTS:
        return _subscription_dispatch(event, payload)
    transaction_object = payload_transaction_object(payload)
    is_paylink_payment = (
        transaction_object is not None and transaction_object.get("paymentType") == PAYLINK_PAYMENT_TYPE
    )
    if name == CREATED or is_paylink_payment:
        return _payment_dispatch(event, transaction_object)
    if not isinstance(raw_name, str) or not raw_name.strip():
        return _Outcome(WebhookStatus.PARKED, "The payload has no event name.")
    return _Outcome(WebhookStatus.IGNORED, f"Event {raw_name.strip()[:60]!r} is not one we act on.")


def _payment_dispatch(event: WebhookEvent, transaction_object: dict[str, Any] | None) -> _Outcome:
    from modelmarket.billing.services.payments import payment_record

    if transaction_object is None:
        return _Outcome(
            WebhookStatus.PARKED, "The payload has no transactionObject (nor a transaction string)."
        )
    try:
        helio_transaction = transaction_from_payload(transaction_object)
    except HelioResponseError as error:
        return _Outcome(WebhookStatus.PARKED, f"The transaction cannot be read: {error.message}")
    payment = payment_record(gateway=event.gateway, transaction=helio_transaction, event=event)
    if payment.match in (PaymentMatch.UNMATCHED, PaymentMatch.MISMATCH):
        return _Outcome(WebhookStatus.PARKED, payment.review_reason, payment)
    return _Outcome(WebhookStatus.PROCESSED, "", payment)


def _subscription_dispatch(event: WebhookEvent, payload: dict[str, Any]) -> _Outcome:
    """Subscription events are applied by `services/subscriptions/events.py`. `SubscriptionEventInvalid` (a payload that
    will never do) parks the event; any other exception (`SubscriptionNotReady`: RENEWED before STARTED) fails it
    and it is retried with backoff. The service may also mark the event parked or ignored (setting `event.status`
    and `event.last_error` in memory); otherwise the event is processed."""
    try:
        from modelmarket.billing.services.subscriptions import (
            SubscriptionEventInvalid,
            subscription_event_apply,
        )
    except ImportError as error:
        raise RuntimeError(
            "Subscription events cannot be processed: "
            "modelmarket.billing.services.subscriptions.subscription_event_apply is not available."
        ) from error
    event.status = WebhookStatus.RECEIVED  # in memory only: what it was before says nothing about this run
    try:
        result = subscription_event_apply(event=event, payload=payload)
    except SubscriptionEventInvalid as error:  # a payload that will never do: parked, not retried
        return _Outcome(WebhookStatus.PARKED, error.message)
    payment = result if isinstance(result, Payment) else None
    if event.status in (WebhookStatus.PARKED, WebhookStatus.IGNORED):
        return _Outcome(event.status, event.last_error, payment)
    if payment is not None and payment.match in (PaymentMatch.UNMATCHED, PaymentMatch.MISMATCH):
        return _Outcome(WebhookStatus.PARKED, payment.review_reason, payment)
    return _Outcome(WebhookStatus.PROCESSED, "", payment)


def webhook_events_due(*, now: datetime | None = None, limit: int = DUE_BATCH_SIZE) -> list[int]:
    """Ids of events to run again: failed ones whose next attempt is due (fewer than MAX_ATTEMPTS made), and
    received ones older than LOST_JOB_AFTER (their job was lost). Oldest first."""
    now = now or timezone.now()
    due = WebhookEvent.objects.filter(
        Q(status=WebhookStatus.FAILED, attempts__lt=MAX_ATTEMPTS, next_attempt_at__lte=now)
        | Q(status=WebhookStatus.RECEIVED, received_at__lte=now - LOST_JOB_AFTER)
    )
    return list(due.order_by("received_at", "pk").values_list("pk", flat=True)[:limit])


def webhook_events_process_due(*, now: datetime | None = None, limit: int = DUE_BATCH_SIZE) -> int:
    """Run every due event once (see `webhook_events_due`); returns how many were run."""
    event_ids = webhook_events_due(now=now, limit=limit)
    for event_id in event_ids:
        webhook_event_process(event_id=event_id)
    return len(event_ids)

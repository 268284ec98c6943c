"""`Idempotency-Key` for writes that create or charge: the same key with the same body replays the first response;
the same key with a different body is a 409. The record and the write commit in one transaction, so a failed write
leaves no record and may be retried with the same key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from modelmarket.core.crypto import decrypt_bytes, encrypt_bytes
from modelmarket.core.exceptions import BadRequest, Conflict
from modelmarket.core.models import IdempotencyRecord

MAX_KEY_LENGTH = 255


def _replay(record: IdempotencyRecord) -> JsonResponse:
    body = json.loads(decrypt_bytes(bytes(record.response_body_encrypted or b"")))
    response = JsonResponse(body, status=record.response_status or 200)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(
    request: HttpRequest, *, key: str | None, owner: str, run: Callable[[], tuple[int, dict[str, Any]]]
) -> JsonResponse:
    """Run `run()` (which returns a status and a JSON-ready body) at most once per (owner, route, key)."""
    if key is None:
        status, body = run()
        return JsonResponse(body, status=status)
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
            code="invalid_idempotency_key",
        )
    scope = f"{request.method} {request.path}"
    request_sha256 = hashlib.sha256(request.body).hexdigest()
    horizon = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    with transaction.atomic():
        IdempotencyRecord.objects.filter(owner=owner, scope=scope, key=key, created_at__lt=horizon).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    owner=owner, scope=scope, key=key, request_sha256=request_sha256
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.get(owner=owner, scope=scope, key=key)
            if existing.request_sha256 != request_sha256:
                raise Conflict(
                    "This Idempotency-Key was already used with a different request body.",
                    code="idempotency_key_reused",
                ) from None
            if existing.response_status is None:
                raise Conflict(
                    "A request with this Idempotency-Key is still in progress.",
                    code="idempotency_in_progress",
                ) from None
            return _replay(existing)
        status, body = run()
        record.response_status = status
        record.response_body_encrypted = encrypt_bytes(json.dumps(body, default=str).encode())
        record.save(update_fields=["response_status", "response_body_encrypted"])
    return JsonResponse(body, status=status)

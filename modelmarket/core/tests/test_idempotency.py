from __future__ import annotations

import pytest

from modelmarket.accounts.models import ApiKey
from modelmarket.core.models import IdempotencyRecord

pytestmark = pytest.mark.django_db

BODY = {"name": "deploy", "scopes": ["inference"]}


def test_same_key_same_body_replays_the_first_response(buyer, api_client_for):
    client = api_client_for(buyer)
    first = client.post("/api/v1/keys", BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post("/api/v1/keys", BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert ApiKey.objects.filter(name="deploy").count() == 1


def test_replayed_secret_is_stored_encrypted(buyer, api_client_for):
    client = api_client_for(buyer)
    raw = client.post(
        "/api/v1/keys", BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-2"
    ).json()["key"]
    stored = bytes(IdempotencyRecord.objects.get(key="k-2").response_body_encrypted)
    assert raw.encode() not in stored


def test_same_key_different_body_is_409_and_writes_nothing(buyer, api_client_for):
    client = api_client_for(buyer)
    client.post("/api/v1/keys", BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-3")
    response = client.post(
        "/api/v1/keys", {**BODY, "name": "other"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-3"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert not ApiKey.objects.filter(name="other").exists()


def test_keys_are_per_caller(buyer, creator, api_client_for):
    first = api_client_for(buyer).post(
        "/api/v1/keys", BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY="same"
    )
    second = api_client_for(creator).post(
        "/api/v1/keys", BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY="same"
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


def test_a_failed_request_leaves_no_record_so_the_key_can_be_retried(buyer, api_client_for):
    client = api_client_for(buyer)
    bad = {"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"}
    assert (
        client.post(
            "/api/v1/keys", bad, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-4"
        ).status_code
        == 400
    )
    assert not IdempotencyRecord.objects.filter(key="k-4").exists()
    good = client.post("/api/v1/keys", BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-4")
    assert good.status_code == 201


def test_overlong_idempotency_key_is_400(buyer, api_client_for):
    response = api_client_for(buyer).post(
        "/api/v1/keys", BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k" * 300
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert not ApiKey.objects.filter(name="deploy").exists()

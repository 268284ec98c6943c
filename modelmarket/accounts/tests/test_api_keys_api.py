from __future__ import annotations

import json

import pytest

from modelmarket.accounts.models import ApiKey
from modelmarket.accounts.selectors import api_key_sha256
from modelmarket.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_created_key_is_shown_once_and_only_its_hash_is_stored(buyer, api_client_for):
    client = api_client_for(buyer)
    response = client.post(
        "/api/v1/keys", {"name": "ci", "scopes": ["inference"]}, content_type="application/json"
    )
    assert response.status_code == 201
    body = response.json()
    raw = body["key"]
    assert raw.startswith("mm_")
    assert len(raw) >= 3 + 43  # 32 random bytes, base64url
    stored = ApiKey.objects.get(pk=body["id"])
    assert stored.key_sha256 == api_key_sha256(raw)
    assert raw not in json.dumps(list(ApiKey.objects.values()), default=str)
    listed = client.get("/api/v1/keys").json()["items"]
    assert all("key" not in item for item in listed)
    assert {item["prefix"] for item in listed} >= {raw[:11]}


def test_unverified_user_cannot_create_a_key_and_nothing_is_written(client):
    user = UserFactory(verified=False)
    client.force_login(user)
    response = client.post("/api/v1/keys", {"name": "x", "scopes": ["read"]}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "email_not_verified"
    assert ApiKey.objects.count() == 0


def test_revoked_key_stops_working_at_once(buyer, api_key_for):
    from conftest import ApiClient

    raw = api_key_for(buyer)
    client = ApiClient(raw)
    key_id = ApiKey.objects.get(key_sha256=api_key_sha256(raw)).pk
    assert client.get("/api/v1/me").status_code == 200
    assert client.delete(f"/api/v1/keys/{key_id}").status_code == 200
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"

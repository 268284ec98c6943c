from __future__ import annotations

import pytest
from django.test import Client

from modelmarket.accounts.models import ApiKey

pytestmark = pytest.mark.django_db

ENVELOPE_KEYS = {"code", "message", "details"}


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == ENVELOPE_KEYS
    return body["error"]


def test_unknown_api_path_is_a_404_envelope():
    response = Client().get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_wrong_method_is_a_405_envelope_with_allow():
    response = Client().put("/api/v1/me")
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


def test_missing_credentials_is_a_401_envelope():
    response = Client().get("/api/v1/me")
    assert response.status_code == 401
    assert _error(response)["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ({"HTTP_AUTHORIZATION": "Bearer mm_not-a-real-key"}, "invalid_api_key"),
        ({"HTTP_X_API_KEY": "mm_not-a-real-key"}, "invalid_api_key"),
        ({"HTTP_AUTHORIZATION": "Bearer sk-someone-elses-format"}, "invalid_api_key"),
    ],
)
def test_bad_keys_are_401_with_a_precise_code(header, code):
    response = Client(**header).get("/api/v1/me")
    assert response.status_code == 401
    assert _error(response)["code"] == code


def test_expired_key_is_401_api_key_expired(buyer, api_key_for):
    raw = api_key_for(buyer)
    ApiKey.objects.update(expires_at="2020-01-01T00:00:00Z")
    response = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/me")
    assert response.status_code == 401
    assert _error(response)["code"] == "api_key_expired"


def test_key_without_the_scope_is_403_insufficient_scope(buyer, api_key_for):
    client = Client(HTTP_X_API_KEY=api_key_for(buyer, scopes=("inference",)))
    response = client.get("/api/v1/me")
    assert response.status_code == 403
    assert _error(response)["code"] == "insufficient_scope"


def test_both_key_headers_authenticate(buyer, api_key_for):
    raw = api_key_for(buyer, scopes=("read",))
    for client in (Client(HTTP_AUTHORIZATION=f"Bearer {raw}"), Client(HTTP_X_API_KEY=raw)):
        response = client.get("/api/v1/me")
        assert response.status_code == 200
        assert response.json()["email"] == buyer.email


def test_key_use_is_recorded(buyer, api_key_for):
    raw = api_key_for(buyer)
    Client(HTTP_X_API_KEY=raw).get("/api/v1/me")
    assert ApiKey.objects.get().last_used_at is not None


def test_me_reports_roles_and_verification(creator, api_client_for):
    body = api_client_for(creator).get("/api/v1/me").json()
    assert body["roles"] == ["buyer", "creator"]
    assert body["email_verified"] is True


def test_request_id_is_echoed_when_valid_and_generated_otherwise():
    client = Client()
    echoed = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert echoed["X-Request-ID"] == "abc-123"
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert replaced["X-Request-ID"] != "bad id\nwith newline"
    assert len(replaced["X-Request-ID"]) == 32
    assert client.get("/api/v1/me")["X-Request-ID"]


def test_malformed_json_is_400_malformed_json_and_writes_nothing(buyer, api_client_for):
    response = api_client_for(buyer).post("/api/v1/keys", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert _error(response)["code"] == "malformed_json"
    assert ApiKey.objects.count() == 1  # only the key the client itself uses


def test_json_that_is_not_an_object_is_400(buyer, api_client_for):
    response = api_client_for(buyer).post("/api/v1/keys", "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert _error(response)["code"] == "malformed_json"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["read"], "surprise": True},  # unknown field
        {"name": "x", "scopes": "read"},  # wrong type
        {"name": "x", "scopes": ["admin"]},  # unknown scope
        {"name": "", "scopes": ["read"]},  # empty name
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["read"], "requests_per_minute": 0},
        {"name": "x", "scopes": ["read"], "requests_per_minute": "fast"},
        {"scopes": ["read"]},
    ],
)
def test_invalid_key_requests_are_422_and_write_nothing(buyer, api_client_for, body):
    response = api_client_for(buyer).post("/api/v1/keys", body, content_type="application/json")
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "validation_error"
    assert error["details"]["errors"]
    assert ApiKey.objects.count() == 1


def test_expiry_in_the_past_is_400_and_writes_nothing(buyer, api_client_for):
    response = api_client_for(buyer).post(
        "/api/v1/keys",
        {"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_expiry"
    assert ApiKey.objects.count() == 1


def test_expiry_without_an_offset_is_read_as_utc(buyer, api_client_for):
    response = api_client_for(buyer).post(
        "/api/v1/keys",
        {"name": "x", "scopes": ["read"], "expires_at": "2099-06-01T12:00:00"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["expires_at"] == "2099-06-01T12:00:00Z"


def test_spend_cap_beyond_a_64_bit_integer_is_422(buyer, api_client_for):
    response = api_client_for(buyer).post(
        "/api/v1/keys",
        {"name": "x", "scopes": ["read"], "spend_cap_minor": 2**63, "spend_cap_currency": "USD"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert ApiKey.objects.count() == 1


def test_oversized_body_is_413(buyer, api_client_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = '{"name": "' + "x" * 5000 + '", "scopes": ["read"]}'
    response = api_client_for(buyer).post("/api/v1/keys", body, content_type="application/json")
    assert response.status_code == 413
    assert _error(response)["code"] == "payload_too_large"
    assert ApiKey.objects.count() == 1


def test_session_writes_need_csrf(buyer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(buyer)
    response = client.post("/api/v1/keys", {"name": "x", "scopes": ["read"]}, content_type="application/json")
    assert response.status_code == 403
    assert _error(response)["code"] == "csrf_failed"
    assert ApiKey.objects.count() == 0


def test_session_writes_with_csrf_token_succeed(buyer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(buyer)
    client.get("/account/keys/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/api/v1/keys",
        {"name": "x", "scopes": ["read"]},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 201


def test_api_key_callers_need_no_csrf(buyer, api_key_for):
    client = Client(enforce_csrf_checks=True, HTTP_X_API_KEY=api_key_for(buyer))
    response = client.post("/api/v1/keys", {"name": "x", "scopes": ["read"]}, content_type="application/json")
    assert response.status_code == 201


def test_openapi_document_lists_the_endpoints_and_error_shape():
    document = Client().get("/api/v1/openapi.json").json()
    assert {"/api/v1/me", "/api/v1/keys", "/api/v1/keys/{key_id}"} <= set(document["paths"])
    create = document["paths"]["/api/v1/keys"]["post"]
    assert {"201", "401", "409", "422", "429"} <= set(create["responses"])
    assert "ErrorOut" in document["components"]["schemas"]


def test_api_docs_page_is_served_from_our_own_static_files():
    response = Client().get("/api/docs")
    assert response.status_code == 200
    assert b"swagger-ui-bundle.js" in response.content
    assert b"cdn" not in response.content.lower()

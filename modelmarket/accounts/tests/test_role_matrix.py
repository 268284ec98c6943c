"""Who may do what: anonymous, buyer, creator, moderator and admin on every page and endpoint that exists."""

from __future__ import annotations

import pytest
from django.test import Client

from modelmarket.accounts.models import CreatorProfile
from modelmarket.accounts.tests.factories import make_user

pytestmark = pytest.mark.django_db
ROLES = ("anonymous", "buyer", "creator", "moderator", "admin")


@pytest.fixture
def applicant():
    user = make_user("buyer")
    return CreatorProfile.objects.create(user=user, display_name="Applicant", bio="I train small models.")


def _client(role: str, api_key_for, *, api: bool) -> Client:
    if role == "anonymous":
        return Client()
    user = make_user(role)
    if api:
        return Client(HTTP_AUTHORIZATION=f"Bearer {api_key_for(user)}")
    client = Client()
    client.force_login(user)
    return client


PAGES = {
    # path: expected status for anonymous, buyer, creator, moderator, admin
    "/": (200, 200, 200, 200, 200),
    "/api/docs": (200, 200, 200, 200, 200),
    "/account/settings/": (302, 200, 200, 200, 200),
    "/account/keys/": (302, 200, 200, 200, 200),
    "/account/creator/": (302, 200, 200, 200, 200),
    "/account/staff/creators/": (302, 404, 404, 200, 200),
    "/admin/": (302, 302, 302, 200, 200),
    "/admin/accounts/creatorprofile/": (302, 302, 302, 200, 200),
    "/admin/accounts/apikey/": (302, 302, 302, 403, 200),
}


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("role_index", range(len(ROLES)), ids=ROLES)
def test_pages(path, role_index, api_key_for):
    client = _client(ROLES[role_index], api_key_for, api=False)
    assert client.get(path).status_code == PAGES[path][role_index]


API = [
    # (method, path, body, expected status for anonymous, buyer, creator, moderator, admin)
    ("get", "/api/v1/me", None, (401, 200, 200, 200, 200)),
    ("get", "/api/v1/keys", None, (401, 200, 200, 200, 200)),
    ("post", "/api/v1/keys", {"name": "n", "scopes": ["read"]}, (401, 201, 201, 201, 201)),
    ("get", "/api/v1/keys/999999", None, (401, 404, 404, 404, 404)),
    ("delete", "/api/v1/keys/999999", None, (401, 404, 404, 404, 404)),
    ("get", "/api/v1/creator-profile", None, (401, 404, 200, 404, 404)),
    ("put", "/api/v1/creator-profile", {"display_name": "D", "bio": "B"}, (401, 200, 200, 200, 200)),
    ("get", "/api/v1/staff/creator-profiles", None, (401, 404, 404, 200, 200)),
    (
        "post",
        "/api/v1/staff/creator-profiles/{applicant}/review",
        {"approve": True},
        (401, 404, 404, 200, 200),
    ),
    ("get", "/api/v1/openapi.json", None, (200, 200, 200, 200, 200)),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), API, ids=[f"{m} {p}" for m, p, _, _ in API])
@pytest.mark.parametrize("role_index", range(len(ROLES)), ids=ROLES)
def test_api(method, path, body, expected, role_index, api_key_for, applicant):
    client = _client(ROLES[role_index], api_key_for, api=True)
    path = path.format(applicant=applicant.pk)
    kwargs = {"data": body, "content_type": "application/json"} if body is not None else {}
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == expected[role_index], response.content
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "details"}


def test_reviewing_someone_else_does_not_leak_to_a_buyer_that_it_exists(buyer, api_key_for, applicant):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key_for(buyer)}")
    missing = client.post(
        "/api/v1/staff/creator-profiles/999999/review", {"approve": True}, "application/json"
    )
    existing = client.post(
        f"/api/v1/staff/creator-profiles/{applicant.pk}/review", {"approve": True}, "application/json"
    )
    assert missing.status_code == existing.status_code == 404
    assert missing.json() == existing.json()
    applicant.refresh_from_db()
    assert applicant.status == CreatorProfile.Status.PENDING

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from modelmarket.accounts import roles
from modelmarket.accounts.models import ApiKey, CreatorProfile
from modelmarket.accounts.services import api_key_create, creator_profile_apply
from modelmarket.accounts.tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_for_staff(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def application(buyer) -> CreatorProfile:
    return creator_profile_apply(user=buyer, display_name="Ada Models", bio="Tabular classifiers.")


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/accounts/user/",
        "/admin/accounts/creatorprofile/",
        "/admin/accounts/apikey/",
        "/admin/core/idempotencyrecord/",
    ],
)
def test_admin_pages_render_for_an_admin(admin_client_for_staff, buyer, url):
    response = admin_client_for_staff.get(url)
    assert response.status_code == 200


def test_admin_is_closed_to_buyers(buyer):
    client = Client()
    client.force_login(buyer)
    response = client.get("/admin/accounts/apikey/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_user_changelist_searches_by_email_and_lists_roles(admin_client_for_staff, buyer, creator):
    response = admin_client_for_staff.get("/admin/accounts/user/", {"q": creator.email})
    html = response.content.decode()
    assert creator.email in html
    assert buyer.email not in html
    assert "buyer, creator" in html


def test_user_change_page_does_not_expose_the_password_hash(admin_client_for_staff, buyer):
    response = admin_client_for_staff.get(f"/admin/accounts/user/{buyer.pk}/change/")
    assert response.status_code == 200
    assert buyer.password not in response.content.decode()


def test_api_key_pages_never_show_the_stored_hash(admin_client_for_staff, buyer):
    key, raw_key = api_key_create(user=buyer, name="ci", scopes=["read"])

    pages = [
        admin_client_for_staff.get("/admin/accounts/apikey/"),
        admin_client_for_staff.get(f"/admin/accounts/apikey/{key.pk}/change/"),
    ]

    for response in pages:
        html = response.content.decode()
        assert response.status_code == 200
        assert key.prefix in html
        assert key.key_sha256 not in html
        assert raw_key not in html


def test_api_keys_cannot_be_added_or_edited_in_the_admin(admin_client_for_staff, buyer):
    key, _ = api_key_create(user=buyer, name="ci", scopes=["read"])

    assert admin_client_for_staff.get("/admin/accounts/apikey/add/").status_code == 403
    response = admin_client_for_staff.post(f"/admin/accounts/apikey/{key.pk}/change/", {"name": "renamed"})

    assert response.status_code == 403
    key.refresh_from_db()
    assert key.name == "ci"


def test_revoke_action_revokes_the_selected_keys(admin_client_for_staff, buyer):
    kept, _ = api_key_create(user=buyer, name="kept", scopes=["read"])
    revoked, _ = api_key_create(user=buyer, name="revoked", scopes=["read"])

    response = admin_client_for_staff.post(
        "/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [revoked.pk]}
    )

    assert response.status_code == 302
    assert ApiKey.objects.get(pk=revoked.pk).revoked_at is not None
    assert ApiKey.objects.get(pk=kept.pk).revoked_at is None


def test_verify_action_makes_the_applicant_a_creator(admin_client_for_staff, application):
    response = admin_client_for_staff.post(
        "/admin/accounts/creatorprofile/", {"action": "verify", "_selected_action": [application.pk]}
    )

    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == CreatorProfile.Status.VERIFIED
    assert application.user.groups.filter(name=roles.CREATOR).exists()


def test_reject_action_rejects_the_application(admin_client_for_staff, application):
    admin_client_for_staff.post(
        "/admin/accounts/creatorprofile/", {"action": "reject", "_selected_action": [application.pk]}
    )

    application.refresh_from_db()
    assert application.status == CreatorProfile.Status.REJECTED
    assert not application.user.groups.filter(name=roles.CREATOR).exists()


def test_creator_profiles_list_filters_by_status(admin_client_for_staff, application, creator):
    response = admin_client_for_staff.get("/admin/accounts/creatorprofile/", {"status__exact": "pending"})
    html = response.content.decode()
    assert "Ada Models" in html
    assert creator.creator_profile.display_name not in html


def test_moderator_can_verify_but_not_see_api_keys(application):
    moderator = make_user("moderator")
    client = Client()
    client.force_login(moderator)

    assert client.get("/admin/accounts/apikey/").status_code == 403
    client.post("/admin/accounts/creatorprofile/", {"action": "verify", "_selected_action": [application.pk]})

    application.refresh_from_db()
    assert application.status == CreatorProfile.Status.VERIFIED
    assert Group.objects.get(name=roles.CREATOR).user_set.filter(pk=application.user_id).exists()

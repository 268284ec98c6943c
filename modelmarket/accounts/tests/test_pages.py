from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone
from PIL import Image

from modelmarket.accounts import roles
from modelmarket.accounts.models import ApiKey, CreatorProfile, User
from modelmarket.accounts.selectors import api_key_sha256
from modelmarket.accounts.services import api_key_create, api_key_revoke, creator_profile_apply
from modelmarket.accounts.tests.factories import UserFactory, make_user

pytestmark = pytest.mark.django_db

ACCOUNT_PAGES = ["/account/settings/", "/account/keys/", "/account/creator/", "/account/staff/creators/"]
RAW_KEY = re.compile(r"mm_[A-Za-z0-9_-]{40,}")


def logged_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def image_upload(image_format: str = "JPEG", size: tuple[int, int] = (640, 480)) -> io.BytesIO:
    """A real image carrying EXIF (camera model and GPS), as a phone would upload it."""
    image = Image.new("RGB", size, (200, 40, 90))
    exif = Image.Exif()
    exif[0x0110] = "Secret Camera 3000"  # Model
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}  # GPSInfo
    data = io.BytesIO()
    image.save(data, format=image_format, exif=exif)
    data.seek(0)
    data.name = f"holiday.{image_format.lower()}"
    return data


def profile_post(**overrides: object) -> dict[str, object]:
    return {"display_name": "Ada", "bio": "I like models.", "links": "", **overrides}


# --- Access ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ACCOUNT_PAGES)
def test_account_pages_send_anonymous_visitors_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


@pytest.mark.parametrize("url", ["/account/settings/", "/account/keys/", "/account/creator/"])
def test_account_pages_render_for_a_buyer(client, buyer, url):
    response = logged_in(client, buyer).get(url)
    assert response.status_code == 200
    assert 'class="site-header"' in response.text
    assert 'aria-current="page"' in response.text


@pytest.mark.parametrize("role", ["buyer", "creator"])
def test_staff_page_is_not_found_for_people_without_the_moderator_role(client, request, role):
    response = logged_in(client, request.getfixturevalue(role)).get("/account/staff/creators/")
    assert response.status_code == 404
    assert "We couldn't find that page" in response.text


def test_account_menu_shows_staff_links_only_to_moderators(client, buyer, moderator):
    buyer_page = logged_in(client, buyer).get("/account/settings/").text
    assert "Creator applications" not in buyer_page
    assert "Django admin" not in buyer_page
    moderator_page = logged_in(Client(), moderator).get("/account/settings/").text
    assert 'href="/account/staff/creators/"' in moderator_page
    assert 'href="/admin/"' in moderator_page


def test_account_menu_logs_out_with_a_post_form_carrying_csrf(client, buyer):
    page = logged_in(client, buyer).get("/").text
    form = re.search(r'<form method="post" action="/accounts/logout/">(.*?)</form>', page, re.S)
    assert form is not None
    assert 'name="csrfmiddlewaretoken"' in form.group(1)
    assert "Log out" in form.group(1)


def test_account_menu_offers_become_a_creator_until_one_applies(client, buyer):
    client = logged_in(client, buyer)
    assert "Become a creator" in client.get("/").text
    creator_profile_apply(user=buyer, display_name="Ada", bio="Vision models.")
    assert "Creator status" in client.get("/").text


# --- Settings -------------------------------------------------------------------------------------------------
def test_settings_form_is_multipart_with_csrf_and_links_to_security_pages(client, buyer):
    page = logged_in(client, buyer).get("/account/settings/").text
    assert 'enctype="multipart/form-data"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    for url in ("/accounts/email/", "/accounts/password/change/", "/accounts/2fa/"):
        assert f'href="{url}"' in page


def test_profile_update_saves_fields_and_links(client, buyer):
    response = logged_in(client, buyer).post(
        "/account/settings/",
        profile_post(display_name="  Ada L. ", links="https://a.example\n\nhttps://b.example/x\n"),
    )
    assert response.status_code == 302
    assert response["Location"] == "/account/settings/"
    buyer.refresh_from_db()
    assert (buyer.display_name, buyer.bio) == ("Ada L.", "I like models.")
    assert buyer.links == ["https://a.example", "https://b.example/x"]
    assert "Your profile was saved." in client.get("/account/settings/").text


@pytest.mark.parametrize("image_format", ["JPEG", "PNG"])
def test_avatar_upload_is_stored_as_a_256px_png_without_exif(client, buyer, image_format):
    response = logged_in(client, buyer).post(
        "/account/settings/", profile_post(avatar=image_upload(image_format))
    )
    assert response.status_code == 302
    buyer.refresh_from_db()
    assert buyer.avatar.name.startswith("avatars/")
    assert buyer.avatar.name.endswith(".png")
    with buyer.avatar.open("rb") as stored, Image.open(stored) as image:
        assert image.format == "PNG"
        assert image.size == (256, 256)
        assert len(image.getexif()) == 0
        assert "exif" not in image.info
    with buyer.avatar.open("rb") as stored:
        assert b"Secret Camera" not in stored.read()
    page = client.get("/account/settings/").text
    assert f'src="{buyer.avatar.url}"' in page
    assert 'name="remove_avatar"' in page


def test_avatar_can_be_removed(client, buyer):
    client = logged_in(client, buyer)
    client.post("/account/settings/", profile_post(avatar=image_upload()))
    response = client.post("/account/settings/", profile_post(remove_avatar="on"))
    assert response.status_code == 302
    buyer.refresh_from_db()
    assert not buyer.avatar


def test_profile_with_an_http_link_shows_the_error_and_writes_nothing(client, buyer):
    before = (buyer.display_name, buyer.bio, buyer.links)
    response = logged_in(client, buyer).post(
        "/account/settings/", profile_post(display_name="Changed", links="http://insecure.example")
    )
    assert response.status_code == 400
    assert "Links must be https:// addresses. Not accepted: http://insecure.example" in response.text
    assert 'id="id_links_error"' in response.text
    buyer.refresh_from_db()
    assert (buyer.display_name, buyer.bio, buyer.links) == before


def test_profile_with_six_links_is_refused(client, buyer):
    links = "\n".join(f"https://{n}.example" for n in range(6))
    response = logged_in(client, buyer).post("/account/settings/", profile_post(links=links))
    assert response.status_code == 400
    assert "At most 5 links." in response.text
    buyer.refresh_from_db()
    assert buyer.links == []


def test_a_file_that_is_not_an_image_is_refused_and_the_avatar_kept(client, buyer):
    client = logged_in(client, buyer)
    client.post("/account/settings/", profile_post(avatar=image_upload()))
    buyer.refresh_from_db()
    avatar_before = buyer.avatar.name
    not_an_image = io.BytesIO(b"%PDF-1.7 definitely not a picture")
    not_an_image.name = "cv.png"
    response = client.post("/account/settings/", profile_post(avatar=not_an_image))
    assert response.status_code == 400
    assert "The file is not a readable image." in response.text
    buyer.refresh_from_db()
    assert buyer.avatar.name == avatar_before


# --- API keys -------------------------------------------------------------------------------------------------
def test_api_keys_page_shows_an_empty_state_and_the_create_form(client, buyer):
    page = logged_in(client, buyer).get("/account/keys/").text
    assert "No keys yet" in page
    assert 'action="/account/keys/"' in page
    for scope in ("inference", "read", "manage"):
        assert f'value="{scope}"' in page


def test_api_keys_page_lists_each_key_with_its_status(client, buyer):
    api_key_create(user=buyer, name="live key", scopes=["inference"])
    revoked, _ = api_key_create(user=buyer, name="revoked key", scopes=["read"])
    api_key_revoke(user=buyer, key_id=revoked.pk)
    expired, _ = api_key_create(user=buyer, name="expired key", scopes=["read"])
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    api_key_create(user=UserFactory(), name="someone else's key", scopes=["read"])

    page = logged_in(client, buyer).get("/account/keys/").text

    rows = dict(
        re.findall(r'<tr id="key-\d+".*?<strong>(.*?)</strong>.*?class="badge badge-\w+">(\w+)<', page, re.S)
    )
    assert rows == {"live key": "Active", "revoked key": "Revoked", "expired key": "Expired"}
    assert "No keys yet" not in page
    assert f"{revoked.prefix}…" in page


def test_creating_a_key_shows_the_full_key_once_and_stores_only_its_hash(client, buyer):
    client = logged_in(client, buyer)
    response = client.post(
        "/account/keys/",
        {"name": "ci runner", "scopes": ["inference", "read"], "expires_on": "", "requests_per_minute": "30"},
    )
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    raw_keys = RAW_KEY.findall(response.text)
    assert len(set(raw_keys)) == 1
    raw = raw_keys[0]
    assert "You won't see it again." in response.text

    key = ApiKey.objects.get(user=buyer)
    assert (key.name, key.scopes, key.requests_per_minute) == ("ci runner", ["inference", "read"], 30)
    assert key.key_sha256 == api_key_sha256(raw)
    assert raw not in json.dumps(list(ApiKey.objects.values()), default=str)
    assert raw not in json.dumps(dict(client.session.items()), default=str)

    listing = client.get("/account/keys/").text
    assert raw not in listing
    assert f"{key.prefix}…" in listing


def test_a_key_with_an_expiry_date_expires_at_the_end_of_that_day_utc(client, buyer):
    tomorrow = (timezone.now() + timedelta(days=1)).date()
    response = logged_in(client, buyer).post(
        "/account/keys/", {"name": "short lived", "scopes": ["read"], "expires_on": tomorrow.isoformat()}
    )
    assert response.status_code == 201
    key = ApiKey.objects.get(user=buyer)
    assert key.expires_at.isoformat() == f"{(tomorrow + timedelta(days=1)).isoformat()}T00:00:00+00:00"


def test_a_key_without_scopes_is_refused_with_the_services_message_and_nothing_is_written(client, buyer):
    response = logged_in(client, buyer).post("/account/keys/", {"name": "no scopes"})
    assert response.status_code == 400
    assert "Scopes must be a non-empty list of inference, read, manage." in response.text
    assert ApiKey.objects.count() == 0


def test_a_key_expiring_in_the_past_is_refused(client, buyer):
    response = logged_in(client, buyer).post(
        "/account/keys/", {"name": "old", "scopes": ["read"], "expires_on": "2001-01-01"}
    )
    assert response.status_code == 400
    assert "The expiry must be in the future." in response.text
    assert ApiKey.objects.count() == 0


def test_unverified_people_are_asked_to_verify_instead_of_seeing_the_form(client):
    user = UserFactory(verified=False)
    page = logged_in(client, user).get("/account/keys/").text
    assert "Verify your email address first" in page
    assert 'href="/accounts/email/"' in page
    assert 'name="scopes"' not in page


def test_unverified_people_cannot_create_a_key_by_posting_and_nothing_is_written(client):
    user = UserFactory(verified=False)
    response = logged_in(client, user).post("/account/keys/", {"name": "sneaky", "scopes": ["read"]})
    assert response.status_code == 403
    assert "Verify your email address first" in response.text
    assert ApiKey.objects.count() == 0


def test_revoking_a_key_marks_it_revoked(client, buyer):
    key, _ = api_key_create(user=buyer, name="to revoke", scopes=["read"])
    client = logged_in(client, buyer)
    response = client.post(f"/account/keys/{key.pk}/revoke/")
    assert response.status_code == 302
    assert response["Location"] == "/account/keys/"
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert "The key “to revoke” was revoked." in client.get("/account/keys/").text


def test_revoking_with_htmx_answers_with_the_updated_row_only(client, buyer):
    key, _ = api_key_create(user=buyer, name="htmx key", scopes=["read"])
    response = logged_in(client, buyer).post(
        f"/account/keys/{key.pk}/revoke/", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response.text.strip().startswith(f'<tr id="key-{key.pk}" class="is-inactive">')
    assert '<span class="badge badge-danger">Revoked</span>' in response.text
    assert "<html" not in response.text


def test_revoke_is_refused_on_get_and_the_key_stays_active(client, buyer):
    key, _ = api_key_create(user=buyer, name="keep", scopes=["read"])
    response = logged_in(client, buyer).get(f"/account/keys/{key.pk}/revoke/")
    assert response.status_code == 405
    key.refresh_from_db()
    assert key.revoked_at is None


def test_revoke_without_a_csrf_token_is_refused_and_the_key_stays_active(buyer):
    key, _ = api_key_create(user=buyer, name="keep", scopes=["read"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(buyer)
    response = client.post(f"/account/keys/{key.pk}/revoke/")
    assert response.status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None


def test_revoke_with_the_csrf_token_from_the_page_works(buyer):
    key, _ = api_key_create(user=buyer, name="with token", scopes=["read"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(buyer)
    page = client.get("/account/keys/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(f"/account/keys/{key.pk}/revoke/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_someone_elses_key_cannot_be_revoked(client, buyer):
    key, _ = api_key_create(user=UserFactory(), name="not yours", scopes=["read"])
    response = logged_in(client, buyer).post(f"/account/keys/{key.pk}/revoke/")
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


# --- Becoming a creator ---------------------------------------------------------------------------------------
def test_creator_page_invites_a_buyer_to_apply(client, buyer):
    page = logged_in(client, buyer).get("/account/creator/").text
    assert "<h1>Become a creator</h1>" in page
    assert "Submit application" in page


def test_applying_creates_a_pending_application(client, buyer):
    client = logged_in(client, buyer)
    response = client.post(
        "/account/creator/",
        {
            "display_name": "Nova Labs",
            "bio": "Edge vision models.",
            "website": "https://nova.example",
            "links": "https://huggingface.co/nova",
        },
    )
    assert response.status_code == 302
    profile = CreatorProfile.objects.get(user=buyer)
    assert (profile.display_name, profile.status, profile.links) == (
        "Nova Labs",
        "pending",
        ["https://huggingface.co/nova"],
    )
    page = client.get("/account/creator/").text
    assert "Pending review" in page
    assert "Your application is in the review queue" in page


def test_a_rejected_applicant_sees_the_staff_note(client, buyer, moderator):
    from modelmarket.accounts.services import creator_profile_review

    profile = creator_profile_apply(user=buyer, display_name="Nova", bio="Models.")
    creator_profile_review(
        actor=moderator, profile_id=profile.pk, approve=False, note="Please link your work."
    )
    page = logged_in(client, buyer).get("/account/creator/").text
    assert "Not approved" in page
    assert "Please link your work." in page
    assert "Save and resubmit" in page


def test_a_verified_creator_sees_their_status(client, creator):
    page = logged_in(client, creator).get("/account/creator/").text
    assert "<h1>Creator status</h1>" in page
    assert '<span class="badge badge-success">Verified</span>' in page


def test_an_application_with_a_bad_website_is_refused_and_nothing_is_written(client, buyer):
    response = logged_in(client, buyer).post(
        "/account/creator/", {"display_name": "Nova", "bio": "Models.", "website": "ftp://nova.example"}
    )
    assert response.status_code == 400
    assert "The website must be an http(s) address." in response.text
    assert 'id="id_website_error"' in response.text
    assert CreatorProfile.objects.count() == 0


def test_an_application_without_a_bio_is_refused(client, buyer):
    response = logged_in(client, buyer).post("/account/creator/", {"display_name": "Nova", "bio": ""})
    assert response.status_code == 400
    assert CreatorProfile.objects.count() == 0


# --- Staff: creator applications ------------------------------------------------------------------------------
@pytest.fixture
def applicant(db) -> CreatorProfile:
    return creator_profile_apply(user=make_user(), display_name="Quill AI", bio="Legal drafting models.")


@pytest.mark.parametrize("role", ["moderator", "admin_user"])
def test_moderators_and_admins_see_pending_applications(client, request, role, applicant):
    page = logged_in(client, request.getfixturevalue(role)).get("/account/staff/creators/").text
    assert "<h1>Creator applications</h1>" in page
    assert "Quill AI" in page
    assert applicant.user.email in page


def test_staff_page_filters_by_status(client, moderator, applicant, creator):
    client = logged_in(client, moderator)
    assert "Quill AI" not in client.get("/account/staff/creators/?status=verified").text
    verified = client.get("/account/staff/creators/?status=verified").text
    assert creator.creator_profile.display_name in verified
    assert "The queue is empty" in client.get("/account/staff/creators/?status=rejected").text.replace(
        "No applications here", "The queue is empty"
    )
    everything = client.get("/account/staff/creators/?status=all").text
    assert "Quill AI" in everything
    assert creator.creator_profile.display_name in everything


def test_staff_page_with_htmx_answers_with_the_list_only(client, moderator, applicant):
    response = logged_in(client, moderator).get(
        "/account/staff/creators/?status=pending", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response.text.strip().startswith('<div id="applications">')
    assert "Quill AI" in response.text


def test_empty_review_queue_says_so(client, moderator):
    page = logged_in(client, moderator).get("/account/staff/creators/").text
    assert "The queue is empty" in page


def test_approving_verifies_grants_the_role_and_emails_the_applicant(
    client, moderator, applicant, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in(client, moderator).post(
            f"/account/staff/creators/{applicant.pk}/review/", {"decision": "approve", "note": "Welcome!"}
        )
    assert response.status_code == 302
    assert response["Location"] == "/account/staff/creators/?status=pending"
    applicant.refresh_from_db()
    assert (applicant.status, applicant.review_note, applicant.reviewed_by) == (
        "verified",
        "Welcome!",
        moderator,
    )
    assert applicant.user.groups.filter(name=roles.CREATOR).exists()
    assert [message.to for message in mailoutbox] == [[applicant.user.email]]


def test_rejecting_with_a_note_records_it(client, moderator, applicant):
    logged_in(client, moderator).post(
        f"/account/staff/creators/{applicant.pk}/review/", {"decision": "reject", "note": "Show us a model."}
    )
    applicant.refresh_from_db()
    assert (applicant.status, applicant.review_note) == ("rejected", "Show us a model.")


def test_a_buyer_cannot_review_and_nothing_changes(client, buyer, applicant):
    response = logged_in(client, buyer).post(
        f"/account/staff/creators/{applicant.pk}/review/", {"decision": "approve"}
    )
    assert response.status_code == 404
    applicant.refresh_from_db()
    assert (applicant.status, applicant.reviewed_by) == ("pending", None)
    assert not applicant.user.groups.filter(name=roles.CREATOR).exists()


def test_a_moderator_cannot_review_their_own_application(client, moderator):
    own = creator_profile_apply(user=moderator, display_name="Me", bio="Mine.")
    client = logged_in(client, moderator)
    response = client.post(f"/account/staff/creators/{own.pk}/review/", {"decision": "approve"})
    assert response.status_code == 302
    own.refresh_from_db()
    assert own.status == "pending"
    assert "You cannot review your own application." in client.get("/account/staff/creators/").text
    assert not Group.objects.get(name=roles.CREATOR).user_set.filter(pk=moderator.pk).exists()


def test_review_without_a_decision_changes_nothing(client, moderator, applicant):
    response = logged_in(client, moderator).post(f"/account/staff/creators/{applicant.pk}/review/", {})
    assert response.status_code == 302
    applicant.refresh_from_db()
    assert applicant.status == "pending"


# --- allauth pages in our layout ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/accounts/confirm-email/bad-key/",
    ],
)
def test_allauth_entrance_pages_render_in_the_site_layout(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert 'class="site-header"' in response.text
    assert 'class="card auth-card"' in response.text


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/email/",
        "/accounts/password/change/",
        "/accounts/2fa/",
        "/accounts/3rdparty/",
        "/accounts/logout/",
        "/accounts/reauthenticate/",
    ],
)
def test_allauth_account_pages_render_in_the_site_layout(client, buyer, url):
    response = logged_in(client, buyer).get(url)
    assert response.status_code == 200
    assert 'class="site-header"' in response.text
    assert '<nav class="side-nav" aria-label="Account">' in response.text or 'class="card auth-card"' in (
        response.text
    )


def test_signup_page_says_email_must_be_verified_before_keys_or_buying(client):
    page = client.get("/accounts/signup/").text
    assert "You must verify your email before you can create API keys or buy access to models." in page
    assert '<label for="id_email">Email</label>' in page


def test_login_page_shows_no_social_buttons_without_configured_providers(client):
    page = client.get("/accounts/login/").text
    assert "Continue with" not in page
    assert "GitHub" not in page
    assert "Google" not in page


def test_login_page_shows_a_provider_button_once_it_is_configured(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {"github": {"APPS": [{"client_id": "id", "secret": "secret"}]}}
    page = client.get("/accounts/login/").text
    assert "Continue with GitHub" in page
    assert "Google" not in page

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.test import Client

from modelmarket.accounts.models import User
from modelmarket.accounts.tests.factories import PASSWORD
from modelmarket.core import tasks

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-long-unusual-passphrase-42"


def _login(client: Client, email: str, password: str = PASSWORD):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_signup_sends_the_verification_mail_through_the_job_queue(
    client, mailoutbox, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    original = tasks.email_send
    monkeypatch.setattr(tasks, "email_send", lambda data: queued.append(data) or original(data))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/signup/",
            {"email": "New@Example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
    assert response.status_code == 302
    user = User.objects.get()
    assert user.email == "new@example.com"
    assert user.password.startswith("md5$")  # the test settings' fast hasher; production uses argon2
    assert len(queued) == 1
    assert queued[0]["to"] == ["new@example.com"]
    assert len(mailoutbox) == 1
    link = re.search(r"http://testserver(/accounts/confirm-email/[^\s]+/)", mailoutbox[0].body).group(1)
    assert not EmailAddress.objects.get(user=user).verified
    assert client.get(link).status_code == 200  # GET shows a confirmation form; it changes nothing
    assert not EmailAddress.objects.get(user=user).verified
    assert client.post(link).status_code == 302
    assert EmailAddress.objects.get(user=user).verified


def test_password_hashing_is_argon2_outside_tests():
    from config.settings import base

    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_password_reset_mail_and_change(client, buyer, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/accounts/password/reset/", {"email": buyer.email}).status_code == 302
    assert len(mailoutbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/key/[^\s]+/)", mailoutbox[0].body).group(1)
    form_url = client.get(link).url  # allauth moves the key out of the URL before showing the form
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert _login(Client(), buyer.email, NEW_PASSWORD).status_code == 302


def test_login_does_not_redirect_off_site(client, buyer):
    response = client.post(
        "/accounts/login/?next=https://evil.example/steal", {"login": buyer.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.url == "/"
    response = Client().post(
        "/accounts/login/?next=//evil.example/", {"login": buyer.email, "password": PASSWORD}
    )
    assert response.url == "/"


def test_login_follows_a_local_next(client, buyer):
    response = client.post(
        "/accounts/login/?next=/account/keys/", {"login": buyer.email, "password": PASSWORD}
    )
    assert response.url == "/account/keys/"


def test_failed_logins_are_rate_limited(client, buyer):
    statuses = [_login(client, buyer.email, "wrong-password").status_code for _ in range(7)]
    assert statuses[:5] == [200] * 5
    page = _login(client, buyer.email, PASSWORD).content.decode()
    assert "Too many failed login attempts" in page


def _current_code(secret: str) -> str:
    counters = list(yield_hotp_counters_from_time())
    counter = counters[len(counters) // 2]  # the current period, whatever the configured tolerance
    return format_hotp_value(hotp_value(secret, counter))


def test_totp_two_factor_is_required_once_activated(client, buyer):
    assert _login(client, buyer.email).status_code == 302
    # Changing two-factor settings asks for the password again, even right after logging in.
    assert client.get("/accounts/2fa/totp/activate/").url.startswith("/accounts/reauthenticate/")
    assert client.post("/accounts/reauthenticate/", {"password": PASSWORD}).status_code == 302
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = client.session["mfa.totp.secret"]
    assert client.post("/accounts/2fa/totp/activate/", {"code": "000000"}).status_code == 200
    assert not Authenticator.objects.filter(user=buyer).exists()
    response = client.post("/accounts/2fa/totp/activate/", {"code": _current_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=buyer, type=Authenticator.Type.TOTP).exists()

    fresh = Client()
    response = _login(fresh, buyer.email)
    assert response.url == "/accounts/2fa/authenticate/"
    assert fresh.get("/account/keys/").status_code == 302  # not logged in before the second factor
    assert fresh.post("/accounts/2fa/authenticate/", {"code": _current_code(secret)}).status_code == 302
    assert fresh.get("/account/keys/").status_code == 200


def test_social_buttons_appear_only_when_configured(client, settings):
    page = client.get("/accounts/login/").content.decode()
    assert "/accounts/github/login/" not in page
    assert "/accounts/google/login/" not in page
    settings.SOCIALACCOUNT_PROVIDERS = {
        "github": {"APPS": [{"client_id": "id", "secret": "secret"}], "SCOPE": ["user:email"]}
    }
    page = client.get("/accounts/login/").content.decode()
    assert "/accounts/github/login/" in page
    assert "/accounts/google/login/" not in page

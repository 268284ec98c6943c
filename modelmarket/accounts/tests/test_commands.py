from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from modelmarket.accounts import roles
from modelmarket.accounts.management.commands.load_demo import DEMO_ACCOUNTS, demo_account
from modelmarket.accounts.models import ApiKey, CreatorProfile, User
from modelmarket.accounts.selectors import api_key_authenticate
from modelmarket.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def run(*args, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_load_demo_creates_buyer_creator_and_staff_with_verified_emails():
    output = run("load_demo")

    for account in DEMO_ACCOUNTS:
        user = User.objects.get(email=account.email)
        assert user.check_password(account.password)
        assert EmailAddress.objects.filter(
            user=user, email=account.email, verified=True, primary=True
        ).exists()
        assert account.email in output
        assert account.password in output
    buyer = User.objects.get(email=demo_account("buyer").email)
    assert (buyer.is_staff, buyer.is_superuser, list(buyer.groups.values_list("name", flat=True))) == (
        False,
        False,
        [],
    )
    creator = User.objects.get(email=demo_account("creator").email)
    assert creator.creator_profile.status == CreatorProfile.Status.VERIFIED
    assert list(creator.groups.values_list("name", flat=True)) == [roles.CREATOR]
    staff = User.objects.get(email=demo_account("staff").email)
    assert (staff.is_staff, staff.is_superuser) == (True, True)
    assert list(staff.groups.values_list("name", flat=True)) == [roles.ADMIN]


def test_load_demo_twice_changes_nothing_and_restores_a_changed_password():
    run("load_demo")
    buyer = User.objects.get(email=demo_account("buyer").email)
    buyer.set_password("something-else-entirely")
    buyer.save()

    run("load_demo")

    assert User.objects.count() == 3
    assert EmailAddress.objects.count() == 3
    assert CreatorProfile.objects.count() == 1
    buyer.refresh_from_db()
    assert buyer.check_password(demo_account("buyer").password)


@override_settings(ENVIRONMENT="production")
def test_load_demo_refuses_in_production_and_writes_nothing():
    with pytest.raises(CommandError, match="production"):
        run("load_demo")
    assert User.objects.count() == 0


@override_settings(ENVIRONMENT="production")
def test_load_demo_in_production_with_force_loads():
    run("load_demo", "--force")
    assert User.objects.count() == 3


def test_create_api_key_prints_only_a_working_key():
    user = UserFactory(email="ops@example.com")

    output = run(
        "create_api_key",
        "--user",
        "OPS@example.com",
        "--scopes",
        "inference,read",
        "--name",
        "batch job",
        "--expires-in-days",
        "30",
        "--rpm",
        "90",
    )

    raw_key = output.strip()
    assert output == raw_key + "\n"
    key = api_key_authenticate(raw_key)
    assert key.user == user
    assert (key.name, key.scopes, key.requests_per_minute) == ("batch job", ["inference", "read"], 90)
    assert key.expires_at is not None
    assert abs(key.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)


def test_create_api_key_works_for_an_unverified_email_because_an_operator_asked():
    UserFactory(email="new@example.com", verified=False)

    raw_key = run("create_api_key", "--user", "new@example.com", "--scopes", "read").strip()

    assert api_key_authenticate(raw_key).user.email == "new@example.com"


def test_create_api_key_for_an_unknown_user_fails_and_writes_nothing():
    with pytest.raises(CommandError, match="No user"):
        run("create_api_key", "--user", "nobody@example.com", "--scopes", "read")
    assert ApiKey.objects.count() == 0


def test_create_api_key_with_an_unknown_scope_fails_and_writes_nothing():
    UserFactory(email="ops@example.com")
    with pytest.raises(CommandError, match="Scopes must be"):
        run("create_api_key", "--user", "ops@example.com", "--scopes", "read,everything")
    assert ApiKey.objects.count() == 0


def test_create_api_key_for_a_disabled_account_fails_and_writes_nothing():
    UserFactory(email="gone@example.com", is_active=False)
    with pytest.raises(CommandError, match="disabled"):
        run("create_api_key", "--user", "gone@example.com", "--scopes", "read")
    assert ApiKey.objects.count() == 0


def test_createsuperuser_noinput_reads_email_and_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Root@Example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-enough-password")

    run("createsuperuser", "--noinput")

    user = User.objects.get()
    assert user.email == "root@example.com"
    assert (user.is_staff, user.is_superuser) == (True, True)
    assert user.check_password("a-long-enough-password")

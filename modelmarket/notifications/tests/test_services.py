from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from modelmarket.accounts.tests.factories import make_user
from modelmarket.core.exceptions import NotFound, ValidationFailed
from modelmarket.notifications.models import Notification, NotificationPreference
from modelmarket.notifications.selectors import (
    notification_get,
    notification_list,
    notification_preferences_get,
    notification_unread_count,
)
from modelmarket.notifications.services import (
    notification_mark_read,
    notification_preferences_update,
    notification_send,
    notifications_mark_all_read,
)

pytestmark = pytest.mark.django_db

EVIL_URLS = [
    "https://evil.example",
    "//evil.example",
    "/\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "javascript:alert(1)",
    "evil.example/account/",
    "HTTPS://evil.example/",
]


def paid(user, **overrides):
    arguments = {
        "user": user,
        "kind": "order_paid",
        "title": "Your order #12 was paid",
        "body": "You now have access to Sentiment Small.\nEnjoy it!",
        "url": "/account/orders/12/",
        **overrides,
    }
    return notification_send(**arguments)


# --- Sending ------------------------------------------------------------------------------------------------------
def test_send_stores_the_notification_unread(buyer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification = paid(buyer)
    stored = Notification.objects.get()
    assert stored == notification
    assert (stored.user, stored.kind, stored.title, stored.url) == (
        buyer,
        "order_paid",
        "Your order #12 was paid",
        "/account/orders/12/",
    )
    assert stored.body == "You now have access to Sentiment Small.\nEnjoy it!"
    assert stored.read_at is None
    assert stored.dedupe_key is None
    assert notification_unread_count(user=buyer) == 1


def test_send_emails_through_the_job_queue_after_commit(
    buyer, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notification = paid(buyer)
        assert mailoutbox == []  # nothing leaves before the transaction commits
    assert len(callbacks) == 1
    assert [message.to for message in mailoutbox] == [[buyer.email]]
    message = mailoutbox[0]
    assert message.subject == "[ModelMarket] Your order #12 was paid"
    assert "You now have access to Sentiment Small.\nEnjoy it!" in message.body
    assert "http://127.0.0.1:8000/account/orders/12/" in message.body
    assert "http://127.0.0.1:8000/notifications/settings" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert '<a href="http://127.0.0.1:8000/account/orders/12/">' in html
    assert "<p>You now have access to Sentiment Small.<br>Enjoy it!</p>" in html
    notification.refresh_from_db()
    assert notification.emailed_at is not None


def test_the_email_escapes_html_but_the_text_part_does_not(
    buyer, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        paid(buyer, title="Refund for <b>Model & Co</b>", kind="refund_recorded", body="")
    message = mailoutbox[0]
    assert "Refund for <b>Model & Co</b>" in message.body
    assert "Refund for &lt;b&gt;Model &amp; Co&lt;/b&gt;" in message.alternatives[0][0]


def test_send_without_url_links_the_email_to_the_notifications_page(
    buyer, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        paid(buyer, url="")
    assert "http://127.0.0.1:8000/notifications/\n" in mailoutbox[0].body


def test_send_with_email_false_stores_but_sends_nothing(
    buyer, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notification = paid(buyer, email=False)
    assert callbacks == []
    assert mailoutbox == []
    assert notification.emailed_at is None
    assert Notification.objects.count() == 1


def test_a_rolled_back_transaction_stores_and_emails_nothing(
    buyer, mailoutbox, django_capture_on_commit_callbacks
):
    def notify_then_fail() -> None:
        with transaction.atomic():
            paid(buyer)
            raise RuntimeError("the payment step failed after notifying")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        notify_then_fail()
    assert Notification.objects.count() == 0
    assert mailoutbox == []


def test_an_inactive_person_is_not_emailed(mailoutbox, django_capture_on_commit_callbacks):
    user = make_user(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        notification = paid(user)
    assert mailoutbox == []
    assert notification.emailed_at is None


# --- Dedupe -------------------------------------------------------------------------------------------------------
def test_the_same_dedupe_key_stores_and_emails_once(buyer, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = paid(buyer, kind="subscription_renewal_due", dedupe_key="renewal:sub-7:2026-12-01")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = paid(
            buyer, kind="subscription_renewal_due", title="Retried", dedupe_key="renewal:sub-7:2026-12-01"
        )
    assert second.pk == first.pk
    assert second.title == "Your order #12 was paid"
    assert callbacks == []
    assert Notification.objects.count() == 1
    assert len(mailoutbox) == 1


def test_a_dedupe_key_is_per_person(buyer, creator):
    paid(buyer, dedupe_key="order:12:paid")
    paid(creator, dedupe_key="order:12:paid")
    assert sorted(Notification.objects.values_list("user_id", flat=True)) == sorted([buyer.pk, creator.pk])


def test_notifications_without_a_dedupe_key_are_never_merged(buyer):
    paid(buyer)
    paid(buyer)
    assert Notification.objects.filter(user=buyer).count() == 2


def test_the_database_refuses_a_second_row_with_the_same_key(buyer):
    Notification.objects.create(user=buyer, kind="general", title="One", dedupe_key="k")
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(user=buyer, kind="general", title="Two", dedupe_key="k")
    assert Notification.objects.count() == 1


# --- Validation ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", EVIL_URLS)
def test_send_refuses_a_url_that_leaves_the_site(buyer, url, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationFailed) as raised:
        paid(buyer, url=url)
    assert raised.value.code == "invalid_url"
    assert raised.value.status_code == 422
    assert Notification.objects.count() == 0
    assert mailoutbox == []


@pytest.mark.parametrize("url", ["/", "/account/usage/?days=7", "/models/sentiment-small#pricing", ""])
def test_send_accepts_paths_on_this_site(buyer, url):
    assert paid(buyer, url=url).url == url


@pytest.mark.parametrize("url", ["https://evil.example", "//evil.example", "/\\evil.example"])
def test_the_model_validator_and_the_database_refuse_urls_that_leave_the_site(buyer, url):
    notification = Notification(user=buyer, kind="general", title="Hi", url=url)
    with pytest.raises(ValidationError) as raised:
        notification.full_clean()
    assert list(raised.value.message_dict) == ["url"]
    with pytest.raises(IntegrityError), transaction.atomic():
        notification.save()
    assert Notification.objects.count() == 0


def test_send_refuses_an_unknown_kind(buyer):
    with pytest.raises(ValidationFailed) as raised:
        paid(buyer, kind="lottery_won")
    assert raised.value.code == "invalid_kind"
    assert Notification.objects.count() == 0


@pytest.mark.parametrize("title", ["", "   ", "x" * 201, "Paid\nBcc: victim@example.com"])
def test_send_refuses_an_empty_long_or_multiline_title(buyer, title):
    with pytest.raises(ValidationFailed) as raised:
        paid(buyer, title=title)
    assert raised.value.code == "invalid_title"
    assert Notification.objects.count() == 0


@pytest.mark.parametrize("dedupe_key", ["", "k" * 201])
def test_send_refuses_an_empty_or_long_dedupe_key(buyer, dedupe_key):
    with pytest.raises(ValidationFailed) as raised:
        paid(buyer, dedupe_key=dedupe_key)
    assert raised.value.code == "invalid_dedupe_key"
    assert Notification.objects.count() == 0


# --- Preferences --------------------------------------------------------------------------------------------------
def test_without_a_preference_row_email_is_on_and_nothing_is_muted(buyer):
    preference = notification_preferences_get(user=buyer)
    assert preference.pk is None
    assert (preference.email_enabled, preference.muted_kinds) == (True, [])


def test_a_muted_kind_is_stored_in_app_but_not_emailed(buyer, mailoutbox, django_capture_on_commit_callbacks):
    notification_preferences_update(user=buyer, email_enabled=True, muted_kinds=["order_paid"])
    with django_capture_on_commit_callbacks(execute=True):
        muted = paid(buyer)
        paid(buyer, kind="refund_recorded", title="Your refund was recorded")
    assert muted.emailed_at is None
    assert Notification.objects.filter(user=buyer).count() == 2
    assert [message.subject for message in mailoutbox] == ["[ModelMarket] Your refund was recorded"]


def test_email_disabled_stores_in_app_but_emails_nothing(
    buyer, mailoutbox, django_capture_on_commit_callbacks
):
    notification_preferences_update(user=buyer, email_enabled=False, muted_kinds=[])
    with django_capture_on_commit_callbacks(execute=True):
        paid(buyer)
        paid(buyer, kind="payout_recorded", title="Payout recorded")
    assert Notification.objects.filter(user=buyer, emailed_at__isnull=True).count() == 2
    assert mailoutbox == []


def test_preferences_update_replaces_and_orders_the_muted_kinds(buyer):
    notification_preferences_update(user=buyer, email_enabled=True, muted_kinds=["low_credit"])
    preference = notification_preferences_update(
        user=buyer, email_enabled=False, muted_kinds=["payout_recorded", "order_paid", "order_paid"]
    )
    stored = NotificationPreference.objects.get(user=buyer)
    assert stored.pk == preference.pk
    assert (stored.email_enabled, stored.muted_kinds) == (False, ["order_paid", "payout_recorded"])


def test_preferences_update_refuses_unknown_kinds_and_writes_nothing(buyer):
    with pytest.raises(ValidationFailed) as raised:
        notification_preferences_update(user=buyer, email_enabled=True, muted_kinds=["order_paid", "spam"])
    assert raised.value.code == "invalid_muted_kinds"
    assert raised.value.details == {"unknown": ["spam"]}
    assert NotificationPreference.objects.count() == 0


# --- Reading and marking read -------------------------------------------------------------------------------------
def test_list_is_newest_first_and_only_the_persons_own(buyer, creator):
    older = paid(buyer, title="Older")
    Notification.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(hours=1))
    newer = paid(buyer, title="Newer")
    paid(creator, title="Someone else's")
    assert list(notification_list(user=buyer)) == [newer, older]


def test_mark_read_sets_read_at_once(buyer):
    notification = paid(buyer)
    first = notification_mark_read(user=buyer, notification_id=notification.pk)
    read_at = Notification.objects.get().read_at
    assert first.read_at == read_at
    assert read_at is not None
    again = notification_mark_read(user=buyer, notification_id=notification.pk)
    assert again.read_at == read_at
    assert Notification.objects.get().read_at == read_at
    assert notification_unread_count(user=buyer) == 0


def test_someone_elses_notification_is_not_found_and_stays_unread(buyer, creator):
    notification = paid(creator)
    with pytest.raises(NotFound):
        notification_get(user=buyer, notification_id=notification.pk)
    with pytest.raises(NotFound) as raised:
        notification_mark_read(user=buyer, notification_id=notification.pk)
    assert raised.value.status_code == 404
    assert Notification.objects.get().read_at is None


def test_mark_all_read_touches_only_the_persons_unread(buyer, creator):
    already = paid(buyer)
    notification_mark_read(user=buyer, notification_id=already.pk)
    read_at = Notification.objects.get(pk=already.pk).read_at
    paid(buyer)
    paid(buyer)
    paid(creator)
    assert notifications_mark_all_read(user=buyer) == 2
    assert notification_unread_count(user=buyer) == 0
    assert notification_unread_count(user=creator) == 1
    assert Notification.objects.get(pk=already.pk).read_at == read_at
    assert notifications_mark_all_read(user=buyer) == 0

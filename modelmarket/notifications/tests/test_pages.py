from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.utils import timezone

from modelmarket.notifications.context_processors import unread_notifications
from modelmarket.notifications.models import Notification, NotificationPreference
from modelmarket.notifications.services import notification_send

pytestmark = pytest.mark.django_db

PAGES = ["/notifications/", "/notifications/settings"]


def logged_in(client: Client, user) -> Client:
    client.force_login(user)
    return client


def notify(user, title="Your order #12 was paid", url="/account/usage/", **overrides):
    return notification_send(
        user=user, kind="order_paid", title=title, body="Thanks.", url=url, email=False, **overrides
    )


# --- Access -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", PAGES)
def test_pages_send_anonymous_visitors_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_mark_read_by_an_anonymous_visitor_changes_nothing(client, buyer):
    notification = notify(buyer)
    response = client.post(f"/notifications/{notification.pk}/read")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Notification.objects.get().read_at is None


def test_mark_read_is_post_only(client, buyer):
    notification = notify(buyer)
    response = logged_in(client, buyer).get(f"/notifications/{notification.pk}/read")
    assert response.status_code == 405
    assert Notification.objects.get().read_at is None


# --- List ---------------------------------------------------------------------------------------------------------
def test_list_shows_the_persons_notifications_newest_first_with_unread_marked(client, buyer, creator):
    older = notify(buyer, title="Older and read")
    Notification.objects.filter(pk=older.pk).update(
        created_at=timezone.now() - timedelta(days=1), read_at=timezone.now()
    )
    newer = notify(buyer, title="Newer & unread", url="")
    notify(creator, title="Someone else's")
    response = logged_in(client, buyer).get("/notifications/")
    assert response.status_code == 200
    assert list(response.context["page"]) == [newer, older]
    assert response.context["unread_count"] == 1
    html = response.text
    assert html.index("Newer &amp; unread") < html.index("Older and read")
    assert "Someone else" not in html
    assert html.count('class="notification notification-unread"') == 1
    assert html.count('class="notification"') == 1
    assert f'action="/notifications/{older.pk}/read"' in html
    assert f'action="/notifications/{newer.pk}/read"' in html  # "Mark read" for the one without a link
    assert 'action="/notifications/read-all"' in html
    assert "/static/css/notifications.css" in html
    assert " style=" not in html


def test_list_is_empty_for_a_new_person(client, buyer):
    response = logged_in(client, buyer).get("/notifications/")
    assert response.status_code == 200
    assert "No notifications yet" in response.text
    assert 'action="/notifications/read-all"' not in response.text


def test_list_pages_by_25(client, buyer):
    for number in range(26):
        notify(buyer, title=f"Notification {number}")
    first = logged_in(client, buyer).get("/notifications/")
    second = client.get("/notifications/?page=2")
    assert len(first.context["page"]) == 25
    assert [item.title for item in second.context["page"]] == ["Notification 0"]
    assert "Page 2 of 2" in second.text


# --- Mark read ----------------------------------------------------------------------------------------------------
def test_mark_read_marks_it_and_redirects_to_its_path(client, buyer):
    notification = notify(buyer, url="/account/usage/?days=7")
    response = logged_in(client, buyer).post(f"/notifications/{notification.pk}/read")
    assert response.status_code == 302
    assert response["Location"] == "/account/usage/?days=7"
    assert Notification.objects.get().read_at is not None


def test_mark_read_without_a_path_returns_to_the_list(client, buyer):
    notification = notify(buyer, url="")
    response = logged_in(client, buyer).post(f"/notifications/{notification.pk}/read")
    assert response["Location"] == "/notifications/"
    assert Notification.objects.get().read_at is not None


def test_mark_read_never_redirects_off_site_even_for_a_bad_stored_row(client, buyer):
    # Written past the service: the database's check lets a tab through, the service and the view do not.
    notification = Notification.objects.create(
        user=buyer, kind="general", title="Bad", url="/\t/evil.example"
    )
    response = logged_in(client, buyer).post(f"/notifications/{notification.pk}/read")
    assert response.status_code == 302
    assert response["Location"] == "/notifications/"


def test_someone_elses_notification_is_404_and_stays_unread(client, buyer, creator):
    notification = notify(creator)
    response = logged_in(client, buyer).post(f"/notifications/{notification.pk}/read")
    assert response.status_code == 404
    assert Notification.objects.get().read_at is None


def test_an_unknown_notification_is_404(client, buyer):
    assert logged_in(client, buyer).post("/notifications/999999/read").status_code == 404


def test_mark_all_read_marks_only_the_persons_notifications(client, buyer, creator):
    notify(buyer)
    notify(buyer)
    notify(creator)
    response = logged_in(client, buyer).post("/notifications/read-all", follow=True)
    assert response.redirect_chain == [("/notifications/", 302)]
    assert "2 notifications marked read." in response.text
    assert Notification.objects.filter(user=buyer, read_at__isnull=True).count() == 0
    assert Notification.objects.filter(user=creator, read_at__isnull=True).count() == 1


def test_posts_need_a_csrf_token(buyer):
    client = logged_in(Client(enforce_csrf_checks=True), buyer)
    notification = notify(buyer)
    assert client.post(f"/notifications/{notification.pk}/read").status_code == 403
    assert client.post("/notifications/read-all").status_code == 403
    assert client.post("/notifications/settings", {"email_enabled": "on"}).status_code == 403
    assert Notification.objects.get().read_at is None
    assert NotificationPreference.objects.count() == 0
    # The page's own form carries a token that works.
    page = client.get("/notifications/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = client.post(f"/notifications/{notification.pk}/read", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Notification.objects.get().read_at is not None


# --- Preferences --------------------------------------------------------------------------------------------------
def test_settings_page_shows_the_defaults(client, buyer):
    response = logged_in(client, buyer).get("/notifications/settings")
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["email_enabled"] is True
    assert "refund_recorded" in form.initial["emailed_kinds"]
    assert 'name="emailed_kinds" value="refund_recorded"' in response.text
    assert NotificationPreference.objects.count() == 0


def test_settings_page_saves_the_unticked_kinds_as_muted(client, buyer):
    response = logged_in(client, buyer).post(
        "/notifications/settings",
        {"email_enabled": "on", "emailed_kinds": ["order_paid", "order_failed", "refund_recorded"]},
        follow=True,
    )
    assert response.redirect_chain == [("/notifications/settings", 302)]
    assert "Your notification preferences were saved." in response.text
    preference = NotificationPreference.objects.get(user=buyer)
    assert preference.email_enabled is True
    assert preference.muted_kinds == [
        "subscription_renewal_due",
        "subscription_expired",
        "pass_expiring",
        "payout_recorded",
        "low_credit",
        "general",
    ]
    assert response.context["form"].initial["emailed_kinds"] == [
        "order_paid",
        "order_failed",
        "refund_recorded",
    ]


def test_settings_page_turns_email_off(client, buyer):
    logged_in(client, buyer).post("/notifications/settings", {"emailed_kinds": ["order_paid"]})
    preference = NotificationPreference.objects.get(user=buyer)
    assert preference.email_enabled is False


def test_settings_page_refuses_an_unknown_kind(client, buyer):
    response = logged_in(client, buyer).post(
        "/notifications/settings", {"email_enabled": "on", "emailed_kinds": ["spam"]}
    )
    assert response.status_code == 400
    assert "emailed_kinds" in response.context["form"].errors
    assert NotificationPreference.objects.count() == 0


# --- Unread count for the header ----------------------------------------------------------------------------------
def test_unread_count_for_a_signed_in_person_is_one_query(buyer, creator, django_assert_num_queries):
    notify(buyer)
    notify(buyer)
    read = notify(buyer)
    Notification.objects.filter(pk=read.pk).update(read_at=timezone.now())
    notify(creator)
    request = RequestFactory().get("/")
    request.user = buyer
    with django_assert_num_queries(0):
        context = unread_notifications(request)
    with django_assert_num_queries(1):
        rendered = Template(
            "{% if unread_notifications_count %}{{ unread_notifications_count }} unread{% endif %}"
            "/{{ unread_notifications_count }}"
        ).render(Context(context))
    assert rendered == "2 unread/2"
    assert context["unread_notifications_count"] == 2


def test_unread_count_is_falsy_when_all_are_read(buyer):
    notify(buyer)
    Notification.objects.update(read_at=timezone.now())
    request = RequestFactory().get("/")
    request.user = buyer
    rendered = Template("{% if unread_notifications_count %}badge{% else %}none{% endif %}").render(
        Context(unread_notifications(request))
    )
    assert rendered == "none"


def test_unread_count_is_absent_for_anonymous_visitors(django_assert_num_queries):
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    with django_assert_num_queries(0):
        assert unread_notifications(request) == {}


def test_unread_count_reaches_pages_once_the_context_processor_is_listed(client, buyer, settings):
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "OPTIONS": {
                **settings.TEMPLATES[0]["OPTIONS"],
                "context_processors": [
                    *settings.TEMPLATES[0]["OPTIONS"]["context_processors"],
                    "modelmarket.notifications.context_processors.unread_notifications",
                ],
            },
        }
    ]
    notify(buyer)
    response = logged_in(client, buyer).get("/notifications/")
    assert response.context["unread_notifications_count"] == 1


# --- Admin --------------------------------------------------------------------------------------------------------
def test_staff_see_notifications_and_preferences_read_only_in_the_admin(client, admin_user, buyer):
    notify(buyer, title="Visible to staff")
    NotificationPreference.objects.create(user=buyer, email_enabled=False)
    logged_in(client, admin_user)
    listing = client.get("/admin/notifications/notification/")
    assert listing.status_code == 200
    assert "Visible to staff" in listing.text
    assert client.get("/admin/notifications/notificationpreference/").status_code == 200
    assert client.get("/admin/notifications/notification/add/").status_code == 403
    notification = Notification.objects.get()
    response = client.post(f"/admin/notifications/notification/{notification.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Notification.objects.count() == 1

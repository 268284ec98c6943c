"""The staff payments page (`/staff/payments/`) and API: staff only (anyone else 404, nothing changed), parked
payments first, filters by status and match, each payment's raw webhook events pretty-printed and escaped, failed
events with attempts and last error, "Replay processing" and "Mark resolved" (POST, CSRF)."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.models import (
    Payment,
    PaymentGateway,
    PaymentMatch,
    PaymentStatus,
    WebhookEvent,
    WebhookStatus,
)
from modelmarket.billing.selectors.reconciliation import webhook_body_text
from modelmarket.billing.tests.test_subscriptions_support import helio_settings, stored_event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    helio_settings(settings)


@pytest.fixture
def staff():
    return make_user("moderator")


def payment(provider_id, *, match=PaymentMatch.MATCHED, status=PaymentStatus.SUCCEEDED, reason=""):
    return Payment.objects.create(
        gateway=PaymentGateway.HELIO,
        provider_payment_id=provider_id,
        status=status,
        match=match,
        review_reason=reason,
        currency_id="USDC",
        gross_minor=10_000_000,
        net_minor=10_000_000,
    )


def event_for(linked_payment, payload, *, status=WebhookStatus.PROCESSED, last_error="", attempts=1):
    event = stored_event(payload, status=status)
    WebhookEvent.objects.filter(pk=event.pk).update(
        payment=linked_payment, last_error=last_error, attempts=attempts
    )
    event.refresh_from_db()
    return event


def logged_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", [None, "buyer", "creator"])
def test_the_page_is_404_for_anyone_but_staff(role):
    client = logged_in(make_user(role)) if role else Client()
    assert client.get(reverse("billing_staff_payments")).status_code == 404


def test_staff_see_parked_payments_first_with_their_raw_events_escaped(staff):
    matched = payment("tx_matched")
    parked = payment("tx_parked", match=PaymentMatch.UNMATCHED, reason="No order ord_gone exists.")
    event_for(matched, {"event": "CREATED", "transactionObject": {"id": "tx_matched"}})
    event_for(
        parked,
        {"event": "CREATED", "transactionObject": {"id": "tx_parked", "note": "<script>alert(1)</script>"}},
        status=WebhookStatus.PARKED,
        last_error="No order ord_gone exists.",
    )

    response = logged_in(staff).get(reverse("billing_staff_payments"))

    assert response.status_code == 200
    page = response.content.decode()
    assert page.index(parked.public_id) < page.index(matched.public_id)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "&quot;transactionObject&quot;: {\n" in page  # pretty-printed, keys sorted, escaped
    assert "No order ord_gone exists." in page
    assert "Bearer" not in page
    assert "Authorization" not in page
    assert reverse("billing_staff_payment_resolve", args=[parked.public_id]) in page
    assert reverse("billing_staff_payment_resolve", args=[matched.public_id]) not in page
    assert page.count("Replay processing<span") >= 2
    assert 'name="csrfmiddlewaretoken"' in page


def test_a_succeeded_payment_links_to_its_refund_page_when_refunds_exist(staff):
    from django.urls import NoReverseMatch

    paid = payment("tx_paid")
    failed = payment("tx_failed", status=PaymentStatus.FAILED)
    try:
        refund_url = reverse("billing_refund_create", args=[paid.public_id])
    except NoReverseMatch:
        pytest.skip("the refunds page does not exist yet")
    page = logged_in(staff).get(reverse("billing_staff_payments")).content.decode()
    assert f'href="{refund_url}"' in page
    assert reverse("billing_refund_create", args=[failed.public_id]) not in page


def test_filters_by_status_and_match(staff):
    failed = payment("tx_failed", status=PaymentStatus.FAILED)
    mismatch = payment("tx_mismatch", match=PaymentMatch.MISMATCH, reason="Paid 9 USDC")
    resolved = payment("tx_resolved", match=PaymentMatch.RESOLVED)
    client = logged_in(staff)

    page = client.get(reverse("billing_staff_payments"), {"status": "failed"}).content.decode()
    assert failed.public_id in page
    assert mismatch.public_id not in page

    page = client.get(reverse("billing_staff_payments"), {"match": "parked"}).content.decode()
    assert mismatch.public_id in page
    assert resolved.public_id not in page
    assert failed.public_id not in page

    response = client.get(reverse("billing_staff_payments"), {"match": "nonsense"})
    assert response.status_code == 200
    assert "Unknown match" in response.content.decode()


def test_failed_webhook_events_are_listed_with_attempts_and_last_error(staff):
    event = stored_event({"event": "RENEWED", "subscriptionId": "sub_9"}, status=WebhookStatus.FAILED)
    WebhookEvent.objects.filter(pk=event.pk).update(attempts=4, last_error="SubscriptionNotReady: not yet")
    page = logged_in(staff).get(reverse("billing_staff_payments")).content.decode()
    section = page[page.index('id="failed-events-heading"') :]
    assert "SubscriptionNotReady: not yet" in section
    assert '<td data-label="Attempts" class="numeric">4</td>' in section
    assert reverse("billing_staff_webhook_replay", args=[event.pk]) in section


def test_replay_resets_the_event_and_processes_it_again(staff):
    pytest.importorskip("modelmarket.billing.services.webhooks")
    event = stored_event({"event": "SOMETHING_ELSE", "subscriptionId": "x"}, status=WebhookStatus.FAILED)
    WebhookEvent.objects.filter(pk=event.pk).update(attempts=3, last_error="boom")
    response = logged_in(staff).post(
        reverse("billing_staff_webhook_replay", args=[event.pk]), {"next": "/staff/payments/?match=parked"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/staff/payments/?match=parked"
    event.refresh_from_db()
    assert event.status == WebhookStatus.IGNORED  # an event we do not act on, now processed by the processor
    assert event.attempts == 4


def test_replay_by_anyone_but_staff_is_404_and_changes_nothing():
    event = stored_event({"event": "RENEWED", "subscriptionId": "sub_9"}, status=WebhookStatus.FAILED)
    response = logged_in(make_user("buyer")).post(reverse("billing_staff_webhook_replay", args=[event.pk]))
    assert response.status_code == 404
    event.refresh_from_db()
    assert (event.status, event.attempts) == (WebhookStatus.FAILED, 0)


def test_replay_needs_the_csrf_token(staff):
    event = stored_event({"event": "RENEWED", "subscriptionId": "sub_9"}, status=WebhookStatus.FAILED)
    client = logged_in(staff, enforce_csrf_checks=True)
    assert client.post(reverse("billing_staff_webhook_replay", args=[event.pk])).status_code == 403
    event.refresh_from_db()
    assert event.status == WebhookStatus.FAILED


def test_replay_of_an_unknown_event_is_404(staff):
    assert logged_in(staff).post(reverse("billing_staff_webhook_replay", args=[999_999])).status_code == 404


def test_mark_resolved_closes_the_review_with_the_note(staff):
    parked = payment("tx_parked", match=PaymentMatch.MISMATCH, reason="Paid 9 USDC, order is 10 USDC.")
    response = logged_in(staff).post(
        reverse("billing_staff_payment_resolve", args=[parked.public_id]),
        {"note": "Refunded 9 USDC on chain."},
    )
    assert response.status_code == 302
    parked.refresh_from_db()
    assert parked.match == PaymentMatch.RESOLVED
    assert parked.review_reason == (
        f"Paid 9 USDC, order is 10 USDC. | Resolved by {staff.email}: Refunded 9 USDC on chain."
    )


@pytest.mark.parametrize(
    ("match", "note", "message"),
    [
        (PaymentMatch.MATCHED, "done", "Only a parked payment"),
        (PaymentMatch.UNMATCHED, "   ", "Say in 1 to 200 characters"),
    ],
)
def test_mark_resolved_refuses_what_it_cannot_do_and_changes_nothing(staff, match, note, message):
    target = payment("tx_1", match=match, reason="why")
    client = logged_in(staff)
    client.post(reverse("billing_staff_payment_resolve", args=[target.public_id]), {"note": note})
    target.refresh_from_db()
    assert (target.match, target.review_reason) == (match, "why")
    assert message in client.get(reverse("billing_staff_payments")).content.decode()


def test_mark_resolved_by_anyone_but_staff_is_404_and_changes_nothing():
    parked = payment("tx_parked", match=PaymentMatch.UNMATCHED, reason="why")
    response = logged_in(make_user("buyer")).post(
        reverse("billing_staff_payment_resolve", args=[parked.public_id]), {"note": "mine now"}
    )
    assert response.status_code == 404
    parked.refresh_from_db()
    assert parked.match == PaymentMatch.UNMATCHED


def test_the_body_shown_is_the_raw_text_when_it_is_not_json():
    assert webhook_body_text(memoryview(b"not json <b>")) == "not json <b>"
    assert webhook_body_text(b'{"b": 1, "a": [1]}') == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}'


def test_api_lists_payments_with_their_events_for_staff_only(staff, api_client_for):
    parked = payment("tx_parked", match=PaymentMatch.UNMATCHED, reason="No order")
    event = event_for(parked, {"event": "CREATED", "transactionObject": {"id": "tx_parked"}})
    payment("tx_other")

    response = api_client_for(staff).get("/api/v1/staff/payments", {"match": "parked"})
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["id"] for item in items] == [parked.public_id]
    assert items[0]["match"] == "unmatched"
    assert items[0]["webhook_events"][0]["id"] == event.pk
    assert items[0]["webhook_events"][0]["body"] == {
        "event": "CREATED",
        "transactionObject": {"id": "tx_parked"},
    }
    assert items[0]["webhook_events"][0]["payment"] == parked.public_id

    assert api_client_for(make_user("buyer")).get("/api/v1/staff/payments").status_code == 404
    bad = api_client_for(staff).get("/api/v1/staff/payments", {"status": "weird"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_filter"


def test_api_replay_and_resolve(staff, api_client_for):
    pytest.importorskip("modelmarket.billing.services.webhooks")
    event = stored_event({"event": "SOMETHING_ELSE"}, status=WebhookStatus.FAILED)
    client = api_client_for(staff)
    response = client.post(f"/api/v1/staff/webhook-events/{event.pk}/replay")
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"

    parked = payment("tx_parked", match=PaymentMatch.UNMATCHED, reason="No order")
    response = client.post(
        f"/api/v1/staff/payments/{parked.public_id}/resolve",
        data=json.dumps({"note": "Test payment"}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["match"] == "resolved"

    other = api_client_for(make_user("buyer"))
    assert other.post(f"/api/v1/staff/webhook-events/{event.pk}/replay").status_code == 404
    assert (
        other.post(
            f"/api/v1/staff/payments/{parked.public_id}/resolve",
            data=json.dumps({"note": "x"}),
            content_type="application/json",
        ).status_code
        == 404
    )

"""Billing in the admin is for looking: every list renders with data, and nothing can be added, changed or deleted."""

from __future__ import annotations

import pytest
from django.test import Client

from modelmarket.billing.tests.factories import make_order

pytestmark = pytest.mark.django_db

PAGES = [
    "currency",
    "plan",
    "order",
    "payment",
    "webhookevent",
    "entitlement",
    "ledgeraccount",
    "ledgertransaction",
    "invoice",
    "refund",
    "payout",
]


@pytest.fixture
def staff_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("page", PAGES)
def test_billing_admin_lists_render_and_are_read_only(staff_client, page):
    make_order()
    response = staff_client.get(f"/admin/billing/{page}/")
    assert response.status_code == 200
    assert staff_client.get(f"/admin/billing/{page}/add/").status_code == 403


def test_an_order_cannot_be_changed_in_the_admin(staff_client):
    order = make_order()
    response = staff_client.post(f"/admin/billing/order/{order.pk}/change/", {"status": "paid"})
    order.refresh_from_db()
    assert response.status_code == 403
    assert order.status == "pending"

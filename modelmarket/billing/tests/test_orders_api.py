"""The orders API: create (plan or top-up, Idempotency-Key replay and reuse), list, read, cancel, resume — with the
error envelope and status for every refusal, and nothing written when refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.gateways.sandbox import SandboxGateway
from modelmarket.billing.models import Order, OrderStatus, PlanKind
from modelmarket.billing.services.plans import plan_archive
from modelmarket.billing.tests.factories import make_order, make_plan, published_model
from modelmarket.core.exceptions import UpstreamError

pytestmark = pytest.mark.django_db

JSON = "application/json"


@pytest.fixture(autouse=True)
def _sandbox(settings):
    settings.PAYMENT_GATEWAY = "sandbox"
    settings.SITE_URL = "http://127.0.0.1:8000"


@pytest.fixture
def api(buyer, api_client_for):
    return api_client_for(buyer)


def _error(response) -> str:
    return response.json()["error"]["code"]


def test_creating_a_plan_order_answers_201_with_the_order(api, buyer):
    plan = make_plan(name="Lifetime", price_minor=12_500_000)

    response = api.post("/api/v1/orders", {"plan": plan.public_id}, content_type=JSON)

    assert response.status_code == 201
    order = Order.objects.get()
    body = response.json()
    assert body == {
        "id": order.public_id,
        "status": "pending",
        "kind": "plan",
        "plan": plan.public_id,
        "plan_name": "Lifetime",
        "model": plan.model.slug,
        "currency": "USDC",
        "amount_minor": 12_500_000,
        "amount": "12.50 USDC",
        "checkout_url": f"http://127.0.0.1:8000/billing/sandbox/pay/{order.public_id}",
        "failure_reason": None,
        "expires_at": body["expires_at"],
        "created_at": body["created_at"],
        "paid_at": None,
    }
    assert order.buyer == buyer


def test_creating_a_top_up_order_parses_the_decimal_amount(api):
    response = api.post(
        "/api/v1/orders", {"top_up": {"currency": "USDC", "amount": "25.00"}}, content_type=JSON
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["plan"], body["model"]) == ("top_up", None, None)
    assert (body["currency"], body["amount_minor"], body["amount"]) == ("USDC", 25_000_000, "25.00 USDC")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"plan": "plan_doesnotexist"}, 404, "plan_not_found"),
        ({"top_up": {"currency": "USDC", "amount": "0.0000001"}}, 422, "amount_precision"),
        ({"top_up": {"currency": "USDC", "amount": "-1"}}, 422, "negative_amount"),
        ({"top_up": {"currency": "USDC", "amount": "0"}}, 422, "invalid_amount"),
        ({"top_up": {"currency": "USDC", "amount": "1e9"}}, 422, "amount_too_large"),
        ({"top_up": {"currency": "DOGE", "amount": "1"}}, 422, "unknown_currency"),
        ({"top_up": {"currency": "USDC", "amount": 25.5}}, 422, "validation_error"),
        ({"top_up": {"currency": "USDC"}}, 422, "validation_error"),
        ({"plan": "plan_x", "surprise": 1}, 422, "validation_error"),
        ({}, 400, "invalid_order"),
    ],
)
def test_bad_bodies_are_refused_with_a_code_and_nothing_is_written(api, body, status, code):
    response = api.post("/api/v1/orders", body, content_type=JSON)
    assert response.status_code == status
    assert _error(response) == code
    assert not Order.objects.exists()


def test_both_a_plan_and_a_top_up_is_a_bad_request(api):
    plan = make_plan()
    response = api.post(
        "/api/v1/orders",
        {"plan": plan.public_id, "top_up": {"currency": "USDC", "amount": "1"}},
        content_type=JSON,
    )
    assert response.status_code == 400
    assert _error(response) == "invalid_order"
    assert not Order.objects.exists()


def test_malformed_json_is_a_400(api):
    response = api.post("/api/v1/orders", "{not json", content_type=JSON)
    assert response.status_code == 400
    assert _error(response) == "malformed_json"


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda buyer: plan_archive(plan=make_plan()), 409, "plan_archived"),
        (lambda buyer: make_plan(kind=PlanKind.FREE, name="Free"), 400, "plan_not_purchasable"),
        (lambda buyer: make_plan(kind=PlanKind.PAY_AS_YOU_GO, name="Metered"), 400, "plan_not_purchasable"),
        (lambda buyer: make_plan(model=published_model(owner=buyer)), 409, "own_model"),
    ],
)
def test_plans_that_cannot_be_bought_are_refused(creator, api_client_for, make, status, code):
    plan = make(creator)
    response = api_client_for(creator).post("/api/v1/orders", {"plan": plan.public_id}, content_type=JSON)
    assert response.status_code == status
    assert _error(response) == code
    assert not Order.objects.exists()


def test_the_same_idempotency_key_replays_the_first_response(api):
    plan = make_plan()
    first = api.post(
        "/api/v1/orders", {"plan": plan.public_id}, content_type=JSON, HTTP_IDEMPOTENCY_KEY="abc"
    )
    again = api.post(
        "/api/v1/orders", {"plan": plan.public_id}, content_type=JSON, HTTP_IDEMPOTENCY_KEY="abc"
    )

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
    assert Order.objects.get().idempotency_key == "abc"


def test_the_same_idempotency_key_with_another_body_is_a_conflict(api):
    plan = make_plan()
    api.post("/api/v1/orders", {"plan": plan.public_id}, content_type=JSON, HTTP_IDEMPOTENCY_KEY="abc")
    response = api.post(
        "/api/v1/orders",
        {"top_up": {"currency": "USDC", "amount": "5"}},
        content_type=JSON,
        HTTP_IDEMPOTENCY_KEY="abc",
    )
    assert response.status_code == 409
    assert _error(response) == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_a_gateway_failure_is_a_502_and_the_order_is_failed(api, monkeypatch):
    def refuse(self, order):
        raise UpstreamError("Helio answered HTTP 503: Service Unavailable", code="upstream_unavailable")

    monkeypatch.setattr(SandboxGateway, "checkout_create", refuse)
    response = api.post("/api/v1/orders", {"top_up": {"currency": "USDC", "amount": "5"}}, content_type=JSON)

    order = Order.objects.get()
    assert response.status_code == 502
    assert response.json()["error"] == {
        "code": "upstream_unavailable",
        "message": "The payment provider could not open the checkout: Helio answered HTTP 503: Service Unavailable",
        "details": {"order": order.public_id},
    }
    assert order.status == OrderStatus.FAILED


def test_a_read_only_key_cannot_create_orders(buyer, api_client_for):
    response = api_client_for(buyer, scopes=("read",)).post(
        "/api/v1/orders", {"plan": make_plan().public_id}, content_type=JSON
    )
    assert response.status_code == 403
    assert _error(response) == "insufficient_scope"
    assert not Order.objects.exists()


def test_anonymous_callers_get_401(client):
    response = client.post("/api/v1/orders", {"plan": "plan_x"}, content_type=JSON)
    assert response.status_code == 401
    assert client.get("/api/v1/orders").status_code == 401


def test_a_browser_session_can_order_with_csrf(buyer):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(buyer)
    plan = make_plan()
    refused = browser.post("/api/v1/orders", {"plan": plan.public_id}, content_type=JSON)
    assert refused.status_code == 403
    assert not Order.objects.exists()

    browser.get("/account/orders/")  # sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/api/v1/orders", {"plan": plan.public_id}, content_type=JSON, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 201


def test_the_list_shows_only_my_orders_newest_first_with_cursor_pages(api, buyer):
    now = timezone.now()
    mine = [make_order(buyer=buyer) for _ in range(3)]
    for index, order in enumerate(mine):
        Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(minutes=10 - index))
    make_order()  # someone else's

    first = api.get("/api/v1/orders?limit=2")
    assert first.status_code == 200
    page = first.json()
    assert [item["id"] for item in page["items"]] == [mine[2].public_id, mine[1].public_id]
    assert page["next_cursor"]
    assert 'rel="next"' in first["Link"]
    second = api.get(f"/api/v1/orders?limit=2&cursor={page['next_cursor']}").json()
    assert [item["id"] for item in second["items"]] == [mine[0].public_id]
    assert second["next_cursor"] is None


def test_the_list_filters_by_status_and_refuses_a_bad_cursor(api, buyer):
    paid = make_order(buyer=buyer, status=OrderStatus.PAID)
    make_order(buyer=buyer)
    assert [item["id"] for item in api.get("/api/v1/orders?status=paid").json()["items"]] == [paid.public_id]
    assert api.get("/api/v1/orders?status=lost").status_code == 422
    response = api.get("/api/v1/orders?cursor=garbage")
    assert response.status_code == 400
    assert _error(response) == "invalid_cursor"


def test_reading_an_order_and_someone_elses_is_404(api, buyer):
    mine, theirs = make_order(buyer=buyer), make_order()

    response = api.get(f"/api/v1/orders/{mine.public_id}")
    assert response.status_code == 200
    assert response.json()["id"] == mine.public_id

    response = api.get(f"/api/v1/orders/{theirs.public_id}")
    assert response.status_code == 404
    assert _error(response) == "order_not_found"
    assert api.get("/api/v1/orders/ord_nope").status_code == 404


def test_cancelling_a_pending_order_and_a_paid_one(api, buyer):
    pending, paid = make_order(buyer=buyer), make_order(buyer=buyer, status=OrderStatus.PAID)

    response = api.post(f"/api/v1/orders/{pending.public_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"

    response = api.post(f"/api/v1/orders/{paid.public_id}/cancel")
    assert response.status_code == 409
    assert _error(response) == "order_not_pending"
    paid.refresh_from_db()
    assert paid.status == OrderStatus.PAID


def test_cancelling_someone_elses_order_is_404_and_changes_nothing(api):
    theirs = make_order()
    assert api.post(f"/api/v1/orders/{theirs.public_id}/cancel").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == OrderStatus.PENDING


def test_resuming_gives_the_checkout_url_until_the_order_expires(api, buyer):
    order = make_order(buyer=buyer, checkout_url="http://127.0.0.1:8000/billing/sandbox/pay/x")
    response = api.post(f"/api/v1/orders/{order.public_id}/resume")
    assert response.status_code == 200
    assert response.json() == {"checkout_url": "http://127.0.0.1:8000/billing/sandbox/pay/x"}

    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api.post(f"/api/v1/orders/{order.public_id}/resume")
    assert response.status_code == 409
    assert _error(response) == "order_expired"


def test_every_outcome_is_declared_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").json()
    create = document["paths"]["/api/v1/orders"]["post"]["responses"]
    assert {"201", "400", "401", "403", "404", "409", "422", "502"} <= set(create)
    assert {"200", "404", "409"} <= set(
        document["paths"]["/api/v1/orders/{order_id}/cancel"]["post"]["responses"]
    )
    assert {"200", "404"} <= set(document["paths"]["/api/v1/orders/{order_id}"]["get"]["responses"])


def test_another_buyer_cannot_see_my_order_in_their_list(api_client_for, buyer):
    make_order(buyer=buyer)
    other = make_user("buyer")
    assert api_client_for(other).get("/api/v1/orders").json()["items"] == []

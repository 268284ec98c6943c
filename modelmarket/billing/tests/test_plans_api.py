"""Plans API: GET/POST /models/{slug}/plans, PATCH/DELETE /models/{slug}/plans/{plan_id}, and the catalog's pricing
filter that follows a listing's plans."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from modelmarket.accounts.models import User
from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.models import Plan, PlanKind
from modelmarket.billing.services.plans import MAX_ACTIVE_PLANS
from modelmarket.billing.tests.factories import make_plan, published_model
from modelmarket.catalog.models import AIModel
from modelmarket.catalog.services import models as catalog_services

pytestmark = pytest.mark.django_db

ONE_TIME = {"name": "Lifetime", "kind": "one_time", "currency": "USDC", "price": "10.5"}


def post(client: Client, path: str, body: dict[str, Any], **headers: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


def patch(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.patch(path, data=json.dumps(body), content_type="application/json")


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


def draft_model(owner: User, name: str = "Draft Model") -> AIModel:
    return catalog_services.model_create(actor=owner, name=name, task="tabular-regression", license="mit")


# --- Reading ------------------------------------------------------------------------------------------------------
def test_anyone_reads_a_public_models_active_plans_in_position_order(creator, client):
    model = published_model(creator)
    monthly = make_plan(
        model,
        name="Monthly",
        kind=PlanKind.SUBSCRIPTION,
        price_minor=5_000_000,
        interval="month",
        request_quota=1000,
        requests_per_minute=60,
        position=2,
    )
    lifetime = make_plan(model, name="Lifetime", position=1)
    archived = make_plan(model, name="Old", position=0)
    client_for_owner = Client()
    client_for_owner.force_login(creator)
    patch_archive = client_for_owner.delete(f"/api/v1/models/{model.slug}/plans/{archived.public_id}")
    assert patch_archive.status_code == 204

    response = client.get(f"/api/v1/models/{model.slug}/plans")

    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["id"] for item in items] == [lifetime.public_id, monthly.public_id]
    assert items[1] == {
        "id": monthly.public_id,
        "name": "Monthly",
        "description": "",
        "terms": "5.00 USDC / month",
        "kind": "subscription",
        "currency": "USDC",
        "price_minor": 5_000_000,
        "price": "5.00",
        "interval": "month",
        "pass_duration": "",
        "rates": {
            "per_request": "0",
            "per_1k_input_tokens": "0",
            "per_1k_output_tokens": "0",
            "per_compute_second": "0",
        },
        "limits": {
            "requests_per_minute": 60,
            "request_quota": 1000,
            "token_quota": None,
            "quota_period": "month",
        },
        "quotas": ["1,000 requests / month", "60 requests / minute"],
        "is_active": True,
        "archived_at": None,
    }


def test_the_owner_sees_archived_plans_only_when_asking(creator, client):
    model = published_model(creator)
    kept, gone = make_plan(model, name="Kept"), make_plan(model, name="Gone")
    owner = Client()
    owner.force_login(creator)
    owner.delete(f"/api/v1/models/{model.slug}/plans/{gone.public_id}")

    mine = owner.get(f"/api/v1/models/{model.slug}/plans?include_archived=true").json()["items"]
    default = owner.get(f"/api/v1/models/{model.slug}/plans").json()["items"]
    public = client.get(f"/api/v1/models/{model.slug}/plans?include_archived=true").json()["items"]

    assert [(item["id"], item["is_active"]) for item in mine] == [
        (kept.public_id, True),
        (gone.public_id, False),
    ]
    assert mine[1]["archived_at"] is not None
    assert [item["id"] for item in default] == [kept.public_id]
    assert [item["id"] for item in public] == [kept.public_id]


def test_plans_of_a_draft_are_404_for_others_and_visible_to_the_owner(creator, client, buyer):
    model = draft_model(creator)
    make_plan(model, name="Early bird")
    owner = Client()
    owner.force_login(creator)
    other = Client()
    other.force_login(buyer)

    assert client.get(f"/api/v1/models/{model.slug}/plans").status_code == 404
    assert other.get(f"/api/v1/models/{model.slug}/plans").status_code == 404
    assert [item["name"] for item in owner.get(f"/api/v1/models/{model.slug}/plans").json()["items"]] == [
        "Early bird"
    ]
    assert error_code(client.get("/api/v1/models/no-such-model/plans")) == "model_not_found"


# --- Creating -----------------------------------------------------------------------------------------------------
def test_owner_creates_a_one_time_plan_priced_in_whole_units(creator, api_client_for):
    model = published_model(creator)

    response = post(api_client_for(creator), f"/api/v1/models/{model.slug}/plans", ONE_TIME)

    assert response.status_code == 201
    body = response.json()
    plan = Plan.objects.get(public_id=body["id"])
    assert (plan.kind, plan.currency_id, plan.price_minor) == ("one_time", "USDC", 10_500_000)
    assert (body["price_minor"], body["price"], body["terms"]) == (
        10_500_000,
        "10.50",
        "10.50 USDC once, lifetime access",
    )
    model.refresh_from_db()
    assert model.pricing == "paid"


def test_price_minor_may_be_sent_instead_of_price(creator, api_client_for):
    model = published_model(creator)
    body = {
        "name": "Day pass",
        "kind": "time_pass",
        "currency": "SOL",
        "price_minor": 250_000_000,
        "pass_duration": "day",
    }

    response = post(api_client_for(creator), f"/api/v1/models/{model.slug}/plans", body)

    assert response.status_code == 201
    assert (response.json()["price"], response.json()["terms"]) == ("0.25", "0.25 SOL per day pass")


def test_pay_as_you_go_rates_are_converted_to_minor_units_exactly(creator, api_client_for):
    model = published_model(creator)
    body = {
        "name": "Metered",
        "kind": "payg",
        "currency": "USDC",
        "rates": {
            "per_request": "0.001",
            "per_1k_output_tokens": "0.5",
            "per_compute_second": "0.000000000000000001",
        },
        "request_quota": 1000,
        "token_quota": 2_000_000,
        "quota_period": "day",
    }

    response = post(api_client_for(creator), f"/api/v1/models/{model.slug}/plans", body)

    assert response.status_code == 201
    plan = Plan.objects.get(public_id=response.json()["id"])
    assert plan.price_per_request == Decimal(1000)
    assert plan.price_per_1k_output_tokens == Decimal(500_000)
    assert plan.price_per_1k_input_tokens == Decimal(0)
    assert plan.price_per_compute_second == Decimal("0.000000000001")
    assert response.json()["rates"] == {
        "per_request": "0.001",
        "per_1k_input_tokens": "0",
        "per_1k_output_tokens": "0.5",
        "per_compute_second": "0.000000000000000001",
    }
    assert response.json()["terms"] == (
        "0.001 USDC per request + 0.5 USDC per 1k output tokens + 0.000000000000000001 USDC per compute second"
    )
    assert response.json()["quotas"] == ["1,000 requests / day", "2,000,000 tokens / day"]


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"price": "10.0000001"}, 400, "amount_precision"),
        ({"price": "-1"}, 400, "negative_amount"),
        ({"price": "ten"}, 400, "invalid_amount"),
        ({"price": None, "price_minor": -5}, 400, "negative_amount"),
        ({"price": "0"}, 400, "price_required"),
        ({"price_minor": 10}, 400, "price_conflict"),
        ({"currency": "XYZ"}, 400, "unknown_currency"),
        ({"kind": "lifetime"}, 400, "invalid_plan_kind"),
        ({"kind": "subscription", "interval": "week"}, 400, "invalid_interval"),
        ({"kind": "time_pass", "pass_duration": "month"}, 400, "invalid_pass_duration"),
        ({"rates": {"per_request": "0.001"}}, 400, "rate_not_allowed"),
        ({"name": ""}, 400, "invalid_plan_name"),
        ({"request_quota": 0}, 400, "invalid_limit"),
        ({"quota_period": "week"}, 400, "invalid_quota_period"),
        ({"kind": "free", "price": "1"}, 400, "price_not_allowed"),
        ({"kind": "payg", "price": None}, 400, "rate_required"),
        ({"kind": "payg", "price": None, "rates": {"per_request": "-0.1"}}, 400, "invalid_rate"),
        # USDC has 6 decimals: twelve places of a minor unit is 18 places of a whole one; 19 is too fine.
        (
            {"kind": "payg", "price": None, "rates": {"per_request": "0.0000000000000000001"}},
            400,
            "invalid_rate",
        ),
        ({"kind": "payg", "price": None, "rates": {"per_request": "NaN"}}, 400, "invalid_rate"),
        ({"unknown_field": 1}, 422, "validation_error"),
        ({"price": 10.5}, 422, "validation_error"),
    ],
)
def test_bad_terms_are_refused_with_a_code_and_nothing_is_written(
    creator, api_client_for, changes, status, code
):
    model = published_model(creator)
    body = {key: value for key, value in {**ONE_TIME, **changes}.items() if value is not None}

    response = post(api_client_for(creator), f"/api/v1/models/{model.slug}/plans", body)

    assert (response.status_code, error_code(response)) == (status, code)
    assert not Plan.objects.filter(model=model).exists()
    model.refresh_from_db()
    assert model.pricing == "free"


def test_a_model_offers_at_most_ten_plans(creator, api_client_for):
    model = published_model(creator)
    for number in range(MAX_ACTIVE_PLANS):
        make_plan(model, name=f"Plan {number}")

    response = post(api_client_for(creator), f"/api/v1/models/{model.slug}/plans", ONE_TIME)

    assert (response.status_code, error_code(response)) == (409, "too_many_plans")
    assert Plan.objects.filter(model=model).count() == MAX_ACTIVE_PLANS


def test_only_the_owner_creates_plans(creator, api_client_for, client, buyer):
    public = published_model(creator)
    draft = draft_model(creator)
    other_creator = make_user("creator")
    outsider = api_client_for(other_creator)

    forbidden = post(outsider, f"/api/v1/models/{public.slug}/plans", ONE_TIME)
    hidden = post(outsider, f"/api/v1/models/{draft.slug}/plans", ONE_TIME)
    anonymous = post(client, f"/api/v1/models/{public.slug}/plans", ONE_TIME)
    read_only = post(
        api_client_for(creator, scopes=("read",)), f"/api/v1/models/{public.slug}/plans", ONE_TIME
    )

    assert (forbidden.status_code, error_code(forbidden)) == (403, "not_model_owner")
    assert (hidden.status_code, error_code(hidden)) == (404, "model_not_found")
    assert anonymous.status_code == 401
    assert (read_only.status_code, error_code(read_only)) == (403, "insufficient_scope")
    assert not Plan.objects.exists()


def test_catalog_staff_may_create_plans_on_any_listing(creator, moderator, api_client_for):
    model = published_model(creator)

    response = post(api_client_for(moderator), f"/api/v1/models/{model.slug}/plans", ONE_TIME)

    assert response.status_code == 201


def test_an_idempotency_key_creates_the_plan_once(creator, api_client_for):
    model = published_model(creator)
    api = api_client_for(creator)

    first = post(api, f"/api/v1/models/{model.slug}/plans", ONE_TIME, HTTP_IDEMPOTENCY_KEY="plan-1")
    again = post(api, f"/api/v1/models/{model.slug}/plans", ONE_TIME, HTTP_IDEMPOTENCY_KEY="plan-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Plan.objects.filter(model=model).count() == 1


# --- Changing and archiving ---------------------------------------------------------------------------------------
def test_owner_changes_price_and_limits_and_clears_a_limit(creator, api_client_for):
    model = published_model(creator)
    plan = make_plan(model, requests_per_minute=30, request_quota=100)
    api = api_client_for(creator)

    response = patch(
        api,
        f"/api/v1/models/{model.slug}/plans/{plan.public_id}",
        {"price": "12", "requests_per_minute": None, "token_quota": 5000, "name": "Forever"},
    )

    assert response.status_code == 200
    plan.refresh_from_db()
    assert (plan.name, plan.price_minor, plan.requests_per_minute, plan.request_quota, plan.token_quota) == (
        "Forever",
        12_000_000,
        None,
        100,
        5000,
    )
    assert response.json()["price"] == "12.00"


def test_changing_rates_of_a_pay_as_you_go_plan(creator, api_client_for):
    model = published_model(creator)
    plan = make_plan(model, name="Metered", kind=PlanKind.PAY_AS_YOU_GO, price_per_request=1000)

    response = patch(
        api_client_for(creator),
        f"/api/v1/models/{model.slug}/plans/{plan.public_id}",
        {"rates": {"per_1k_input_tokens": "0.25"}},
    )

    assert response.status_code == 200
    plan.refresh_from_db()
    assert (plan.price_per_request, plan.price_per_1k_input_tokens) == (Decimal(1000), Decimal(250_000))


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "subscription", "interval": "month"}, 409, "plan_terms_locked"),
        ({"currency": "SOL"}, 409, "plan_terms_locked"),
        ({"price": "1.1234567"}, 400, "amount_precision"),
        ({"rates": {"per_request": "1"}}, 400, "rate_not_allowed"),
    ],
)
def test_bad_changes_are_refused_and_nothing_changes(creator, api_client_for, body, status, code):
    model = published_model(creator)
    plan = make_plan(model)

    response = patch(api_client_for(creator), f"/api/v1/models/{model.slug}/plans/{plan.public_id}", body)

    assert (response.status_code, error_code(response)) == (status, code)
    plan.refresh_from_db()
    assert (plan.kind, plan.currency_id, plan.price_minor) == ("one_time", "USDC", 10_000_000)


def test_a_plan_is_only_reachable_through_its_own_model(creator, api_client_for):
    model, other_model = published_model(creator), published_model(creator, name="Another")
    plan = make_plan(other_model)
    api = api_client_for(creator)

    changed = patch(api, f"/api/v1/models/{model.slug}/plans/{plan.public_id}", {"name": "Hijack"})
    archived = api.delete(f"/api/v1/models/{model.slug}/plans/{plan.public_id}")

    assert (changed.status_code, error_code(changed)) == (404, "plan_not_found")
    assert (archived.status_code, error_code(archived)) == (404, "plan_not_found")
    plan.refresh_from_db()
    assert (plan.name, plan.is_active) == ("Lifetime", True)


def test_others_cannot_change_or_archive_a_plan(creator, api_client_for):
    model = published_model(creator)
    plan = make_plan(model)
    outsider = api_client_for(make_user("creator"))

    changed = patch(outsider, f"/api/v1/models/{model.slug}/plans/{plan.public_id}", {"name": "Mine"})
    archived = outsider.delete(f"/api/v1/models/{model.slug}/plans/{plan.public_id}")

    assert (changed.status_code, archived.status_code) == (403, 403)
    plan.refresh_from_db()
    assert (plan.name, plan.is_active) == ("Lifetime", True)


def test_archiving_stops_selling_and_cannot_be_changed_afterwards(creator, api_client_for):
    model = published_model(creator)
    plan = make_plan(model)
    api = api_client_for(creator)

    first = api.delete(f"/api/v1/models/{model.slug}/plans/{plan.public_id}")
    again = api.delete(f"/api/v1/models/{model.slug}/plans/{plan.public_id}")
    changed = patch(api, f"/api/v1/models/{model.slug}/plans/{plan.public_id}", {"name": "Back"})

    assert (first.status_code, again.status_code) == (204, 204)
    assert (changed.status_code, error_code(changed)) == (409, "plan_archived")
    plan.refresh_from_db()
    assert (plan.is_active, plan.name) == (False, "Lifetime")
    assert plan.archived_at is not None


# --- The catalog's pricing filter ---------------------------------------------------------------------------------
def catalog_slugs(client: Client, pricing: str) -> list[str]:
    response = client.get(f"/api/v1/models?pricing={pricing}")
    assert response.status_code == 200
    return [item["slug"] for item in response.json()["items"]]


def test_a_model_with_only_a_paid_plan_is_listed_as_paid_until_the_plan_is_archived(
    creator, client, api_client_for
):
    model = published_model(creator)
    api = api_client_for(creator)
    assert model.slug in catalog_slugs(client, "free")

    created = post(api, f"/api/v1/models/{model.slug}/plans", ONE_TIME)

    assert created.status_code == 201
    assert model.slug in catalog_slugs(client, "paid")
    assert model.slug not in catalog_slugs(client, "free")
    assert client.get(f"/api/v1/models/{model.slug}").json()["pricing"] == "paid"

    archived = api.delete(f"/api/v1/models/{model.slug}/plans/{created.json()['id']}")

    assert archived.status_code == 204
    assert model.slug in catalog_slugs(client, "free")
    assert model.slug not in catalog_slugs(client, "paid")


def test_a_free_plan_beside_a_paid_one_keeps_the_model_free(creator, client, api_client_for):
    model = published_model(creator)
    api = api_client_for(creator)
    post(api, f"/api/v1/models/{model.slug}/plans", ONE_TIME)

    response = post(
        api, f"/api/v1/models/{model.slug}/plans", {"name": "Starter", "kind": "free", "request_quota": 100}
    )

    assert response.status_code == 201
    assert model.slug in catalog_slugs(client, "free")
    assert model.slug not in catalog_slugs(client, "paid")


def test_the_openapi_document_describes_plans_and_wallet(db):
    from config.api import api

    paths = api.get_openapi_schema()["paths"]

    assert set(paths["/api/v1/models/{slug}/plans"]) == {"get", "post"}
    assert set(paths["/api/v1/models/{slug}/plans/{plan_id}"]) == {"patch", "delete"}
    assert "get" in paths["/api/v1/wallet"]
    assert "get" in paths["/api/v1/wallet/entries"]

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from modelmarket.accounts.services import api_key_create
from modelmarket.accounts.tests.factories import make_user
from modelmarket.catalog.vocabulary import ModelStatus
from modelmarket.usage.events import UsageStatus
from modelmarket.usage.services.record import usage_events_record
from modelmarket.usage.tests.factories import AIModelFactory, usage_record

pytestmark = pytest.mark.django_db
URL = "/api/v1/usage/stats"
T0 = datetime(2026, 5, 10, 8, 0, tzinfo=UTC)


def _zero_counts():
    return {
        "requests": 0,
        "succeeded": 0,
        "errors": 0,
        "rejected": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "compute_ms": 0,
    }


def test_hourly_series_has_every_hour_with_costs_per_currency(buyer, api_client_for):
    model = AIModelFactory()
    key, _ = api_key_create(user=buyer, name="k", scopes=["inference"])
    usage_events_record(
        records=[
            usage_record(
                model, started_at=T0 + timedelta(minutes=5), user_id=buyer.pk, api_key_id=key.pk, cost_minor=3
            ),
            usage_record(model, started_at=T0 + timedelta(minutes=9), user_id=buyer.pk, cost_minor=4),
            usage_record(
                model,
                started_at=T0 + timedelta(hours=2),
                user_id=buyer.pk,
                status=UsageStatus.UPSTREAM_ERROR,
                cost_minor=1000,
                currency="USDC",
            ),
        ]
    )

    response = api_client_for(buyer).get(
        URL, {"granularity": "hour", "since": "2026-05-10T08:00:00Z", "until": "2026-05-10T11:00:00Z"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["granularity"], body["since"], body["until"], body["model"], body["key"]) == (
        "hour",
        "2026-05-10T08:00:00Z",
        "2026-05-10T11:00:00Z",
        None,
        None,
    )
    assert [point["start"] for point in body["points"]] == [
        "2026-05-10T08:00:00Z",
        "2026-05-10T09:00:00Z",
        "2026-05-10T10:00:00Z",
    ]
    first, empty, last = body["points"]
    assert first == {
        "start": "2026-05-10T08:00:00Z",
        **_zero_counts(),
        "requests": 2,
        "succeeded": 2,
        "input_tokens": 20,
        "output_tokens": 40,
        "costs": [{"amount_minor": 7, "currency": "USD"}],
    }
    assert empty == {"start": "2026-05-10T09:00:00Z", **_zero_counts(), "costs": []}
    assert (last["requests"], last["errors"], last["costs"]) == (
        1,
        1,
        [{"amount_minor": 1000, "currency": "USDC"}],
    )
    assert body["totals"]["requests"] == 3
    assert body["totals"]["costs"] == [
        {"amount_minor": 7, "currency": "USD"},
        {"amount_minor": 1000, "currency": "USDC"},
    ]


def test_daily_series_filtered_by_model_and_key(buyer, api_client_for):
    wanted, other = AIModelFactory(), AIModelFactory()
    key, _ = api_key_create(user=buyer, name="k", scopes=["inference"])
    usage_events_record(
        records=[
            usage_record(wanted, started_at=T0, user_id=buyer.pk, api_key_id=key.pk),
            usage_record(wanted, started_at=T0 + timedelta(days=1), user_id=buyer.pk, api_key_id=key.pk),
            usage_record(wanted, started_at=T0, user_id=buyer.pk),  # playground: no key
            usage_record(other, started_at=T0, user_id=buyer.pk, api_key_id=key.pk),
        ]
    )
    client = api_client_for(buyer)
    params = {"since": "2026-05-10", "until": "2026-05-12"}

    by_key = client.get(URL, {**params, "model": wanted.slug, "key": key.pk}).json()
    without_key = client.get(URL, {**params, "model": wanted.slug, "key": 0}).json()
    everything = client.get(URL, params).json()

    assert (by_key["model"], by_key["key"]) == (wanted.slug, key.pk)
    assert [(p["start"], p["requests"]) for p in by_key["points"]] == [
        ("2026-05-10T00:00:00Z", 1),
        ("2026-05-11T00:00:00Z", 1),
    ]
    assert [p["requests"] for p in without_key["points"]] == [1, 0]
    assert [p["requests"] for p in everything["points"]] == [3, 1]


def test_the_default_range_ends_with_the_current_bucket(buyer, api_client_for):
    body = api_client_for(buyer).get(URL, {"granularity": "hour"}).json()
    assert len(body["points"]) == 24
    body = api_client_for(buyer).get(URL).json()
    assert body["granularity"] == "day"
    assert len(body["points"]) == 30


def test_others_usage_is_invisible(buyer, api_client_for):
    model = AIModelFactory()
    stranger = make_user()
    usage_events_record(records=[usage_record(model, started_at=T0, user_id=stranger.pk)])
    body = api_client_for(buyer).get(URL, {"since": "2026-05-10", "until": "2026-05-11"}).json()
    assert body["totals"]["requests"] == 0


def test_filtering_by_someone_elses_key_is_not_found(buyer, api_client_for):
    strangers_key, _ = api_key_create(user=make_user(), name="theirs", scopes=["read"])
    response = api_client_for(buyer).get(URL, {"key": strangers_key.pk})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "api_key_not_found"


def test_filtering_by_a_model_the_caller_cannot_see_is_not_found(buyer, api_client_for):
    draft = AIModelFactory(status=ModelStatus.DRAFT, published_at=None)
    for slug in (draft.slug, "no-such-model"):
        response = api_client_for(buyer).get(URL, {"model": slug})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "model_not_found"


def test_a_model_taken_down_since_stays_filterable_by_those_who_used_it(buyer, api_client_for):
    model = AIModelFactory()
    usage_events_record(records=[usage_record(model, started_at=T0, user_id=buyer.pk)])
    model.status = ModelStatus.DRAFT
    model.save(update_fields=["status"])
    response = api_client_for(buyer).get(
        URL, {"model": model.slug, "since": "2026-05-10", "until": "2026-05-11"}
    )
    assert response.status_code == 200
    assert response.json()["totals"]["requests"] == 1


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"granularity": "week"}, "invalid_granularity"),
        ({"since": "last tuesday"}, "invalid_timestamp"),
        ({"until": "2026-13-45"}, "invalid_timestamp"),
        ({"since": "2026-05-10", "until": "2026-05-10"}, "invalid_range"),
        ({"since": "2026-05-11", "until": "2026-05-10"}, "invalid_range"),
        ({"granularity": "hour", "since": "2026-05-01", "until": "2026-05-20"}, "range_too_large"),
        ({"since": "2025-01-01", "until": "2026-05-20"}, "range_too_large"),
    ],
)
def test_bad_parameters_are_400_with_a_stable_code(buyer, api_client_for, params, code):
    response = api_client_for(buyer).get(URL, params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_reading_needs_a_key_with_the_read_scope_or_a_session(buyer, api_client_for, client):
    assert api_client_for(buyer, scopes=("inference",)).get(URL).status_code == 403
    assert client.get(URL).status_code == 401
    client.force_login(buyer)
    assert client.get(URL).status_code == 200


def test_the_series_costs_the_same_queries_whatever_the_data(
    buyer, api_client_for, django_assert_num_queries
):
    client = api_client_for(buyer)
    key, _ = api_key_create(user=buyer, name="k", scopes=["inference"])
    params = {"granularity": "hour", "since": "2026-05-10T00:00:00Z", "until": "2026-05-11T00:00:00Z"}
    client.get(URL, params)  # the key's first use writes last_used_at; measure from the second request on
    with CaptureQueriesContext(connection) as empty:
        client.get(URL, params)
    models = [AIModelFactory() for _ in range(4)]
    usage_events_record(
        records=[
            usage_record(
                models[n % 4],
                started_at=T0 + timedelta(hours=n % 12),
                user_id=buyer.pk,
                api_key_id=key.pk,
                event_id=str(n),
            )
            for n in range(100)
        ]
    )
    with django_assert_num_queries(len(empty)):
        assert client.get(URL, params).json()["totals"]["requests"] == 100

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from modelmarket.accounts.tests.factories import make_user
from modelmarket.usage.events import UsageStatus
from modelmarket.usage.selectors import month_bounds
from modelmarket.usage.services.record import usage_events_record
from modelmarket.usage.tests.factories import AIModelFactory, usage_record

pytestmark = pytest.mark.django_db
URL = "/api/v1/usage/summary"


def _this_month_start() -> datetime:
    now = timezone.now().astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def test_totals_per_model_for_the_current_month(buyer, api_client_for, settings):
    settings.GATEWAY_FREE_REQUESTS_PER_DAY = settings.GATEWAY_FREE_TOKENS_PER_DAY = (
        0  # no quota on free listings
    )
    busy, quiet = AIModelFactory(slug="busy"), AIModelFactory(slug="quiet")
    start = _this_month_start()
    usage_events_record(
        records=[
            usage_record(busy, started_at=start, user_id=buyer.pk, cost_minor=10, event_id="1"),
            usage_record(
                busy, started_at=start + timedelta(minutes=1), user_id=buyer.pk, cost_minor=15, event_id="2"
            ),
            usage_record(
                busy,
                started_at=start,
                user_id=buyer.pk,
                status=UsageStatus.REJECTED,
                input_tokens=0,
                output_tokens=0,
                event_id="3",
            ),
            usage_record(
                quiet, started_at=start, user_id=buyer.pk, input_tokens=1, output_tokens=2, event_id="4"
            ),
            # last month: not this period
            usage_record(quiet, started_at=start - timedelta(seconds=1), user_id=buyer.pk, event_id="5"),
        ]
    )

    response = api_client_for(buyer).get(URL)

    assert response.status_code == 200, response.content
    body = response.json()
    first, following = month_bounds(timezone.now())
    assert (body["period_start"], body["period_end"]) == (first.isoformat(), following.isoformat())
    assert body["items"] == [
        {
            "model": "busy",
            "requests": 2,
            "input_tokens": 20,
            "output_tokens": 40,
            "cost": {"amount_minor": 25, "currency": "USD"},
            "quota": None,
        },
        {
            "model": "quiet",
            "requests": 1,
            "input_tokens": 1,
            "output_tokens": 2,
            "cost": {"amount_minor": 0, "currency": "USD"},
            "quota": None,
        },
    ]


def test_quota_shows_the_plans_limits_and_what_the_period_used(buyer, api_client_for, creator):
    from modelmarket.billing.models import PlanKind
    from modelmarket.billing.tests.factories import make_plan, published_model

    model = published_model(creator, name="Quota model")
    plan = make_plan(
        model, kind=PlanKind.FREE, name="Free", request_quota=100, token_quota=5000, quota_period="month"
    )
    now = timezone.now()
    usage_events_record(
        records=[usage_record(model, started_at=now, user_id=buyer.pk, event_id=str(n)) for n in range(3)]
    )

    item = api_client_for(buyer).get(URL).json()["items"][0]

    assert item["quota"] == {
        "plan": plan.public_id,
        "period": "month",
        "requests": {"limit": 100, "used": 3},
        "tokens": {"limit": 5000, "used": 3 * (10 + 20)},
    }


def test_the_creators_own_model_has_no_quota(creator, api_client_for):
    from modelmarket.billing.tests.factories import published_model

    model = published_model(creator, name="Mine")
    usage_events_record(records=[usage_record(model, started_at=timezone.now(), user_id=creator.pk)])

    assert api_client_for(creator).get(URL).json()["items"][0]["quota"] is None


def test_a_model_paid_in_two_currencies_has_one_item_per_currency(buyer, api_client_for):
    model = AIModelFactory(slug="multi")
    start = _this_month_start()
    usage_events_record(
        records=[
            usage_record(model, started_at=start, user_id=buyer.pk, cost_minor=100, currency="USD"),
            usage_record(model, started_at=start, user_id=buyer.pk, cost_minor=5, currency="USDC"),
            usage_record(model, started_at=start, user_id=buyer.pk, cost_minor=7, currency="USDC"),
        ]
    )
    items = api_client_for(buyer).get(URL).json()["items"]
    assert [(item["model"], item["requests"], item["cost"]) for item in items] == [
        ("multi", 2, {"amount_minor": 12, "currency": "USDC"}),
        ("multi", 1, {"amount_minor": 100, "currency": "USD"}),
    ]


def test_others_usage_is_not_in_my_summary(buyer, api_client_for):
    model = AIModelFactory()
    usage_events_record(records=[usage_record(model, started_at=_this_month_start(), user_id=make_user().pk)])
    assert api_client_for(buyer).get(URL).json()["items"] == []


def test_month_bounds_cover_the_calendar_month_in_utc():
    assert month_bounds(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == (date(2026, 12, 1), date(2027, 1, 1))
    assert month_bounds(datetime(2026, 2, 1, 0, 0, tzinfo=UTC)) == (date(2026, 2, 1), date(2026, 3, 1))


def test_the_summary_costs_the_same_queries_whatever_the_number_of_models(
    buyer, api_client_for, django_assert_num_queries
):
    client = api_client_for(buyer)
    client.get(URL)
    start = _this_month_start()
    usage_events_record(records=[usage_record(AIModelFactory(), started_at=start, user_id=buyer.pk)])
    with CaptureQueriesContext(connection) as one_model:
        client.get(URL)
    usage_events_record(
        records=[usage_record(AIModelFactory(), started_at=start, user_id=buyer.pk) for _ in range(10)]
    )
    with django_assert_num_queries(len(one_model)):
        assert len(client.get(URL).json()["items"]) == 11

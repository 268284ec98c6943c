"""Usage pages: the buyer's usage dashboard, the creator's analytics and the model page's 24-hour health, all fed
through `usage_events_record` as the gateway feeds them."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from modelmarket.accounts.models import ApiKey, User
from modelmarket.accounts.tests.factories import make_user
from modelmarket.catalog.tests.test_search import listing
from modelmarket.usage.events import UsageStatus
from modelmarket.usage.health import model_health_24h
from modelmarket.usage.latency import bucket_value_ms, latency_bucket
from modelmarket.usage.services.record import usage_events_record
from modelmarket.usage.tests.factories import AIModelFactory, usage_record
from modelmarket.usage.views import bar_chart, day_label, money

pytestmark = pytest.mark.django_db
USAGE_URL = "/account/usage/"
ANALYTICS_URL = "/creator/analytics/"


def logged_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response.content.decode()


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def text(html: str) -> str:
    """The page's visible text with tags removed and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- The chart helper ---------------------------------------------------------------------------------------------
def test_bar_chart_scales_bars_to_the_tallest_and_names_every_value():
    chart = bar_chart([("Mon", 5), ("Tue", 10), ("Wed", 0)], title="Requests")

    assert [(bar.height, bar.y) for bar in chart.bars] == [(80.0, 80.0), (160.0, 0.0), (0.0, 160.0)]
    assert [bar.x for bar in chart.bars] == [0.0, 200.0, 400.0]
    assert chart.summary == "Requests. Mon: 5, Tue: 10, Wed: 0."


def test_bar_chart_of_nothing_draws_no_bars():
    assert bar_chart([("Mon", 0)], title="Requests").bars[0].height == 0.0
    assert bar_chart([], title="Requests").summary == "Requests: no data."


def test_money_uses_the_currency_decimals():
    assert (money(1234, "USD"), money(1_500_000, "USDC")) == ("12.34 USD", "1.50 USDC")
    assert money(1, "ETH") == "0.000000000000000001 ETH"  # exact: no float in between


# --- Buyer: /account/usage/ ---------------------------------------------------------------------------------------
def test_usage_dashboard_shows_the_month_by_model_by_key_and_a_daily_chart(
    buyer, client, api_key_for, settings
):
    settings.GATEWAY_FREE_REQUESTS_PER_DAY = settings.GATEWAY_FREE_TOKENS_PER_DAY = (
        0  # no quota on free listings
    )
    api_key_for(buyer)
    key = ApiKey.objects.get(user=buyer)
    chat, vision = AIModelFactory(slug="chat-model"), AIModelFactory(slug="vision-model")
    now = timezone.now()
    usage_events_record(
        records=[
            *(
                usage_record(chat, started_at=now, user_id=buyer.pk, api_key_id=key.pk, cost_minor=150)
                for _ in range(3)
            ),
            usage_record(vision, started_at=now, user_id=buyer.pk, input_tokens=1000, output_tokens=0),
            usage_record(chat, started_at=now, user_id=make_user().pk),  # someone else's call
        ]
    )

    html = page(logged_in(client, buyer), USAGE_URL)

    visible = text(html)
    assert "chat-model 3 30 60 4.50 USD No quota" in visible
    assert "vision-model 1 1,000 0 0.00 USD No quota" in visible
    assert "test key 3 30 60 0 4.50 USD" in visible
    assert "No key (playground) 1 1,000 0 0 0" in visible
    assert "cost so far 4.50 USD" in visible
    assert "Requests 4 Tokens 1,090" in visible  # the range totals
    assert 'aria-label="Requests per day, last 30 days. ' in html
    assert f"{day_label(now)}: 4." in html  # today's bar, in the chart's accessible summary
    assert html.count('class="usage-chart-bar"') == 2  # one bar (today) in each chart
    assert 'href="/account/usage/"' in html  # linked from the account nav


def test_usage_dashboard_shows_a_quota_bar_for_a_plan_with_a_quota(buyer, client):
    from modelmarket.billing.models import PlanKind
    from modelmarket.billing.tests.factories import make_plan

    plan = make_plan(kind=PlanKind.FREE, name="Free", request_quota=100, quota_period="month")
    usage_events_record(
        records=[usage_record(plan.model, started_at=timezone.now(), user_id=buyer.pk) for _ in range(7)]
    )

    visible = text(page(logged_in(client, buyer), USAGE_URL))

    assert "7 of 100 requests this month" in visible


def test_usage_dashboard_range_is_chosen_by_days(buyer, client):
    model = AIModelFactory()
    usage_events_record(
        records=[usage_record(model, started_at=timezone.now() - timedelta(days=20), user_id=buyer.pk)]
    )
    client = logged_in(client, buyer)

    assert "Requests 0 " in text(page(client, f"{USAGE_URL}?days=7"))
    last_30 = page(client, f"{USAGE_URL}?days=30")
    assert "Requests 1 " in text(last_30)
    assert 'href="?days=30" aria-current="page"' in last_30
    assert 'href="?days=90" aria-current="page"' in page(client, f"{USAGE_URL}?days=90")
    assert 'href="?days=30" aria-current="page"' in page(
        client, f"{USAGE_URL}?days=5"
    )  # not offered: default


def test_usage_dashboard_without_calls_says_so(buyer, client):
    visible = text(page(logged_in(client, buyer), USAGE_URL))

    assert "No calls this month yet." in visible
    assert "No calls in the last 30 days." in visible


def test_usage_dashboard_needs_a_login(client, db):
    response = client.get(USAGE_URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_usage_dashboard_queries_do_not_grow_with_the_number_of_models(
    buyer, client, django_assert_num_queries
):
    client = logged_in(client, buyer)
    usage_events_record(records=[usage_record(AIModelFactory(), user_id=buyer.pk)])
    with_one_model = queries(client, USAGE_URL)
    usage_events_record(records=[usage_record(AIModelFactory(), user_id=buyer.pk) for _ in range(5)])

    with django_assert_num_queries(with_one_model):
        assert client.get(USAGE_URL).status_code == 200


# --- Creator: /creator/analytics/ ---------------------------------------------------------------------------------
def test_creator_analytics_shows_each_models_calls_buyers_errors_latency_and_chart(creator, client):
    popular = AIModelFactory(creator=creator, slug="popular")
    AIModelFactory(creator=creator, slug="unused")
    AIModelFactory(slug="not-mine")
    first, second = make_user(), make_user()
    now = timezone.now()
    records: list[Any] = [
        *(usage_record(popular, started_at=now, user_id=first.pk, latency_ms=100) for _ in range(8)),
        usage_record(popular, started_at=now, user_id=second.pk, latency_ms=100),
        usage_record(popular, started_at=now, user_id=second.pk, status=UsageStatus.UPSTREAM_ERROR),
    ]
    usage_events_record(records=records)

    html = page(logged_in(client, creator), ANALYTICS_URL)

    visible = text(html)
    typical = bucket_value_ms(latency_bucket(100))  # percentiles come from the histogram's buckets
    assert f"popular 10 2 10.0% {typical} ms {typical} ms —" in visible
    assert "unused 0 0 0.0% — — —" in visible
    assert "not-mine" not in visible
    assert "Calls 10 Errors 10.0% Revenue —" in visible
    assert 'aria-label="Calls per day of popular, ' in html
    assert f"{day_label(now)}: 10." in html
    assert html.count('class="usage-chart-bar"') == 1  # today's bar of `popular`; `unused` draws none
    assert html.count('class="usage-chart-svg"') == 2


@pytest.mark.parametrize("role", ["buyer", "moderator"])
def test_creator_analytics_is_404_for_people_who_are_not_creators(client, role):
    assert logged_in(client, make_user(role)).get(ANALYTICS_URL).status_code == 404


def test_creator_analytics_needs_a_login(client, db):
    assert client.get(ANALYTICS_URL).status_code == 302


def test_creator_analytics_queries_do_not_grow_with_the_number_of_models(
    creator, client, django_assert_num_queries
):
    client = logged_in(client, creator)
    buyer = make_user()
    usage_events_record(records=[usage_record(AIModelFactory(creator=creator), user_id=buyer.pk)])
    with_one_model = queries(client, ANALYTICS_URL)
    usage_events_record(
        records=[usage_record(AIModelFactory(creator=creator), user_id=buyer.pk) for _ in range(5)]
    )

    with django_assert_num_queries(with_one_model):
        html = client.get(ANALYTICS_URL).content.decode()
    assert html.count('class="usage-chart-svg"') == 6


def test_account_menu_links_analytics_only_for_creators(client, creator, buyer):
    assert 'href="/creator/analytics/"' in page(logged_in(client, creator), USAGE_URL)
    assert 'href="/creator/analytics/"' not in page(logged_in(Client(), buyer), USAGE_URL)


# --- The model page's last 24 hours -------------------------------------------------------------------------------
def test_model_health_counts_the_last_24_hours_only(buyer):
    model = AIModelFactory()
    now = timezone.now()
    usage_events_record(
        records=[
            usage_record(model, started_at=now, user_id=buyer.pk, latency_ms=100),
            usage_record(model, started_at=now - timedelta(hours=5), user_id=buyer.pk, latency_ms=300),
            usage_record(model, started_at=now, user_id=buyer.pk, status=UsageStatus.TIMEOUT),
            usage_record(model, started_at=now - timedelta(hours=30), user_id=buyer.pk, latency_ms=900),
        ]
    )

    assert model_health_24h(model.pk, now=now) == {
        "calls": 3,
        "errors": 1,
        "error_rate": 0.3333,
        "error_percent": 33.33,
        "latency_avg_ms": 200,
    }
    assert model_health_24h(AIModelFactory().pk, now=now) == {
        "calls": 0,
        "errors": 0,
        "error_rate": 0.0,
        "error_percent": 0.0,
        "latency_avg_ms": None,
    }


def test_model_page_shows_the_last_24_hours_health(creator, buyer, client):
    model = listing(creator, "Healthy")
    now = timezone.now()
    usage_events_record(
        records=[
            *(usage_record(model, started_at=now, user_id=buyer.pk, latency_ms=120) for _ in range(3)),
            usage_record(model, started_at=now, user_id=buyer.pk, status=UsageStatus.UPSTREAM_ERROR),
        ]
    )

    visible = text(page(client, f"/models/{model.slug}/"))

    assert "Last 24 h Calls 4 Error rate 25.0% Avg latency 120 ms" in visible


def test_model_page_without_recent_calls_says_so(creator, client):
    model = listing(creator, "Quiet")

    assert "No calls in the last 24 h." in text(page(client, f"/models/{model.slug}/"))

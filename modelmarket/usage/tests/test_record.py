from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import requires_postgres
from modelmarket.accounts.services import api_key_create
from modelmarket.accounts.tests.factories import make_user
from modelmarket.catalog.models import AIModel
from modelmarket.usage.events import UsageSource, UsageStatus
from modelmarket.usage.latency import latency_bucket
from modelmarket.usage.models import (
    ModelBuyerDays,
    ModelLatencyDaily,
    ModelUsageDaily,
    UsageDaily,
    UsageEvent,
    UsageHourly,
)
from modelmarket.usage.rollup_keys import buyer_window_bit
from modelmarket.usage.services.record import usage_events_record
from modelmarket.usage.services.retention import usage_events_purge
from modelmarket.usage.tasks import usage_events_purge as usage_events_purge_task
from modelmarket.usage.tests.factories import AIModelFactory, ModelVersionFactory, usage_record

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 14, 9, 15, tzinfo=UTC)


def _rollup_counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (
            UsageEvent,
            UsageHourly,
            UsageDaily,
            ModelUsageDaily,
            ModelLatencyDaily,
            ModelBuyerDays,
        )
    )


def test_a_batch_is_stored_and_rolled_up_by_hour_day_model_and_key(buyer):
    model = AIModelFactory()
    version = ModelVersionFactory(model=model)
    key, _ = api_key_create(user=buyer, name="k", scopes=["inference"])
    common = {"user_id": buyer.pk, "api_key_id": key.pk, "version_id": version.pk}
    records = [
        usage_record(model, started_at=T0, latency_ms=100, cost_minor=5, compute_ms=7, **common),
        usage_record(model, started_at=T0 + timedelta(minutes=30), latency_ms=300, cost_minor=7, **common),
        usage_record(model, started_at=T0 + timedelta(hours=1), status=UsageStatus.TIMEOUT, **common),
        usage_record(
            model, started_at=T0, status=UsageStatus.REJECTED, input_tokens=0, output_tokens=0, **common
        ),
    ]

    assert usage_events_record(records=records) == 4

    assert UsageEvent.objects.count() == 4
    hourly = {
        row["hour"]: row
        for row in UsageHourly.objects.values(
            "hour", "requests", "succeeded", "errors", "rejected", "cost_minor", "latency_ms_sum"
        )
    }
    assert hourly == {
        T0.replace(minute=0): {
            "hour": T0.replace(minute=0),
            "requests": 2,
            "succeeded": 2,
            "errors": 0,
            "rejected": 1,
            "cost_minor": 12,
            "latency_ms_sum": 400,
        },
        T0.replace(minute=0) + timedelta(hours=1): {
            "hour": T0.replace(minute=0) + timedelta(hours=1),
            "requests": 1,
            "succeeded": 0,
            "errors": 1,
            "rejected": 0,
            "cost_minor": 0,
            "latency_ms_sum": 0,
        },
    }
    row = UsageHourly.objects.filter(hour=T0.replace(minute=0)).get()
    assert (row.user_id, row.model_id, row.api_key_id, row.version_id, row.currency) == (
        buyer.pk,
        model.pk,
        key.pk,
        version.pk,
        "USD",
    )
    daily = UsageDaily.objects.get()
    assert (
        daily.day,
        daily.requests,
        daily.errors,
        daily.rejected,
        daily.input_tokens,
        daily.compute_ms,
    ) == (
        T0.date(),
        3,
        1,
        1,
        30,
        7,
    )
    per_model = ModelUsageDaily.objects.get()
    assert (per_model.requests, per_model.succeeded, per_model.errors, per_model.rejected) == (3, 2, 1, 1)
    assert sorted(ModelLatencyDaily.objects.values_list("bucket", "count")) == sorted(
        [(latency_bucket(100), 1), (latency_bucket(300), 1)]
    )
    window, bit = buyer_window_bit(T0.date())
    assert list(ModelBuyerDays.objects.values_list("model_id", "window", "user_id", "days")) == [
        (model.pk, window, buyer.pk, bit)
    ]
    model.refresh_from_db()
    assert model.call_count == 3  # every call but the rejected one


def test_a_retried_batch_is_ignored_and_counts_nothing_twice(buyer):
    model = AIModelFactory()
    batch = [usage_record(model, started_at=T0, user_id=buyer.pk, event_id=f"e{n}") for n in range(3)]
    assert usage_events_record(records=batch) == 3
    before = _rollup_counts()

    assert usage_events_record(records=batch) == 0

    assert _rollup_counts() == before
    assert UsageDaily.objects.get().requests == 3
    assert ModelUsageDaily.objects.get().requests == 3
    assert ModelLatencyDaily.objects.get().count == 3
    model.refresh_from_db()
    assert model.call_count == 3


def test_a_partly_new_batch_counts_only_the_new_events(buyer):
    model = AIModelFactory()
    first = usage_record(model, started_at=T0, user_id=buyer.pk, event_id="a", input_tokens=1)
    usage_events_record(records=[first])
    second = usage_record(model, started_at=T0, user_id=buyer.pk, event_id="b", input_tokens=100)

    assert usage_events_record(records=[first, second, second]) == 1

    assert UsageDaily.objects.get().input_tokens == 101
    assert ModelUsageDaily.objects.get().requests == 2


def test_event_ids_are_per_model_and_source(buyer):
    one, two = AIModelFactory(), AIModelFactory()
    records = [
        usage_record(one, started_at=T0, event_id="same"),
        usage_record(two, started_at=T0, event_id="same"),
        usage_record(one, started_at=T0, event_id="same", source=UsageSource.TRACK),
    ]
    assert usage_events_record(records=records) == 3


def test_hours_and_days_are_utc_whatever_the_record_timezone(buyer):
    model = AIModelFactory()
    evening_in_new_york = datetime(2026, 3, 14, 21, 30, tzinfo=dt_timezone(timedelta(hours=-4)))
    usage_events_record(records=[usage_record(model, started_at=evening_in_new_york, user_id=buyer.pk)])
    assert UsageHourly.objects.get().hour == datetime(2026, 3, 15, 1, tzinfo=UTC)
    assert UsageDaily.objects.get().day == date(2026, 3, 15)
    assert UsageEvent.objects.get().started_at == evening_in_new_york


def test_calls_without_a_user_count_for_the_model_only():
    model = AIModelFactory()
    usage_events_record(records=[usage_record(model, started_at=T0)])
    assert (UsageHourly.objects.count(), UsageDaily.objects.count(), ModelBuyerDays.objects.count()) == (
        0,
        0,
        0,
    )
    assert ModelUsageDaily.objects.get().requests == 1


def test_tracked_calls_do_not_move_the_public_call_count():
    model = AIModelFactory()
    usage_events_record(records=[usage_record(model, started_at=T0, source=UsageSource.TRACK)])
    model.refresh_from_db()
    assert model.call_count == 0
    assert ModelUsageDaily.objects.get().requests == 1


def test_each_currency_has_its_own_rollup_rows(buyer):
    model = AIModelFactory()
    usage_events_record(
        records=[
            usage_record(model, started_at=T0, user_id=buyer.pk, cost_minor=150, currency="USD"),
            usage_record(model, started_at=T0, user_id=buyer.pk, cost_minor=2_000_000, currency="USDC"),
        ]
    )
    assert sorted(UsageDaily.objects.values_list("currency", "cost_minor")) == [
        ("USD", 150),
        ("USDC", 2_000_000),
    ]


def test_records_of_unknown_models_are_dropped_and_deleted_references_forgotten(buyer):
    model = AIModelFactory()
    gone_user = make_user()
    gone_key, _ = api_key_create(user=gone_user, name="k", scopes=["inference"])
    gone_version = ModelVersionFactory(model=model)
    other_model_version = ModelVersionFactory()
    records = [
        usage_record(
            model, started_at=T0, user_id=gone_user.pk, api_key_id=gone_key.pk, version_id=gone_version.pk
        ),
        usage_record(model, started_at=T0, user_id=buyer.pk, version_id=other_model_version.pk),
    ]
    missing_model = usage_record(model, started_at=T0)
    missing_model.model_id = AIModel.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    gone_version.delete()
    gone_user.delete()

    assert usage_events_record(records=[*records, missing_model]) == 2

    assert sorted(UsageEvent.objects.values_list("user_id", "api_key_id", "version_id"), key=str) == sorted(
        [(None, None, None), (buyer.pk, None, None)], key=str
    )
    assert list(UsageHourly.objects.values_list("user_id", "version_id")) == [(buyer.pk, 0)]


def test_out_of_range_numbers_and_long_strings_do_not_poison_a_batch(buyer):
    model = AIModelFactory()
    record = usage_record(
        model,
        started_at=T0,
        user_id=buyer.pk,
        input_tokens=-5,
        latency_ms=10**12,
        error_code="x" * 500,
        provider="p" * 500,
    )
    assert usage_events_record(records=[record]) == 1
    event = UsageEvent.objects.get()
    assert (event.input_tokens, event.latency_ms, len(event.error_code), len(event.provider)) == (
        0,
        2**31 - 1,
        64,
        40,
    )


def test_an_empty_batch_touches_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert usage_events_record(records=[]) == 0


def test_a_batch_costs_the_same_statements_whatever_its_size(buyer):
    models = [AIModelFactory() for _ in range(3)]
    users = [make_user() for _ in range(3)]

    def batch(prefix: str, size: int) -> list:
        return [
            usage_record(
                models[n % 3],
                started_at=T0 + timedelta(minutes=n % 600),
                user_id=users[n % 3].pk,
                event_id=f"{prefix}{n}",
                latency_ms=50 + n,
            )
            for n in range(size)
        ]

    with CaptureQueriesContext(connection) as small:
        usage_events_record(records=batch("s", 10))
    with CaptureQueriesContext(connection) as large:
        assert usage_events_record(records=batch("l", 1000)) == 1000
    assert len(large) == len(small)  # speed itself is measured by bench/usage.py
    assert sum(AIModel.objects.values_list("call_count", flat=True)) == 1010


def test_purge_deletes_old_raw_events_and_keeps_rollups(buyer, settings):
    settings.USAGE_EVENT_RETENTION_DAYS = 90
    model = AIModelFactory()
    now = timezone.now()
    usage_events_record(
        records=[
            usage_record(model, started_at=now - timedelta(days=91), user_id=buyer.pk, event_id="old"),
            usage_record(model, started_at=now - timedelta(days=89), user_id=buyer.pk, event_id="recent"),
        ]
    )

    usage_events_purge_task.call_local()

    assert list(UsageEvent.objects.values_list("event_id", flat=True)) == ["recent"]
    assert ModelUsageDaily.objects.count() == 2
    assert UsageDaily.objects.count() == 2


def test_purge_works_through_many_chunks(monkeypatch):
    from modelmarket.usage.services import retention

    monkeypatch.setattr(retention, "PURGE_CHUNK", 2)
    model = AIModelFactory()
    usage_events_record(records=[usage_record(model, started_at=T0, event_id=str(n)) for n in range(5)])
    assert usage_events_purge(started_before=T0) == 0
    assert usage_events_purge(started_before=T0 + timedelta(microseconds=1)) == 5
    assert not UsageEvent.objects.exists()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_batches_count_every_event_once():
    """A retried flush racing its original (in another order), beside other traffic: on PostgreSQL both run at once
    and the one that loses the race on a shared event waits for the other's commit, then skips it."""
    models = [AIModelFactory() for _ in range(3)]
    users = [make_user() for _ in range(5)]

    def records(prefix: str, count: int) -> list:
        return [
            usage_record(
                models[n % 3],
                started_at=T0 + timedelta(seconds=n),
                user_id=users[n % 5].pk,
                event_id=f"{prefix}{n}",
            )
            for n in range(count)
        ]

    shared = records("shared", 100)
    batches = [shared + records("a", 150), shared[::-1] + records("b", 150)]
    barrier = threading.Barrier(2)
    recorded, errors = [], []

    def flush(batch: list) -> None:
        try:
            barrier.wait(timeout=10)
            recorded.append(usage_events_record(records=batch))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=flush, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(recorded) == 400
    assert UsageEvent.objects.count() == 400
    assert sum(ModelUsageDaily.objects.values_list("requests", flat=True)) == 400
    assert sum(UsageDaily.objects.values_list("requests", flat=True)) == 400
    assert sum(AIModel.objects.values_list("call_count", flat=True)) == 400

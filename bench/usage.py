"""Usage benchmark: rollups equivalent to 10 million calls (2,000 listings, 5,000 buyers, 90 days) in a throwaway
database, then p50/p95 of `/usage/summary`, `/creator/analytics` and `/usage/stats` (the selector alone, and the
whole request through the API stack with a logged-in session), and of recording 1,000-event batches.

    make bench                                   # SQLite (var/bench/usage.sqlite3), then PostgreSQL if DATABASE_URL
    .venv/bin/python -m bench.usage --database sqlite
    .venv/bin/python -m bench.usage --database postgres://postgres@127.0.0.1:5432/modelmarket

The data goes through the same rollup code the gateway's batches use (`usage.services.record.rollups_apply`), a simulated
day at a time, so the rollup tables hold exactly what 10 million recorded calls would leave. Traffic is skewed as
marketplaces are: listing popularity and buyer activity follow Zipf laws (the busiest buyer makes about a tenth of
all calls), one creator owns dozens of listings, most own one or two. Raw events are not generated: reads never
touch them. The PostgreSQL database is `modelmarket_bench_usage` unless the URL names another (never `modelmarket`
nor the search benchmark's). Data is reused while its call count matches; `--rebuild` starts over. Not a test."""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
SQLITE_PATH = ROOT / "var" / "bench" / "usage.sqlite3"
RESERVED_DATABASES = {"modelmarket", "modelmarket_bench", "postgres", "template0", "template1"}
MODELS = 2000
BUYERS = 5000
CREATORS = 500
DAYS = 90
WRITE_MODELS = 50
STATUSES = [
    ("succeeded", 0.95),
    ("invalid_input", 0.01),
    ("rejected", 0.01),
    ("upstream_error", 0.015),
    ("timeout", 0.005),
    ("client_disconnected", 0.01),
]


def postgres_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.path.lstrip("/") in RESERVED_DATABASES or not parsed.path.lstrip("/"):
        parsed = parsed._replace(path="/modelmarket_bench_usage")
    return urlunparse(parsed)


def setup_django(database: str) -> str:
    from bench.search import ensure_postgres_database

    if database == "sqlite":
        SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{SQLITE_PATH}"
        os.environ.pop("DATABASE_URL", None)
        os.environ["BENCH_SQLITE_PATH"] = str(SQLITE_PATH)
    else:
        url = postgres_url(database)
        ensure_postgres_database(url)
        os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return url


# --- Data -------------------------------------------------------------------------------------------------------


def zipf_weights(count: int, exponent: float) -> list[float]:
    return [1 / (rank + 1) ** exponent for rank in range(count)]


def generated_calls() -> int:
    from django.db.models import F, Sum

    from modelmarket.usage.models import ModelUsageDaily

    total = (
        ModelUsageDaily.objects.filter(model__slug__startswith="usage-bench-")
        .aggregate(calls=Sum(F("requests") + F("rejected")))
        .get("calls")
    )
    return int(total or 0)


def load(events: int, rebuild: bool) -> None:
    from django.db import connection

    if generated_calls() == events and not rebuild:
        print(f"reusing rollups of {events:,} calls", flush=True)
        from modelmarket.core.db import planner_statistics_refresh

        planner_statistics_refresh()
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # A throwaway database: no durability needed while loading (each simulated day still commits).
        if connection.vendor == "postgresql":
            cursor.execute("SET synchronous_commit TO off")
        else:
            cursor.execute("PRAGMA synchronous=OFF")
    _clear()
    creators, buyers, models = _people_and_listings()
    _simulate(events, creators, buyers, models)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET synchronous_commit TO on")
            cursor.execute("VACUUM ANALYZE")  # what autovacuum does soon after a bulk load
        else:
            cursor.execute("PRAGMA synchronous=NORMAL")  # as configured in production, for the write measure
            cursor.execute("ANALYZE")
    print(f"generated rollups of {events:,} calls in {time.perf_counter() - started:.0f} s", flush=True)


def _clear() -> None:
    from django.db import connection

    from modelmarket.accounts.models import User
    from modelmarket.catalog.models import AIModel
    from modelmarket.usage import models as usage

    tables = [
        usage.UsageEvent,
        usage.UsageHourly,
        usage.UsageDaily,
        usage.ModelUsageDaily,
        usage.ModelLatencyDaily,
        usage.ModelBuyerDays,
    ]
    if connection.vendor == "postgresql":
        # TRUNCATE, not DELETE: the rebuilt tables must not carry the previous run's dead rows.
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE " + ", ".join(table._meta.db_table for table in tables))
    else:
        for table in tables:
            table._default_manager.all().delete()
    AIModel.objects.filter(slug__contains="-bench-").delete()
    User.objects.filter(email__endswith="@usage-bench.invalid").delete()


def _people_and_listings() -> tuple[list[Any], list[Any], list[Any]]:
    from django.utils import timezone

    from modelmarket.accounts.models import User
    from modelmarket.catalog.models import AIModel

    rng = random.Random(7)  # noqa: S311 - reproducible test data
    creators = User.objects.bulk_create(
        [User(email=f"creator{n}@usage-bench.invalid", display_name=f"Creator {n}") for n in range(CREATORS)]
    )
    buyers = User.objects.bulk_create(
        [User(email=f"buyer{n}@usage-bench.invalid", display_name=f"Buyer {n}") for n in range(BUYERS)]
    )
    published = timezone.now() - timedelta(days=400)

    def listing(slug: str, creator: Any) -> AIModel:
        return AIModel(
            slug=slug, name=slug, task="chat", license="mit", creator=creator, status="published",
            published_at=published,
        )  # fmt: skip

    # Listing rank r (0 = most called); a few creators own dozens of listings, most one or two.
    models = AIModel.objects.bulk_create(
        [
            listing(f"usage-bench-{rank}", creators[min(CREATORS - 1, int(CREATORS * rng.random() ** 2))])
            for rank in range(MODELS)
        ]
    )
    AIModel.objects.bulk_create(
        [listing(f"write-bench-{n}", creators[n % CREATORS]) for n in range(WRITE_MODELS)]
    )
    return creators, buyers, models


def _buyer_profiles(rng: random.Random, buyers: list[Any], models: list[Any]) -> list[tuple[Any, ...]]:
    """Each buyer: the listings they use (busier buyers use more), their API key ids, a preferred currency."""
    model_weights = zipf_weights(len(models), 1.0)
    profiles = []
    for rank, buyer in enumerate(buyers):
        count = max(1, min(40, int(3 * (len(buyers) / (rank + 1)) ** 0.35 * rng.random() + 1)))
        used = list({model.pk for model in rng.choices(models, weights=model_weights, k=count)})
        keys = [buyer.pk * 10 + n for n in range(rng.choice([1, 1, 2, 3]))]
        profiles.append((buyer.pk, used, keys, "USDC" if rng.random() < 0.05 else "USD"))
    return profiles


def _simulate(events: int, creators: list[Any], buyers: list[Any], models: list[Any]) -> None:
    from django.db import connection, transaction

    from modelmarket.usage.events import UsageRecord
    from modelmarket.usage.services.record import rollups_apply

    rng = random.Random(11)  # noqa: S311 - reproducible test data
    profiles = _buyer_profiles(rng, buyers, models)
    cumulative_buyers: list[float] = []
    running = 0.0
    for weight in zipf_weights(len(buyers), 1.0):
        running += weight
        cumulative_buyers.append(running)
    median_latency = {model.pk: rng.lognormvariate(math.log(400), 1.0) for model in models}
    statuses, status_weights = zip(*STATUSES, strict=True)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=DAYS)
    per_day = events // DAYS
    for day in range(DAYS):
        count = per_day + (events - per_day * DAYS if day == DAYS - 1 else 0)
        day_start = start + timedelta(days=day)
        chosen = rng.choices(profiles, cum_weights=cumulative_buyers, k=count)
        picked_statuses = rng.choices(statuses, weights=status_weights, k=count)
        records = []
        for (user_id, used, keys, currency), status in zip(chosen, picked_statuses, strict=True):
            model_id = used[min(len(used) - 1, int(rng.expovariate(0.7)))]
            tokens = int(rng.expovariate(1 / 300))
            records.append(
                UsageRecord(
                    model_id=model_id,
                    status=status,
                    started_at=day_start + timedelta(seconds=rng.random() * 86400),
                    user_id=user_id,
                    api_key_id=rng.choice(keys) if keys and rng.random() < 0.97 else None,
                    version_id=model_id * 10 + (0 if rng.random() < 0.9 else 1),
                    input_tokens=tokens,
                    output_tokens=tokens * 2,
                    latency_ms=int(rng.lognormvariate(math.log(median_latency[model_id]), 0.5)),
                    compute_ms=int(tokens / 10),
                    cost_minor=tokens // 100,
                    currency=currency,
                )
            )
        with transaction.atomic(), connection.cursor() as cursor:
            rollups_apply(cursor, records)
        print(f"  day {day + 1} / {DAYS}", end="\r", flush=True)
    print()


# --- Measuring --------------------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(run: Callable[[], Any], runs: int) -> list[float]:
    for _ in range(3):  # warm the database's caches (we cache nothing)
        run()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def subjects() -> dict[str, Any]:
    """The heaviest and a median buyer (by this month's calls), and the creators with the most traffic and the
    most listings."""
    from django.db.models import Count, Sum

    from modelmarket.accounts.models import User
    from modelmarket.catalog.models import AIModel
    from modelmarket.usage.models import ModelUsageDaily, UsageDaily

    buyers = list(
        UsageDaily.objects.values("user_id").annotate(calls=Sum("requests")).order_by("-calls", "user_id")
    )
    by_traffic = (
        ModelUsageDaily.objects.filter(model__slug__startswith="usage-bench-")
        .values("model__creator")
        .annotate(calls=Sum("requests"))
        .order_by("-calls")
        .first()
    )
    most_listings = (
        AIModel.objects.filter(slug__startswith="usage-bench-")
        .values("creator")
        .annotate(listings=Count("id"))
        .order_by("-listings")
        .first()
    )
    median_creator = AIModel.objects.get(slug=f"usage-bench-{MODELS // 2}").creator_id
    users = User.objects.in_bulk(
        [
            buyers[0]["user_id"],
            buyers[len(buyers) // 2]["user_id"],
            by_traffic["model__creator"] if by_traffic else 0,
            most_listings["creator"] if most_listings else 0,
            median_creator,
        ]
    )
    return {
        "heaviest buyer": users[buyers[0]["user_id"]],
        "median buyer": users[buyers[len(buyers) // 2]["user_id"]],
        "busiest creator": users[by_traffic["model__creator"]] if by_traffic else None,
        "most listings": users[most_listings["creator"]] if most_listings else None,
        "median creator": users[median_creator],
    }


def measure_writes(runs: int) -> list[float]:
    """Record `runs` batches of 1,000 new events (raw insert, five rollups, call counts), each committed, as the
    gateway's flush does. Traffic as in the simulation: Zipf-skewed buyers, each calling one to three listings
    (the write-only listings, so the measured rollups stay as generated), 5% of calls without a key."""
    from django.utils import timezone

    from modelmarket.accounts.models import User
    from modelmarket.catalog.models import AIModel
    from modelmarket.usage.events import UsageRecord
    from modelmarket.usage.services.record import usage_events_record

    rng = random.Random()  # noqa: S311 - fresh event ids each run
    model_ids = list(AIModel.objects.filter(slug__startswith="write-bench-").values_list("pk", flat=True))
    buyers = list(
        User.objects.filter(email__startswith="buyer", email__endswith="@usage-bench.invalid")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    favourites = {buyer: rng.sample(model_ids, rng.choice([1, 1, 2, 3])) for buyer in buyers}
    statuses, weights = zip(*STATUSES, strict=True)
    timings = []
    for _ in range(runs):
        now = timezone.now()
        batch = [
            UsageRecord(
                model_id=rng.choice(favourites[user_id]),
                status=status,
                started_at=now - timedelta(seconds=rng.random() * 2),
                user_id=user_id,
                api_key_id=None,
                latency_ms=rng.randint(20, 3000),
                input_tokens=rng.randint(0, 2000),
                output_tokens=rng.randint(0, 2000),
                cost_minor=rng.randint(0, 50),
            )
            for user_id, status in zip(
                rng.choices(buyers, weights=zipf_weights(len(buyers), 1.0), k=1000),
                rng.choices(statuses, weights=weights, k=1000),
                strict=True,
            )
        ]
        started = time.perf_counter()
        assert usage_events_record(records=batch) == 1000
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def buyer_measures(user: Any) -> list[tuple[str, Callable[[], Any]]]:
    from functools import partial

    from django.test import Client

    from modelmarket.usage import selectors

    client = Client()
    client.force_login(user)
    daily = selectors.stats_range(granularity="day", since=None, until=None)
    hourly = selectors.stats_range(granularity="hour", since=None, until=None)
    return [
        ("summary selector", partial(selectors.usage_month_summary, user=user)),
        ("GET /usage/summary", partial(_get, client, "/api/v1/usage/summary")),
        ("stats selector, 30 days daily", partial(selectors.usage_series, user=user, period=daily)),
        ("stats selector, 24 h hourly", partial(selectors.usage_series, user=user, period=hourly)),
    ]


def creator_measures(user: Any) -> list[tuple[str, Callable[[], Any]]]:
    from functools import partial

    from django.test import Client

    from modelmarket.usage import selectors

    client = Client()
    client.force_login(user)
    since, until = selectors.analytics_range(since=None, until=None)
    widest = until - timedelta(days=selectors.ANALYTICS_MAX_DAYS - 1)
    return [
        (
            "analytics selector, 30 days",
            partial(selectors.creator_analytics, creator=user, since=since, until=until),
        ),
        ("GET /creator/analytics (30 days)", partial(_get, client, "/api/v1/creator/analytics")),
        (
            "analytics selector, 92 days",
            partial(selectors.creator_analytics, creator=user, since=widest, until=until),
        ),
    ]


def run(database: str, events: int, runs: int, rebuild: bool) -> None:
    url = setup_django(database)
    from django.db import connection

    load(events, rebuild)
    tables = ("usage_usagehourly", "usage_usagedaily", "usage_modelusagedaily", "usage_modelbuyerdays")
    print(f"\n{connection.vendor} ({url.rsplit('@', 1)[-1]}), rollups of {events:,} calls, {runs} runs each")
    print(
        "rollup rows: " + ", ".join(f"{table.removeprefix('usage_')} {_count(table):,}" for table in tables)
    )
    print(f"{'measure':<58}{'p50 ms':>9}{'p95 ms':>9}")
    worst = 0.0
    for who, user in subjects().items():
        if user is None:
            continue
        measures = buyer_measures(user) if "buyer" in who else creator_measures(user)
        for label, call in measures:
            timings = timed(call, runs)
            p95 = percentile(timings, 0.95)
            print(f"{label + ', ' + who:<58}{statistics.median(timings):>9.1f}{p95:>9.1f}", flush=True)
            if label.startswith(("summary selector", "analytics selector, 30")):
                worst = max(worst, p95)
    timings = measure_writes(runs)
    print(
        f"{'record a batch of 1,000 events (committed)':<58}{statistics.median(timings):>9.1f}"
        f"{percentile(timings, 0.95):>9.1f}"
    )
    print(f"worst summary / 30-day analytics selector p95 {worst:.1f} ms (target 50)")


def _count(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608 - our table names
        return int(cursor.fetchone()[0])


def _get(client: Any, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.content
    return response


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="sqlite", help="sqlite, or a postgres:// URL")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument(
        "--rebuild", action="store_true", help="regenerate the data even if the call count matches"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    run(args.database, args.events, args.runs, args.rebuild)


if __name__ == "__main__":
    main()

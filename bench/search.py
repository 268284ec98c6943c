"""Search benchmark: 100,000 generated listings in a throwaway database, then p50/p95 server time of representative
catalog searches and autocomplete, through the real API stack (Django test client, no network).

    make bench                                   # SQLite (var/bench/catalog.sqlite3), then PostgreSQL if DATABASE_URL
    .venv/bin/python -m bench.search --database sqlite --models 100000
    .venv/bin/python -m bench.search --database postgres://postgres@127.0.0.1:5432/modelmarket_bench

The benchmark database is never the dev database nor `modelmarket`: SQLite uses var/bench/, PostgreSQL uses the
database named in the URL (default `modelmarket_bench`, created if missing). Data is reused between runs when the
row count matches; `--rebuild` starts over. Not a test: nothing fails, it prints a table."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
SQLITE_PATH = ROOT / "var" / "bench" / "catalog.sqlite3"
FORBIDDEN_DATABASES = {"modelmarket", "postgres", "template0", "template1"}

SEARCHES: list[tuple[str, dict[str, Any]]] = [
    ("text: llama", {"q": "llama"}),
    ("text: 3 words", {"q": "sentiment product reviews"}),
    ("text prefix: instr", {"q": "instr"}),
    ("all, trending + facets", {}),
    ("task=chat, sort=downloads", {"task": "chat", "sort": "downloads"}),
    ("tags llm+english", {"tag": ["llm", "english"]}),
    ("text+license+commercial", {"q": "bert", "license": "mit", "commercial_use": "true"}),
    ("paid, newest", {"pricing": "paid", "sort": "newest"}),
    ("rating>=4, sort=rating", {"min_rating": "4", "sort": "rating"}),
    ("text: whisper, page 2", {"q": "whisper", "page": 2}),
]
AUTOCOMPLETE = ["ll", "lla", "mist", "stable dif", "whsiper", "qwen 7", "bert b", "ph", "sdxl", "dino"]


def postgres_url(url: str) -> str:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not name or name in FORBIDDEN_DATABASES:
        parsed = parsed._replace(path="/modelmarket_bench")
    return urlunparse(parsed)


def ensure_postgres_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def setup_django(database: str) -> str:
    if database == "sqlite":
        SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{SQLITE_PATH}"
        os.environ.pop("DATABASE_URL", None)  # the embedded default's configuration, on the bench file
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


def load(count: int, rebuild: bool) -> None:
    from django.db import connection, transaction

    from modelmarket.catalog.models import AIModel
    from modelmarket.core.db import planner_statistics_refresh

    existing = AIModel.objects.count()
    if existing == count and not rebuild:
        print(f"reusing {existing:,} listings", flush=True)
        planner_statistics_refresh()  # as the periodic housekeeping job keeps them in a running marketplace
        return
    started = time.perf_counter()
    with transaction.atomic():
        _clear()
        _insert(count)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # What autovacuum does soon after a bulk load: visibility map, hint bits and statistics. Measuring a
            # table nobody has vacuumed yet measures the load, not the search.
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("ANALYZE")
            cursor.execute("INSERT INTO catalog_aimodel_fts(catalog_aimodel_fts) VALUES('optimize')")
    print(f"generated {count:,} listings in {time.perf_counter() - started:.0f} s", flush=True)


def _clear() -> None:
    from django.db import connection

    from modelmarket.accounts.models import CreatorProfile, User
    from modelmarket.catalog.models import AIModel, Tag

    if connection.vendor == "postgresql":
        # TRUNCATE, not DELETE: deleted rows would stay in the table beside the new ones (twice the pages), which
        # measures bloat left by the benchmark itself rather than a catalog of this size. CASCADE: rows of other
        # apps that point at listings or versions (gateway configs, usage) go too; this database is the bench's own.
        # The search documents (PostgreSQL, migration 0005) follow the listings by trigger.
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE catalog_aimodel_tags, catalog_modelfile, catalog_modelversion, catalog_aimodel, catalog_tag"
                " CASCADE"
            )
    else:
        AIModel.tags.through.objects.all().delete()
        AIModel.objects.all().delete()
        Tag.objects.all().delete()
    CreatorProfile.objects.filter(user__email__endswith="@bench.invalid").delete()
    User.objects.filter(email__endswith="@bench.invalid").delete()


def _insert(count: int) -> None:
    import random

    from django.utils.text import slugify

    from bench.catalog_data import generate
    from modelmarket.accounts.models import CreatorProfile, User
    from modelmarket.catalog.models import AIModel, Tag

    rng = random.Random(11)  # noqa: S311 - reproducible test data, not secrets
    first_names = [
        "Ada",
        "Alan",
        "Grace",
        "Yann",
        "Fei-Fei",
        "Geoff",
        "Andrej",
        "Ilya",
        "Daphne",
        "Jeff",
        "Hugo",
    ]
    studios = ["Labs", "AI", "Research", "Collective", "Studio", "Systems", "Works", "ML"]
    users = User.objects.bulk_create(
        [
            User(
                email=f"creator{n}@bench.invalid",
                display_name=f"{rng.choice(first_names)} {rng.choice(studios)} {n}",
            )
            for n in range(500)
        ]
    )
    CreatorProfile.objects.bulk_create(
        [
            CreatorProfile(user=user, display_name=user.display_name, bio="Bench creator.", status="verified")
            for user in users
        ]
    )
    rows = generate(count)
    tag_ids = {
        tag.slug: tag.pk
        for tag in Tag.objects.bulk_create(
            [
                Tag(slug=slug, name=slug.replace("-", " "))
                for slug in sorted({t for row in rows for t in row.tags})
            ]
        )
    }
    through = AIModel.tags.through
    for start in range(0, count, 5000):
        batch = rows[start : start + 5000]
        models = []
        for offset, row in enumerate(batch):
            number = start + offset
            creator = users[number % len(users)]
            slug = f"{slugify(row.name)[:100]}-{number}"
            models.append(
                AIModel(
                    slug=slug,
                    name=row.name,
                    summary=row.summary,
                    card_markdown=row.card,
                    task=row.task,
                    license=row.license,
                    commercial_use=row.commercial_use,
                    creator=creator,
                    creator_name=creator.display_name,
                    source=row.source,
                    external_id="" if row.source == "uploaded" else f"bench/{slug}",
                    status=row.status,
                    pricing=row.pricing,
                    published_at=row.published_at,
                    download_count=row.downloads,
                    call_count=row.calls,
                    favorite_count=row.favorites,
                    rating_average=row.rating,
                    rating_count=row.rating_count,
                    trending_score=row.trending,
                    search_tags=" ".join(row.tags),
                )
            )
        created = AIModel.objects.bulk_create(models)
        through.objects.bulk_create(
            [
                through(aimodel_id=model.pk, tag_id=tag_ids[slug])
                for model, row in zip(created, batch, strict=True)
                for slug in row.tags
            ]
        )
        print(f"  {start + len(batch):,} / {count:,}", end="\r", flush=True)
    print()


def measure(client: Any, path: str, params: dict[str, Any], runs: int) -> list[float]:
    params = dict(params)
    page = params.pop("page", 1)
    if page == 2:
        first = client.get(path, params).json()
        params["cursor"] = first["next_cursor"]
    for _ in range(3):  # warm caches (the database's, not ours: the search path caches nothing)
        response = client.get(path, params)
        assert response.status_code == 200, response.content
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, params)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(database: str, count: int, runs: int, rebuild: bool) -> None:
    url = setup_django(database)
    from django.db import connection
    from django.test import Client

    load(count, rebuild)
    client = Client()
    print(f"\n{connection.vendor} ({url.rsplit('@', 1)[-1]}), {count:,} listings, {runs} runs each")
    print(f"{'query':<34}{'p50 ms':>9}{'p95 ms':>9}{'results':>9}")
    search_p95 = []
    for label, params in SEARCHES:
        timings = measure(client, "/api/v1/models", params, runs)
        body = client.get("/api/v1/models", {k: v for k, v in params.items() if k != "page"}).json()
        total = body["facets"]["total"] if body.get("facets") else ""
        search_p95.append(percentile(timings, 0.95))
        print(
            f"{'search ' + label:<34}{statistics.median(timings):>9.1f}{percentile(timings, 0.95):>9.1f}{total:>9}"
        )
    auto_p95 = []
    for text in AUTOCOMPLETE:
        timings = measure(client, "/api/v1/models/autocomplete", {"q": text}, runs)
        found = len(client.get("/api/v1/models/autocomplete", {"q": text}).json()["suggestions"])
        auto_p95.append(percentile(timings, 0.95))
        print(
            f"{'autocomplete ' + repr(text):<34}{statistics.median(timings):>9.1f}{percentile(timings, 0.95):>9.1f}{found:>9}"
        )
    print(
        f"worst search p95 {max(search_p95):.1f} ms (target 30); worst autocomplete p95 {max(auto_p95):.1f} ms (target 10)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="sqlite", help="sqlite, or a postgres:// URL")
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument(
        "--rebuild", action="store_true", help="regenerate the data even if the count matches"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    run(args.database, args.models, args.runs, args.rebuild)


if __name__ == "__main__":
    main()

"""Shared fixtures. PostgreSQL and Redis are used when DATABASE_URL / REDIS_URL are set; SQLite and local memory
otherwise. Tests that need one of them skip with the reason when it is not configured."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from modelmarket.accounts.models import User
from modelmarket.accounts.services import api_key_create
from modelmarket.accounts.tests.factories import make_user

requires_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL: set DATABASE_URL=postgres://... (.ci/run does)",
)
requires_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL=redis://... (.ci/run does)"
)


@pytest.fixture(autouse=True)
def _default_currencies(request: pytest.FixtureRequest) -> None:
    """The currencies the billing migration seeds: transactional tests flush every table, seeded rows included, so
    they are put back before each test that uses the database."""
    names = set(request.fixturenames)
    if "transactional_db" in names or "live_server" in names:
        request.getfixturevalue("transactional_db")
    elif "db" in names:
        request.getfixturevalue("db")
    elif request.node.get_closest_marker("django_db") is None:
        return
    from modelmarket.billing.defaults import default_currencies_ensure
    from modelmarket.billing.models import Currency

    default_currencies_ensure(Currency)


@pytest.fixture(autouse=True)
def _fresh_cache_and_limits() -> None:
    """Each test starts with an empty cache and fresh rate-limit windows (Redis keeps state across tests)."""
    if settings.REDIS_URL:
        # Not cache.clear(): on Redis that empties the whole database, other test runs' keys included.
        from modelmarket.core.redis import redis_client

        for key in redis_client().scan_iter(f"{settings.REDIS_KEY_PREFIX}:*"):
            redis_client().delete(key)
    else:
        cache.clear()


@pytest.fixture
def buyer(db: Any) -> User:
    return make_user("buyer")


@pytest.fixture
def creator(db: Any) -> User:
    return make_user("creator")


@pytest.fixture
def moderator(db: Any) -> User:
    return make_user("moderator")


@pytest.fixture
def admin_user(db: Any) -> User:
    return make_user("admin")


class ApiClient(Client):
    """A test client that sends JSON and an API key."""

    def __init__(self, key: str | None = None, **defaults: Any) -> None:
        if key:
            defaults["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        super().__init__(**defaults)


@pytest.fixture
def api_key_for() -> Any:
    def make(user: User, scopes: tuple[str, ...] = ("inference", "read", "manage"), **kwargs: Any) -> str:
        _, raw = api_key_create(user=user, name="test key", scopes=list(scopes), **kwargs)
        return raw

    return make


@pytest.fixture
def api_client_for(api_key_for: Any) -> Any:
    def make(user: User, scopes: tuple[str, ...] = ("inference", "read", "manage")) -> ApiClient:
        return ApiClient(api_key_for(user, scopes))

    return make


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop this run's PostgreSQL test database even if a stray connection (a server thread of the browser test)
    kept Django's own teardown from dropping it; otherwise every run would leave one behind."""
    database = settings.DATABASES["default"]
    name = database.get("TEST", {}).get("NAME")
    if database["ENGINE"] == "django.db.backends.sqlite3" and name:
        for leftover in (
            f"{name}-wal",
            f"{name}-shm",
        ):  # Django removes the database file, not SQLite's WAL files
            if os.path.exists(leftover):
                os.remove(leftover)
        return
    if database["ENGINE"] != "django.db.backends.postgresql" or not name:
        return
    import psycopg

    with psycopg.connect(
        host=database.get("HOST") or None,
        port=database.get("PORT") or None,
        user=database.get("USER") or None,
        password=database.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

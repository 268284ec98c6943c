"""Tests: base settings, with jobs run at once, fast hashing and mail kept in memory.

PostgreSQL and Redis are used when DATABASE_URL / REDIS_URL are set (CI sets both), SQLite and local memory otherwise.
"""

import os

from .base import *  # noqa: F403
from .base import CACHES, DATABASES, HUEY, REDIS_URL, STATIC_ROOT, VAR_DIR

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
HUEY = {**HUEY, "immediate": True}
# Per run, so test runs sharing one PostgreSQL and one Redis (several developers, or CI beside a developer) never
# drop each other's test database or keys.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["TEST"] = {"NAME": f"test_modelmarket_{os.getpid()}"}
else:
    # A file, not Django's shared in-memory database: the gateway writes from its own threads while a test writes
    # too, and only a file database has WAL and the busy timeout (in memory, a table lock fails at once).
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
REDIS_KEY_PREFIX = f"mm-test-{os.getpid()}"
if REDIS_URL:
    CACHES = {"default": {**CACHES["default"], "KEY_PREFIX": REDIS_KEY_PREFIX}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
MEDIA_ROOT = VAR_DIR / "test-media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"handlers": [], "level": "WARNING"}}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request when it is missing
# The connection pool keeps background threads and open sockets, which do not survive the fork of the
# multi-process tests; tests use plain connections.
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
CATALOG_FACETS_CACHE_SECONDS = 0  # tests count queries and change data between searches; one test turns it on

"""Benchmark settings: the app's own settings on a throwaway database, local-memory cache, and rate limits out of
the way so only search is measured. bench/search.py picks the database: BENCH_SQLITE_PATH (SQLite configured
exactly as the embedded default: WAL, synchronous=NORMAL) or DATABASE_URL (PostgreSQL, pooled as in production)."""

import os

from config.settings.base import *  # noqa: F403
from config.settings.base import DATABASES

DEBUG = False
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "bench"}}
API_DEFAULT_REQUESTS_PER_MINUTE = 10**9
API_ANONYMOUS_REQUESTS_PER_MINUTE = 10**9
API_SESSION_REQUESTS_PER_MINUTE = 10**9
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"handlers": [], "level": "ERROR"}}
ALLOWED_HOSTS = ["*"]
if os.environ.get("BENCH_SQLITE_PATH"):
    DATABASES["default"]["NAME"] = os.environ["BENCH_SQLITE_PATH"]

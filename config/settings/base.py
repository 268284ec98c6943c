"""Settings for every environment. Every environment variable the marketplace reads is read here, and only here.

`test` and `production` import this module and override constants; they read no environment of their own.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("MODELMARKET_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "").strip()
    return [item.strip() for item in value.split(",") if item.strip()] if value else default


def development_secret_key() -> str:
    """A key generated once per checkout and kept under var/, so sessions survive restarts in development."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


ENVIRONMENT = os.environ.get("MODELMARKET_ENV", "development")
DEBUG = env_bool("DEBUG", default=ENVIRONMENT == "development")
SECRET_KEY = os.environ.get("SECRET_KEY") or (development_secret_key() if ENVIRONMENT != "production" else "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SITE_NAME = "ModelMarket"
# How many reverse proxies in front of us append to X-Forwarded-For; 0 trusts only REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.google",
    "allauth.mfa",
    "django_htmx",
    "huey.contrib.djhuey",
    "ninja",
    "modelmarket.core",
    "modelmarket.accounts",
    "modelmarket.ops",
    "modelmarket.catalog",
    "modelmarket.inference",
    "modelmarket.usage",
    "modelmarket.billing",
    "modelmarket.notifications",
]

MIDDLEWARE = [
    "modelmarket.ops.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Outer: rate limit (its headers go on every /api/ answer); inner: the error envelope for Django's own errors.
    "modelmarket.accounts.authentication.RateLimitMiddleware",
    "modelmarket.core.api.middleware.ApiEnvelopeMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "modelmarket.core.context_processors.site",
                "modelmarket.accounts.context_processors.account_menu",
                "modelmarket.notifications.context_processors.unread_notifications",
            ],
        },
    }
]

# --- Database ---------------------------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": env_int("DATABASE_POOL_SIZE", 10),
            "timeout": 10,
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "modelmarket.sqlite3"),
            "OPTIONS": {
                # WAL lets readers proceed while one writer writes; IMMEDIATE takes the write lock at BEGIN so two
                # writers queue on the busy timeout instead of failing with "database is locked" mid-transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                    "PRAGMA busy_timeout=20000; "
                    # A 64 MB page cache and memory-mapped reads: catalog scans and facet counts stay in memory.
                    "PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456; PRAGMA temp_store=MEMORY;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, allauth throttles, hot lookups) --------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
REDIS_KEY_PREFIX = "mm"  # every key we write to Redis starts with it (cache, rate limits)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
            # A stuck Redis must fail a cache call quickly, not hold the request.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "core_cache",
        }
    }

# --- Background jobs (Huey) -------------------------------------------------------------------------------------
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": "modelmarket",
        # Huey takes either a URL or connection parameters, not both: the timeouts ride in the URL's query.
        "url": REDIS_URL
        + ("&" if "?" in REDIS_URL else "?")
        + "socket_connect_timeout=2&socket_timeout=5&health_check_interval=30",
        "immediate": False,
        "utc": True,
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "modelmarket",
        "filename": str(VAR_DIR / "jobs.sqlite3"),
        "immediate": False,
        "utc": True,
    }
HUEY["consumer"] = {"workers": env_int("HUEY_WORKERS", 2), "worker_type": "thread"}

# --- Accounts ---------------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_ADAPTER = "modelmarket.accounts.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# Logging in works before verification; creating API keys and buying require a verified address.
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PRESERVE_USERNAME_CASING = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[ModelMarket] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https://") else "http"
# allauth's own limits (login failures, signups, password resets, confirmation mails); they use the cache.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = SITE_NAME
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, object]] = {}
for _provider, _prefix in (("google", "GOOGLE"), ("github", "GITHUB")):
    _client_id = os.environ.get(f"{_prefix}_CLIENT_ID", "")
    _secret = os.environ.get(f"{_prefix}_CLIENT_SECRET", "")
    if _client_id and _secret:
        SOCIALACCOUNT_PROVIDERS[_provider] = {"APPS": [{"client_id": _client_id, "secret": _secret}]}
SOCIALACCOUNT_PROVIDERS.setdefault("github", {})["SCOPE"] = ["user:email"]

# --- Email ------------------------------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "ModelMarket <no-reply@modelmarket.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
MAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
}


def mailer_from_url(url: str) -> dict[str, object]:
    """`smtp://user:pass@host:587?tls=1`, `smtps://user:pass@host`, `console://`, `file:///path` or `locmem://`."""
    parts = urlsplit(url)
    if parts.scheme not in MAIL_BACKENDS:
        raise ValueError(f"EMAIL_URL scheme must be one of {sorted(MAIL_BACKENDS)}")
    options: dict[str, object] = {}
    if parts.scheme == "file":
        options["file_path"] = parts.path
    if parts.scheme.startswith("smtp"):
        options = {
            "host": parts.hostname or "localhost",
            "port": parts.port or (465 if parts.scheme == "smtps" else 25),
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_ssl": parts.scheme == "smtps",
            "use_tls": parse_qs(parts.query).get("tls", ["0"])[0] in {"1", "true"},
            "timeout": 10,
        }
    return {"BACKEND": MAIL_BACKENDS[parts.scheme], "OPTIONS": options}


EMAIL_URL = os.environ.get("EMAIL_URL", "")
if EMAIL_URL:
    MAILERS = {"default": mailer_from_url(EMAIL_URL)}
elif os.environ.get("EMAIL_HOST"):
    MAILERS = {
        "default": {
            "BACKEND": MAIL_BACKENDS["smtp"],
            "OPTIONS": {
                "host": os.environ["EMAIL_HOST"],
                "port": env_int("EMAIL_PORT", 587),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
                "timeout": 10,
            },
        }
    }
else:
    # Development mail lands in var/mail/ as files a person can open.
    MAILERS = {"default": {"BACKEND": MAIL_BACKENDS["file"], "OPTIONS": {"file_path": str(VAR_DIR / "mail")}}}

# --- Files ------------------------------------------------------------------------------------------------------
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
# The largest request body read into memory (JSON API bodies, forms). File uploads stream past this separately.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BODY_BYTES", 1024 * 1024)
# Any request body at all (forms with an avatar included) outside the model-file upload paths below; refused by the
# ASGI guard (modelmarket/core/asgi.py) before Django reads it.
MAX_REQUEST_BYTES = 16 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
AVATAR_MAX_UPLOAD_BYTES = 5 * 1024 * 1024
AVATAR_SIZE_PX = 256

# --- Model files: uploads, storage, validation (owned by the catalog's files module) ------------------------------
# Uploads stream to storage in chunks; this caps one file. Local storage lives under MEDIA_ROOT/models (resolved in
# modelmarket/catalog/storage.py, so a MEDIA_ROOT override applies); S3-compatible storage when S3_BUCKET is set.
MODEL_FILE_MAX_BYTES = env_int("MODEL_FILE_MAX_BYTES", 20 * 1024**3)
# Paths (regular expressions) that take model-file bodies up to MODEL_FILE_MAX_BYTES; see MAX_REQUEST_BYTES.
MODEL_FILE_UPLOAD_PATHS = [
    r"^/api/v1/models/[^/]+/versions/[^/]+/files$",
    r"^/models/[^/]+/versions/[^/]+/files/$",
]
# ONNX files larger than this are checked structurally but not loaded into onnxruntime (memory and time).
MODEL_FILE_ONNX_MAX_LOAD_BYTES = env_int("MODEL_FILE_ONNX_MAX_LOAD_BYTES", 2 * 1024**3)
MODEL_FILE_ONNX_LOAD_TIMEOUT_SECONDS = 120
S3_BUCKET = os.environ.get("S3_BUCKET", "")
S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL", "")
S3_REGION = os.environ.get("S3_REGION", "")
AWS_ACCESS_KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID", "")
AWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
S3_SIGNED_URL_SECONDS = env_int("S3_SIGNED_URL_SECONDS", 300)
if S3_BUCKET:
    MODEL_FILE_STORAGE: dict[str, object] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": S3_ENDPOINT_URL or None,
            "region_name": S3_REGION or None,
            "access_key": AWS_ACCESS_KEY_ID or None,
            "secret_key": AWS_SECRET_ACCESS_KEY or None,
            "location": "models",
            "default_acl": None,
            "querystring_auth": True,
            "signature_version": "s3v4",
            "querystring_expire": S3_SIGNED_URL_SECONDS,
            "file_overwrite": True,  # keys are random; skips an existence check per upload
        },
    }
else:
    MODEL_FILE_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {}}
# --- End of model files -----------------------------------------------------------------------------------------

# --- API --------------------------------------------------------------------------------------------------------
API_KEY_PREFIX = "mm_"
API_DEFAULT_REQUESTS_PER_MINUTE = env_int("API_DEFAULT_REQUESTS_PER_MINUTE", 120)
API_ANONYMOUS_REQUESTS_PER_MINUTE = env_int("API_ANONYMOUS_REQUESTS_PER_MINUTE", 60)
# Payment webhooks (signed, verified before anything is stored) arrive in bursts from the provider's few addresses.
API_WEBHOOK_REQUESTS_PER_MINUTE = env_int("API_WEBHOOK_REQUESTS_PER_MINUTE", 6000)
API_SESSION_REQUESTS_PER_MINUTE = env_int("API_SESSION_REQUESTS_PER_MINUTE", 240)
API_RATE_LIMIT_WINDOW_SECONDS = 60
IDEMPOTENCY_KEY_TTL_HOURS = 24
NINJA_PAGINATION_MAX_LIMIT = 100
# How long the catalog's facet counts for one filter set are shared (0 computes them on every request).
CATALOG_FACETS_CACHE_SECONDS = 60

# --- Provider sync (catalog mirror of Hugging Face and Replicate) ----------------------------------------------
HUGGINGFACE_TOKEN = os.environ.get("HUGGINGFACE_TOKEN", "")
REPLICATE_API_TOKEN = os.environ.get("REPLICATE_API_TOKEN", "")
HUGGINGFACE_API_BASE = os.environ.get("HUGGINGFACE_API_BASE", "https://huggingface.co").rstrip("/")
REPLICATE_API_BASE = os.environ.get("REPLICATE_API_BASE", "https://api.replicate.com").rstrip("/")
# The periodic job (modelmarket/catalog/sync_tasks.py) runs daily at this hour (UTC) when enabled.
CATALOG_SYNC_ENABLED = env_bool("CATALOG_SYNC_ENABLED", False)
CATALOG_SYNC_HOUR = env_int("CATALOG_SYNC_HOUR", 3)
CATALOG_SYNC_LIMIT = env_int("CATALOG_SYNC_LIMIT", 500)
# One Hugging Face run per search term; empty means one run over the most downloaded models.
CATALOG_SYNC_HUGGINGFACE_SEARCHES = env_list("CATALOG_SYNC_HUGGINGFACE_SEARCHES", [""])
CATALOG_SYNC_PAGE_SIZE = 100
CATALOG_SYNC_CONNECT_TIMEOUT_SECONDS = 5.0
CATALOG_SYNC_READ_TIMEOUT_SECONDS = 30.0
CATALOG_SYNC_MAX_ATTEMPTS = 5
# Per request, every wait included; Hugging Face's rate-limit window is 300 s, so a full window fits.
CATALOG_SYNC_TIME_BUDGET_SECONDS = 330.0
# --- End of provider sync ---------------------------------------------------------------------------------------

# --- Security ---------------------------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF, "https://github.com", "https://accounts.google.com"],
    "frame-ancestors": [CSP.NONE],
}

# --- Internationalisation ---------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Inference gateway ------------------------------------------------------------------------------------------
# Upstream URLs that creators supply are refused when they resolve to private, loopback, link-local or metadata
# addresses, unless the host is listed here (for a model server on the operator's own network).
GATEWAY_ALLOWED_UPSTREAM_HOSTS = env_list("GATEWAY_ALLOWED_UPSTREAM_HOSTS", [])
# Total time for one call, retries included, and the connect timeout of each attempt.
GATEWAY_TIMEOUT_SECONDS = env_int("GATEWAY_TIMEOUT_SECONDS", 60)
GATEWAY_CONNECT_TIMEOUT_SECONDS = env_int("GATEWAY_CONNECT_TIMEOUT_SECONDS", 5)
# The free tier of free listings, per user and listing (0 = no limit); a listing's creator is never limited.
GATEWAY_FREE_REQUESTS_PER_MINUTE = env_int("GATEWAY_FREE_REQUESTS_PER_MINUTE", 60)
GATEWAY_FREE_REQUESTS_PER_DAY = env_int("GATEWAY_FREE_REQUESTS_PER_DAY", 1000)
GATEWAY_FREE_TOKENS_PER_DAY = env_int("GATEWAY_FREE_TOKENS_PER_DAY", 200_000)
# Long jobs (Replicate predictions answered 202) still running after this long are cancelled.
GATEWAY_JOB_MAX_SECONDS = env_int("GATEWAY_JOB_MAX_SECONDS", 3600)
# Pay as you go: output tokens reserved for a call that names no max_tokens, and the most ever reserved for one.
GATEWAY_PAYG_MAX_OUTPUT_TOKENS = env_int("GATEWAY_PAYG_MAX_OUTPUT_TOKENS", 4096)
GATEWAY_MAX_REQUEST_BYTES = env_int("GATEWAY_MAX_REQUEST_BYTES", 1_000_000)
GATEWAY_MAX_RESPONSE_BYTES = env_int("GATEWAY_MAX_RESPONSE_BYTES", 10_000_000)
# The OpenAI-compatible router and task endpoints of Hugging Face (inference; the Hub API above is for sync).
HUGGINGFACE_INFERENCE_BASE = os.environ.get(
    "HUGGINGFACE_INFERENCE_BASE", "https://router.huggingface.co"
).rstrip("/")
# Where local ONNX files are copied from remote storage (S3) before onnxruntime opens them.
ONNX_CACHE_DIR = Path(os.environ.get("ONNX_CACHE_DIR", VAR_DIR / "onnx-cache"))
# Raw usage events older than this are deleted (every 6 hours); the usage rollups behind stats and analytics stay.
USAGE_EVENT_RETENTION_DAYS = env_int("USAGE_EVENT_RETENTION_DAYS", 90)

# --- Billing and payments ---------------------------------------------------------------------------------------
# The platform's share of every payment and pay-as-you-go charge, in basis points (1500 = 15 %).
BILLING_PLATFORM_FEE_BPS = env_int("BILLING_PLATFORM_FEE_BPS", 1500)
# An order not paid within this many minutes expires (its checkout page stops accepting payment).
BILLING_ORDER_TTL_MINUTES = env_int("BILLING_ORDER_TTL_MINUTES", 60)
# Days a subscription keeps working after its period ended without a renewal, and reminder lead time.
BILLING_GRACE_DAYS = env_int("BILLING_GRACE_DAYS", 3)
BILLING_REMINDER_DAYS = env_int("BILLING_REMINDER_DAYS", 3)
# Helio (MoonPay Commerce): the payment gateway is "helio" when its keys are set, else the offline sandbox.
HELIO_ENV = os.environ.get("HELIO_ENV", "dev")
HELIO_PUBLIC_KEY = os.environ.get("HELIO_PUBLIC_KEY", "")
HELIO_SECRET_KEY = os.environ.get("HELIO_SECRET_KEY", "")
HELIO_WALLET_ID = os.environ.get("HELIO_WALLET_ID", "")
HELIO_API_BASE = os.environ.get(
    "HELIO_API_BASE", "https://api.hel.io/v1" if HELIO_ENV == "prod" else "https://api.dev.hel.io/v1"
).rstrip("/")
HELIO_PAY_BASE = os.environ.get(
    "HELIO_PAY_BASE", "https://app.hel.io/pay" if HELIO_ENV == "prod" else "https://app.dev.hel.io/pay"
).rstrip("/")
HELIO_TIMEOUT_SECONDS = env_int("HELIO_TIMEOUT_SECONDS", 15)
PAYMENT_GATEWAY = os.environ.get(
    "PAYMENT_GATEWAY", "helio" if HELIO_PUBLIC_KEY and HELIO_SECRET_KEY else "sandbox"
)

# --- Observability ----------------------------------------------------------------------------------------------
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
# prometheus_client reads this variable itself; several worker processes share their counters through the folder.
PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "modelmarket.ops.logging.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "modelmarket.ops.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Our request log replaces Django's; the server's own access log is off in `make run` for the same reason.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        # run_huey adds a plain handler of its own unless huey's logger already has one.
        "huey": {"level": "INFO", "handlers": ["console"], "propagate": False},
    },
}

if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(dsn=SENTRY_DSN, send_default_pii=False, traces_sample_rate=0.0, environment=ENVIRONMENT)

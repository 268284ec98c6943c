"""A gateway-only process (`modelmarket.inference.gateway.asgi`): the environment's settings (production's when
MODELMARKET_ENV=production, base's otherwise) with only the apps whose models the gateway reads, so a gateway worker
does not load the admin, the API framework, the job queue or the page stack (about 40 MB less per worker)."""

from .base import ENVIRONMENT

if ENVIRONMENT == "production":
    from .production import *  # noqa: F403
else:
    from .base import *  # noqa: F403

GATEWAY_APPS = (
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "allauth",  # the accounts' email addresses (API keys need a verified one)
    "allauth.account",
    "modelmarket.core",
    "modelmarket.accounts",
    "modelmarket.catalog",
    "modelmarket.inference",
    "modelmarket.usage",
    "modelmarket.billing",  # entitlements, plans and pay-as-you-go credit
)
INSTALLED_APPS = list(GATEWAY_APPS)

"""Production: everything from base, hardened. Configuration still comes only from base's environment reads."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DEBUG, MAIL_BACKENDS, MAILERS, SECRET_KEY, SECURE_CSP

if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production (unset DEBUG or set it to 0).")
if not SECRET_KEY or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY is required in production: at least 50 random characters.")

SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CSP = {**SECURE_CSP, "upgrade-insecure-requests": True}
# The load balancer's health probe reaches us over plain HTTP on the internal network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# Without EMAIL_URL or EMAIL_HOST, base writes mail to files for a developer to read. A server instead hands it to
# the local mail transfer agent, as Django does by default; set EMAIL_URL to use a relay.
if MAILERS["default"]["BACKEND"] == MAIL_BACKENDS["file"]:
    MAILERS = {
        "default": {
            "BACKEND": MAIL_BACKENDS["smtp"],
            "OPTIONS": {"host": "localhost", "port": 25, "timeout": 10},
        }
    }

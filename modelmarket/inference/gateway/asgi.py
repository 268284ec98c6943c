"""The gateway on its own, to scale it apart from the web tier (settings: `config.settings.gateway`):

    granian --interface asgi --workers 4 --runtime-mode st --http 1 --no-access-log \
        modelmarket.inference.gateway.asgi:application

(`--runtime-mode st --http 1`: measured less CPU per call, see docs/operations.md; behind a load balancer that speaks
HTTP/1.1 to it.)
`config/asgi.py` serves the same application beside Django in one process (`make run`)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.gateway")
django.setup()

from modelmarket.inference.gateway.app import build_app  # noqa: E402  (after Django is set up)

application = build_app()

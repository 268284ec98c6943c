import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402  (after Django is set up)

from modelmarket.core.asgi import BodySizeGuard, PathDispatcher  # noqa: E402
from modelmarket.inference.gateway.app import build_app  # noqa: E402

# The gateway (the hot path: /v1/*, native inference and jobs) is a lean ASGI app of its own; Django serves the rest.
gateway_application = build_app()
application = PathDispatcher(
    routes=[
        (r"^/v1/", gateway_application),
        (r"^/api/v1/models/[^/]+/inference/?$", gateway_application),
        (r"^/api/v1/inference/", gateway_application),
    ],
    default=BodySizeGuard(
        django_application,
        default_limit=settings.MAX_REQUEST_BYTES,
        path_limits=[
            (pattern, settings.MODEL_FILE_MAX_BYTES) for pattern in settings.MODEL_FILE_UPLOAD_PATHS
        ],
    ),
    lifespan=gateway_application,
)

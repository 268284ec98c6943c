import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402  (after Django is set up)

from modelmarket.core.asgi import BodySizeGuard  # noqa: E402

application = BodySizeGuard(
    django_application,
    default_limit=settings.MAX_REQUEST_BYTES,
    path_limits=[(pattern, settings.MODEL_FILE_MAX_BYTES) for pattern in settings.MODEL_FILE_UPLOAD_PATHS],
)

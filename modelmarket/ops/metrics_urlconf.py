"""The root URLconf plus /metrics, used for /metrics requests only while `config/urls.py` has no route for it
(see `RequestContextMiddleware`). A superset of the root, so reversing URLs and error pages work as usual."""

from django.urls import path

from config.urls import handler404, handler500
from config.urls import urlpatterns as root_urlpatterns
from modelmarket.ops import views

urlpatterns = [path("metrics", views.metrics, name="metrics"), *root_urlpatterns]

__all__ = ["handler404", "handler500", "urlpatterns"]

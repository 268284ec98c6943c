"""Operations endpoints, for `config/urls.py` to include with `path("", include("modelmarket.ops.urls"))`.

Until it does, /healthz and /readyz are routed by `config/urls.py` itself and /metrics by `metrics_urlconf`."""

from django.urls import path

from modelmarket.ops import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
]

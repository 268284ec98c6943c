from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from config.api import api
from modelmarket.core import views as core_views

admin.site.site_header = "ModelMarket staff"
admin.site.site_title = "ModelMarket staff"

urlpatterns = [
    path("", include("modelmarket.core.urls")),
    path("favicon.ico", core_views.favicon),
    path("", include("modelmarket.ops.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("account/", include("modelmarket.accounts.urls")),
    path("", include("modelmarket.usage.urls")),
    path("", include("modelmarket.billing.urls")),
    path("", include("modelmarket.notifications.urls")),
    path("", include("modelmarket.catalog.urls")),
    path("api/v1/", api.urls),
    path("api/docs", core_views.api_docs, name="api_docs"),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler403 = "modelmarket.core.views.permission_denied"
handler404 = "modelmarket.core.views.page_not_found"
handler500 = "modelmarket.core.views.server_error"

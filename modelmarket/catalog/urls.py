"""Catalog pages. Each views module owns its own urlpatterns; fixed paths come before /models/<slug>/."""

from modelmarket.catalog.views import browse, creator, files

urlpatterns = [*creator.urlpatterns, *files.urlpatterns, *browse.urlpatterns]

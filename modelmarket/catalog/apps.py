from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _search_index_ensure(using: str = "default", **_: Any) -> None:
    from django.db import connections

    from modelmarket.catalog.search_index import search_index_ensure
    from modelmarket.core.db import planner_statistics_refresh

    search_index_ensure(connections[using])
    planner_statistics_refresh(connections[using])  # a table rebuild drops them


class CatalogConfig(AppConfig):
    name = "modelmarket.catalog"
    label = "catalog"

    def ready(self) -> None:
        # Infrastructure, not domain flow: a SQLite table rebuild in any later migration detaches the FTS triggers.
        post_migrate.connect(_search_index_ensure, sender=self, dispatch_uid="catalog.search_index_ensure")

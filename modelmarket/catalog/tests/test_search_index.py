from __future__ import annotations

import pytest
from django.db import connection

from modelmarket.catalog.models import AIModel
from modelmarket.catalog.search_index import TRIGGERS, search_index_ensure
from modelmarket.catalog.selectors.search import model_search, model_search_params_from_query
from modelmarket.catalog.services.models import model_create

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 triggers exist only on SQLite"),
]


def _publish(model: AIModel) -> None:
    from django.utils import timezone

    AIModel.objects.filter(pk=model.pk).update(status="published", published_at=timezone.now())


def test_detached_triggers_are_restored_and_the_index_rebuilt(creator):
    with connection.cursor() as cursor:
        for name in TRIGGERS:
            cursor.execute(f"DROP TRIGGER {name}")
    # Written while detached, as after a table rebuild: the index does not know this listing.
    _publish(model_create(actor=creator, name="Quokka detector", task="object-detection", license="mit"))
    query = model_search_params_from_query({"q": "quokka"})
    assert model_search(query).items == []
    assert search_index_ensure(connection) is True
    assert [model.name for model in model_search(query).items] == ["Quokka detector"]
    assert search_index_ensure(connection) is False  # nothing left to repair

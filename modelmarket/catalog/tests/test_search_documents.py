"""Relevance ranking with filters and paging on both databases, and, on PostgreSQL, the search documents (migration
0005): one narrow row per public listing, kept by triggers, that text search filters and ranks on."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from conftest import requires_postgres
from modelmarket.accounts.tests.factories import make_user
from modelmarket.catalog.models import AIModel
from modelmarket.catalog.selectors.models import public_models
from modelmarket.catalog.selectors.search import model_search, model_search_params
from modelmarket.catalog.services.models import model_delete, model_deprecate, model_restore, model_update
from modelmarket.catalog.tests.test_search import listing, slugs

pytestmark = pytest.mark.django_db


def search(**raw: Any) -> Any:
    return model_search(model_search_params(**raw))


def all_pages(**raw: Any) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        result = search(**raw, cursor=cursor)
        seen += slugs(result)
        cursor = result.next_cursor
        if cursor is None:
            return seen


# --- Relevance, both databases ------------------------------------------------------------------------------------
def test_relevance_pages_hold_the_best_ranked_matches_in_order(creator):
    # The more often the word, the better the match; created in shuffled order so ids do not carry the order.
    occurrences = list(range(1, 13))
    random.Random(5).shuffle(occurrences)
    by_occurrences = {
        count: listing(creator, f"Listing {count}", card_markdown="quokka " * count + "other words here")
        for count in occurrences
    }
    listing(creator, "Unrelated", card_markdown="nothing to see")
    best_first = [by_occurrences[count].slug for count in sorted(occurrences, reverse=True)]

    assert slugs(search(q="quokka", limit=3)) == best_first[:3]
    assert all_pages(q="quokka", limit=5) == best_first


@pytest.fixture
def shared_word_catalog(creator):
    """Three listings with the word "shared" in the summary, differing in every filter."""
    other = make_user("creator")
    return {
        "chat": listing(
            creator,
            "Chatty",
            summary="A shared chat model.",
            task="chat",
            license="mit",
            commercial_use=True,
            tags=["llm", "english"],
            pricing="paid",
            rating_average=Decimal("4.5"),
            rating_count=10,
        ),
        "vision": listing(
            creator,
            "Seer",
            summary="A shared vision model.",
            task="image-classification",
            license="cc-by-nc-4.0",
            tags=["vision"],
            source="replicate",
            external_id="org/seer",
            rating_average=Decimal("3.9"),
        ),
        "embed": listing(
            other,
            "Embedder",
            summary="Shared embeddings.",
            task="embeddings",
            license="mit",
            tags=["llm"],
            commercial_use=True,
        ),
        "other": other,
    }


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, {"chat", "vision", "embed"}),
        ({"task": "chat"}, {"chat"}),
        ({"tag": ["llm"]}, {"chat", "embed"}),
        ({"tag": ["llm", "english"]}, {"chat"}),
        ({"tag": ["no-such-tag"]}, set()),
        ({"license": "mit"}, {"chat", "embed"}),
        ({"commercial_use": "true"}, {"chat", "embed"}),
        ({"commercial_use": "false"}, {"vision"}),
        ({"source": "replicate"}, {"vision"}),
        ({"pricing": "free"}, {"vision", "embed"}),
        ({"min_rating": "3.9"}, {"chat", "vision"}),
    ],
)
@pytest.mark.parametrize("sort", ["relevance", "trending"])
def test_text_with_each_filter_in_each_sort(shared_word_catalog, filters, expected, sort):
    result = search(q="shared", sort=sort, **filters)

    assert set(slugs(result)) == {shared_word_catalog[name].slug for name in expected}
    assert result.facets.total == len(expected)
    assert sum(value.count for value in result.facets.task) == len(expected)


def test_text_with_the_creator_filter(shared_word_catalog):
    result = search(q="shared", creator=str(shared_word_catalog["other"].pk))

    assert slugs(result) == [shared_word_catalog["embed"].slug]


def test_relevance_paging_with_a_filter_returns_every_match_once(creator):
    expected = {
        listing(creator, f"Paging {number}", license="mit", card_markdown="paging " * (number % 3)).slug
        for number in range(7)
    }
    listing(creator, "Paging elsewhere", license="apache-2.0")

    seen = all_pages(q="paging", license="mit", limit=2)

    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == expected


# --- A single word still being typed, both databases --------------------------------------------------------------
@pytest.fixture
def quokkanet_catalog(creator):
    """Listings with "quokkanet" in their name or elsewhere. The oldest name match is the most relevant one."""
    return {
        "relevant_named": listing(
            creator, "Quokkanet Base", summary="Quokkanet for quokkanet fans: quokkanet everywhere."
        ),
        "card_only": listing(creator, "Marsupial Counter", card_markdown="Compared with quokkanet models."),
        "named": listing(creator, "Quokkanet Large", summary="A large model."),
        "tagged": listing(creator, "Island Fauna", tags=["quokkanet"]),
        "unrelated": listing(creator, "Wombat Base"),
    }


def test_a_word_still_being_typed_lists_name_matches_first_newest_first(quokkanet_catalog):
    catalog = quokkanet_catalog

    result = search(q="quokk")  # no listing has "quokk" whole: the person is still typing

    assert slugs(result) == [
        catalog["named"].slug,
        catalog["relevant_named"].slug,
        catalog["tagged"].slug,
        catalog["card_only"].slug,
    ]
    assert result.search.sort == "relevance"
    assert result.facets.total == 4


def test_a_finished_word_ranks_by_relevance(quokkanet_catalog):
    catalog = quokkanet_catalog

    result = search(q="quokkanet")

    assert slugs(result)[:2] == [catalog["relevant_named"].slug, catalog["named"].slug]
    assert slugs(result)[-1] == catalog["card_only"].slug
    assert len(result.items) == 4


def test_a_word_some_public_listing_has_whole_is_finished(quokkanet_catalog, creator):
    catalog = quokkanet_catalog
    in_order = [catalog["named"].slug, catalog["relevant_named"].slug]
    listing(creator, "Draft", publish=False, summary="Quokk.")  # a draft does not finish it

    assert slugs(search(q="quokk"))[:2] == in_order

    whole = listing(creator, "Marsupial Atlas", summary="Quokk.")

    ranked = slugs(search(q="quokk"))
    assert ranked.index(catalog["relevant_named"].slug) < ranked.index(catalog["named"].slug)
    assert whole.slug in ranked
    assert len(ranked) == 5


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["named 3", "named 2", "named 1", "named 0", "other 2", "other 1", "other 0"]),
        ({"task": "chat"}, ["named 3", "named 1", "other 1"]),
    ],
)
def test_paging_a_word_still_being_typed_returns_every_match_once_in_order(creator, filters, expected):
    by_label = {}
    for number in range(4):
        by_label[f"named {number}"] = listing(
            creator, f"Wombatix {number}", task="chat" if number % 2 else "embeddings"
        )
    for number in range(3):
        by_label[f"other {number}"] = listing(
            creator,
            f"Other {number}",
            summary="Built on wombatix.",
            task="chat" if number % 2 else "embeddings",
        )

    seen = all_pages(q="wombat", limit=2, **filters)

    assert seen == [by_label[label].slug for label in expected]


# --- The search documents, PostgreSQL -----------------------------------------------------------------------------
def documents() -> dict[int, tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT model_id, task, license, commercial_use, source, creator_id, pricing, rating_average"
            " FROM catalog_aimodel_search"
        )
        return {row[0]: row[1:] for row in cursor.fetchall()}


def assert_documents_match_public_listings() -> None:
    expected = {
        model.pk: (
            model.task,
            model.license,
            model.commercial_use,
            model.source,
            model.creator_id,
            model.pricing,
            model.rating_average,
        )
        for model in public_models()
    }
    assert documents() == expected


@requires_postgres
def test_search_documents_follow_every_change_of_a_listing(creator, moderator):
    draft = listing(creator, "Wombat tracker", publish=False)
    assert documents() == {}

    model = listing(creator, "Wombat counter", summary="Counts wombats.")
    assert set(documents()) == {model.pk}

    model = model_update(actor=creator, model=model, changes={"name": "Numbat tally", "license": "mit"})
    assert_documents_match_public_listings()
    assert slugs(search(q="numbat")) == [model.slug]
    assert slugs(search(q="numbat", license="mit")) == [model.slug]
    assert slugs(search(q="wombat counter")) == []  # the old name is gone; the summary still says wombats

    AIModel.objects.filter(pk=model.pk).update(rating_average=Decimal("4.2"), pricing="paid")
    assert_documents_match_public_listings()

    model = model_deprecate(actor=creator, model=model)
    assert_documents_match_public_listings()
    assert set(documents()) == {model.pk}

    model_delete(actor=creator, model=model)
    assert documents() == {}
    assert slugs(search(q="numbat")) == []

    model_restore(actor=creator, model=model)
    assert set(documents()) == {model.pk}

    AIModel.objects.filter(pk=model.pk).delete()
    assert documents() == {}
    assert draft.pk not in documents()


@requires_postgres
def test_counter_updates_leave_search_documents_alone(creator):
    model = listing(creator, "Busy model")
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text FROM catalog_aimodel_search WHERE model_id = %s", [model.pk])
        before = cursor.fetchone()

        AIModel.objects.filter(pk=model.pk).update(
            download_count=10, call_count=3, trending_score=2.5, updated_at=timezone.now()
        )
        AIModel.objects.get(pk=model.pk).save()  # a full save rewrites every column with the same values

        cursor.execute("SELECT xmin::text FROM catalog_aimodel_search WHERE model_id = %s", [model.pk])
        assert cursor.fetchone() == before


@requires_postgres
def test_truncating_listings_empties_search_documents(creator):
    listing(creator, "Soon gone")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses while deferred checks are pending
        cursor.execute("TRUNCATE catalog_aimodel CASCADE")

    assert documents() == {}


def test_a_stop_word_being_typed_matches_like_any_other_start_of_a_word(creator):
    """'in' is an English stop word; typed on the way to 'instruct' it must still find what starts with it (it
    found nothing on PostgreSQL, whose English configuration drops stop words from queries)."""
    instruct = listing(creator, "Instruct Tiny", summary="Follows instructions.")
    index = listing(creator, "Vector Indexer", summary="Builds indexes.")
    listing(creator, "Wombat Base", summary="Counts wombats.")

    assert set(slugs(search(q="in"))) == {instruct.slug, index.slug}
    assert slugs(search(q="Wombat in")) == []  # the prefix still narrows a longer text
    assert slugs(search(q="tiny in")) == [instruct.slug]

"""Catalog search: the selector shared by the API and the pages, and the /api/v1/models read endpoints."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from conftest import requires_postgres
from modelmarket.accounts.models import User
from modelmarket.accounts.tests.factories import make_user
from modelmarket.catalog.models import AIModel
from modelmarket.catalog.selectors.search import (
    fts5_match_expression,
    model_autocomplete,
    model_search,
    model_search_params,
    model_search_params_from_query,
)
from modelmarket.catalog.services.models import (
    model_create,
    model_delete,
    model_publish,
    version_create,
    version_publish,
)
from modelmarket.catalog.vocabulary import ModelStatus
from modelmarket.core.exceptions import BadRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def creator(db: Any) -> User:
    """A creator with a fixed name: a generated one can match the words these tests search for (a run failed when
    Faker named the creator "Whis..." and `q=whis` found both of their listings)."""
    return make_user("creator", display_name="Quentin Zed")


def listing(creator: User, name: str, *, publish: bool = True, **fields: Any) -> AIModel:
    """A listing made through the services: a Hugging Face listing (no files to validate), published."""
    counters = {
        key: fields.pop(key)
        for key in (
            "download_count",
            "call_count",
            "rating_average",
            "rating_count",
            "trending_score",
            "pricing",
        )
        if key in fields
    }
    fields.setdefault("task", "text-generation")
    fields.setdefault("license", "apache-2.0")
    fields.setdefault("source", "huggingface")
    if fields["source"] == "huggingface":
        fields.setdefault("external_id", f"org/{name.lower().replace(' ', '-')}")
    model = model_create(actor=creator, name=name, **fields)
    if publish:
        version = version_create(actor=creator, model=model, version="1.0.0", changelog="First release.")
        version_publish(actor=creator, version=version)
        model = model_publish(actor=creator, model=model)
    if counters:
        AIModel.objects.filter(pk=model.pk).update(**counters)
        model.refresh_from_db()
    return model


def slugs(result: Any) -> list[str]:
    return [model.slug for model in result.items]


def search(**raw: Any) -> Any:
    return model_search(model_search_params(**raw))


def api_get(client: Any, path: str = "/api/v1/models", **params: Any) -> Any:
    return client.get(path, params)


# --- Text search and ranking --------------------------------------------------------------------------------------
def test_a_name_match_ranks_above_a_card_only_match(creator):
    card_only = listing(
        creator, "Alpha Classifier", card_markdown="Compared against the falcon family in tests."
    )
    named = listing(creator, "Falcon 7B", summary="A small chat model.")

    result = search(q="falcon")

    assert slugs(result) == [named.slug, card_only.slug]
    assert result.search.sort == "relevance"


def test_text_search_covers_summary_tags_and_creator_name(creator):
    by_summary = listing(creator, "One", summary="Detects sarcasm in tweets.")
    by_tag = listing(creator, "Two", tags=["sarcasm"])
    listing(creator, "Three", summary="Something else.")
    creator_name = AIModel.objects.get(pk=by_summary.pk).creator_name.split()[0]

    assert set(slugs(search(q="sarcasm"))) == {by_summary.slug, by_tag.slug}
    assert len(search(q=creator_name).items) == 3


def test_the_last_word_matches_as_a_prefix(creator):
    model = listing(creator, "Whisper Large")
    listing(creator, "Bert Base")

    assert slugs(search(q="whis")) == [model.slug]
    assert slugs(search(q="large whisp")) == [model.slug]


def test_every_word_must_match(creator):
    both = listing(creator, "Llama Chat")
    listing(creator, "Llama Base")

    assert slugs(search(q="llama chat")) == [both.slug]


@pytest.mark.parametrize(
    "text",
    [
        '"',
        '""',
        "*",
        "llama*",
        "NEAR(",
        "NEAR(a b)",
        "a OR",
        "OR",
        "AND",
        "NOT x",
        "-",
        "name:llama",
        "{name}: x",
        "(",
        ")",
        "^llama",
        "'",
        "\\",
        "%",
        "_",
        "llama -",
        "x & y | !z",
        "a:*",
        "é ü 漢字",
        "\x00",
        "a" * 500,
    ],
)
def test_search_syntax_characters_never_raise(creator, client, text):
    listing(creator, "Llama Chat")

    response = api_get(client, q=text)

    assert response.status_code == 200, response.content
    assert model_autocomplete(text) is not None


def test_fts5_expression_quotes_every_chunk():
    assert fts5_match_expression('say "hi" NEAR(x') == '"say" "hi" "NEAR x"*'
    assert fts5_match_expression("** ()") == ""
    assert fts5_match_expression("lla", column="name") == '{name} : ("lla"*)'


# --- Visibility ---------------------------------------------------------------------------------------------------
def test_only_public_models_are_listed(creator, moderator):
    published = listing(creator, "Visible One")
    deprecated = listing(creator, "Visible Old")
    AIModel.objects.filter(pk=deprecated.pk).update(status=ModelStatus.DEPRECATED)
    listing(creator, "Hidden Draft", publish=False)
    pending = listing(creator, "Hidden Pending", publish=False)
    AIModel.objects.filter(pk=pending.pk).update(status=ModelStatus.PENDING_REVIEW)
    rejected = listing(creator, "Hidden Rejected", publish=False)
    AIModel.objects.filter(pk=rejected.pk).update(status=ModelStatus.REJECTED)
    deleted = listing(creator, "Hidden Deleted")
    model_delete(actor=creator, model=deleted)

    assert set(slugs(search())) == {published.slug, deprecated.slug}
    assert set(slugs(search(q="hidden"))) == set()
    assert search().facets.total == 2
    assert model_autocomplete("hidden") == []
    assert [s.slug for s in model_autocomplete("visible")] != []


# --- Filters ------------------------------------------------------------------------------------------------------
@pytest.fixture
def catalog(creator):
    other = make_user("creator", display_name="Ursula Vex")
    return {
        "chat": listing(
            creator,
            "Chatty",
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
            task="image-classification",
            license="cc-by-nc-4.0",
            tags=["vision"],
            source="uploaded" if False else "replicate",
            external_id="org/seer",
            rating_average=Decimal("3.9"),
        ),
        "embed": listing(
            other, "Embedder", task="embeddings", license="mit", tags=["llm"], commercial_use=True
        ),
        "other": other,
    }


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"task": "chat"}, {"chat"}),
        ({"tag": ["llm"]}, {"chat", "embed"}),
        ({"tag": ["llm", "english"]}, {"chat"}),
        ({"tag": ["llm", "vision"]}, set()),
        ({"license": "mit"}, {"chat", "embed"}),
        ({"license": "MIT"}, {"chat", "embed"}),
        ({"commercial_use": "true"}, {"chat", "embed"}),
        ({"commercial_use": "false"}, {"vision"}),
        ({"source": "replicate"}, {"vision"}),
        ({"pricing": "paid"}, {"chat"}),
        ({"pricing": "free"}, {"vision", "embed"}),
        ({"min_rating": "4"}, {"chat"}),
        ({"min_rating": "3.9"}, {"chat", "vision"}),
        ({"license": "unknown-license"}, set()),
        ({"tag": ["no-such-tag"]}, set()),
    ],
)
def test_each_filter(catalog, filters, expected):
    result = search(**filters)

    assert set(slugs(result)) == {catalog[name].slug for name in expected}


def test_creator_filter_takes_the_user_id(catalog):
    assert slugs(search(creator=str(catalog["other"].pk))) == [catalog["embed"].slug]


def test_facets_count_the_filtered_set(catalog):
    facets = search(tag=["llm"]).facets

    assert facets.total == 2
    assert [(f.value, f.label, f.count) for f in facets.task] == [
        ("chat", "Chat", 1),
        ("embeddings", "Embeddings", 1),
    ]
    assert [(f.value, f.count) for f in facets.license] == [("mit", 2)]
    assert [(f.value, f.label, f.count) for f in facets.source] == [("huggingface", "Hugging Face", 2)]
    assert [(f.value, f.count) for f in facets.tag] == [("llm", 2), ("english", 1)]


def test_facets_of_everything(catalog):
    facets = search().facets

    assert facets.total == 3
    assert [(f.value, f.count) for f in facets.license] == [("mit", 2), ("cc-by-nc-4.0", 1)]
    assert [(f.value, f.count) for f in facets.source] == [("huggingface", 2), ("replicate", 1)]
    assert [(f.value, f.count) for f in facets.tag] == [("llm", 2), ("english", 1), ("vision", 1)]


# --- Sorting and paging -------------------------------------------------------------------------------------------
def test_sorts(creator):
    now = timezone.now()
    a = listing(
        creator, "A", download_count=5, call_count=50, rating_average=Decimal("3.0"), trending_score=2.0
    )
    b = listing(
        creator, "B", download_count=50, call_count=5, rating_average=Decimal("4.0"), trending_score=1.0
    )
    c = listing(
        creator, "C", download_count=10, call_count=10, rating_average=Decimal("5.0"), trending_score=3.0
    )
    for days, model in ((3, a), (1, b), (2, c)):
        AIModel.objects.filter(pk=model.pk).update(published_at=now - timezone.timedelta(days=days))

    assert slugs(search()) == [c.slug, a.slug, b.slug]  # trending by default
    assert slugs(search(sort="downloads")) == [b.slug, c.slug, a.slug]
    assert slugs(search(sort="calls")) == [a.slug, c.slug, b.slug]
    assert slugs(search(sort="rating")) == [c.slug, b.slug, a.slug]
    assert slugs(search(sort="newest")) == [b.slug, c.slug, a.slug]
    assert search(sort="relevance").search.sort == "trending"  # nothing to rank without text


def collect_pages(client: Any, **params: Any) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    cursor = None
    while True:
        response = api_get(client, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [item["slug"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            assert "Link" not in response
            return seen, pages
        assert response["Link"].endswith('>; rel="next"')
        assert f"cursor={cursor}" in response["Link"]
        assert body["facets"] is None or pages == 1


@pytest.mark.parametrize("sort", ["trending", "downloads", "calls", "rating", "newest", "relevance"])
def test_cursor_paging_returns_every_result_exactly_once(creator, client, sort):
    created = []
    for number in range(11):
        model = listing(
            creator,
            f"Paging model {number}",
            # Many ties, so the id tie-break carries the order.
            download_count=number % 3,
            call_count=number % 2,
            rating_average=Decimal(number % 4),
            trending_score=float(number % 3),
            card_markdown="paging " * (number % 4),
        )
        created.append(model.slug)
    # Public listings always have a publication time (a database constraint); the oldest comes last.
    AIModel.objects.filter(slug=created[0]).update(
        published_at=timezone.now() - timezone.timedelta(days=3650)
    )

    seen, pages = collect_pages(
        client, sort=sort, limit=3, **({"q": "paging"} if sort == "relevance" else {})
    )

    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen)) == 11
    assert pages == 4
    if sort == "newest":
        assert seen[-1] == created[0]


# --- Bad input ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"task": "mind-reading"}, "invalid_filter", "task"),
        ({"source": "ftp"}, "invalid_filter", "source"),
        ({"pricing": "cheap"}, "invalid_filter", "pricing"),
        ({"license": "<script>"}, "invalid_filter", "license"),
        ({"license": "mit license"}, "invalid_filter", "license"),
        ({"tag": "no spaces"}, "invalid_filter", "tag"),
        ({"commercial_use": "maybe"}, "invalid_filter", "commercial_use"),
        ({"creator": "alice"}, "invalid_filter", "creator"),
        ({"creator": "-3"}, "invalid_filter", "creator"),
        ({"min_rating": "6"}, "invalid_filter", "min_rating"),
        ({"min_rating": "NaN"}, "invalid_filter", "min_rating"),
        ({"min_rating": "x"}, "invalid_filter", "min_rating"),
        ({"sort": "random"}, "invalid_sort", "sort"),
        ({"limit": "0"}, "invalid_limit", "limit"),
        ({"limit": "1000"}, "invalid_limit", "limit"),
        ({"limit": "-1"}, "invalid_limit", "limit"),
        ({"limit": "ten"}, "invalid_limit", "limit"),
        ({"cursor": "not-a-cursor"}, "invalid_cursor", "cursor"),
        ({"cursor": "!!!"}, "invalid_cursor", "cursor"),
    ],
)
def test_bad_input_is_a_clear_400(client, params, code, field):
    response = api_get(client, **params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error["details"]["field"] == field


def test_unknown_task_lists_the_allowed_values(client):
    details = api_get(client, task="mind-reading").json()["error"]["details"]

    assert details["value"] == "mind-reading"
    assert "text-generation" in details["allowed"]


def encoded(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "cursor_value"),
    [
        ("trending", ["downloads", 3, 1]),  # another sort's cursor
        ("trending", ["trending", "high", 1]),
        ("trending", ["trending", 1.0, "1"]),
        ("trending", ["trending", 1.0, -1]),
        ("trending", ["trending", 1.0, 2**70]),
        ("trending", ["trending", 1.0]),
        ("trending", {"a": 1}),
        ("downloads", ["downloads", 1.5, 1]),
        ("downloads", ["downloads", 2**80, 1]),
        ("rating", ["rating", "four", 1]),
        ("rating", ["rating", "Infinity", 1]),
        ("newest", ["newest", "yesterday", 1]),
        ("newest", ["newest", "2024-13-45T00:00:00", 1]),
        ("newest", ["newest", 5, 1]),
    ],
)
def test_tampered_cursors_are_400(client, sort, cursor_value):
    response = api_get(client, sort=sort, cursor=encoded(cursor_value))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"


def test_selector_rejects_what_the_api_rejects():
    with pytest.raises(BadRequest) as error:
        model_search_params(task="nope")
    assert error.value.code == "invalid_filter"


# --- API shape and query counts ---------------------------------------------------------------------------------
def test_list_item_shape(catalog, client):
    body = api_get(client, q="chatty").json()

    assert body["sort"] == "relevance"
    assert body["next_cursor"] is None
    item = body["items"][0]
    model = catalog["chat"]
    assert item == {
        "slug": model.slug,
        "name": "Chatty",
        "summary": "",
        "task": "chat",
        "task_label": "Chat",
        "license": "mit",
        "commercial_use": True,
        "pricing": "paid",
        "source": "huggingface",
        "status": "published",
        "featured": False,
        "tags": ["llm", "english"],
        "creator": {
            "id": model.creator_id,
            "name": model.creator_name,
            "profile_url": f"/creators/{model.creator_id}/",
        },
        "rating_average": 4.5,
        "rating_count": 10,
        "download_count": 0,
        "call_count": 0,
        "favorite_count": 0,
        "published_at": item["published_at"],
        "url": f"/models/{model.slug}/",
    }
    assert body["facets"]["total"] == 1


def count_queries(django_assert_max_num_queries: Any, client: Any, path: str, limit: int) -> int:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, {"limit": limit})
    assert response.status_code == 200
    return len(queries)


def test_list_endpoint_runs_a_constant_number_of_queries(creator, client, django_assert_max_num_queries):
    for number in range(50):
        listing(creator, f"Counted {number}", tags=["a", f"t{number % 7}"])

    small = count_queries(django_assert_max_num_queries, client, "/api/v1/models", 5)
    large = count_queries(django_assert_max_num_queries, client, "/api/v1/models", 50)

    assert small == large
    with django_assert_max_num_queries(small):
        client.get("/api/v1/models", {"limit": 50, "q": "counted"})


# --- Autocomplete -------------------------------------------------------------------------------------------------
def test_autocomplete_suggests_by_name_prefix(creator, client):
    first = listing(creator, "Mistral 7B Instruct", trending_score=1.0)
    second = listing(creator, "Mistral Small", trending_score=5.0)
    word = listing(creator, "Tiny Mistralish", trending_score=9.0)
    listing(creator, "Llama 3")

    body = api_get(client, "/api/v1/models/autocomplete", q="mistr").json()

    names = [suggestion["name"] for suggestion in body["suggestions"]]
    assert names == [second.name, first.name, word.name]  # starts-with first, then the hottest
    assert body["suggestions"][0] == {
        "slug": second.slug,
        "name": "Mistral Small",
        "task": "text-generation",
        "creator_name": second.creator_name,
        "url": f"/models/{second.slug}/",
    }


def test_autocomplete_returns_at_most_ten_and_needs_two_characters(creator, client):
    for number in range(12):
        listing(creator, f"Gemma variant {number}")

    assert len(api_get(client, "/api/v1/models/autocomplete", q="gem").json()["suggestions"]) == 10
    assert api_get(client, "/api/v1/models/autocomplete", q="g").json() == {"suggestions": []}
    assert api_get(client, "/api/v1/models/autocomplete").json() == {"suggestions": []}


@requires_postgres
def test_autocomplete_tolerates_a_typo_on_postgresql(creator):
    model = listing(creator, "Stable Diffusion XL")
    listing(creator, "Whisper")

    assert [suggestion.slug for suggestion in model_autocomplete("difusion")] == [model.slug]


# --- Detail -------------------------------------------------------------------------------------------------------
def test_detail_shows_card_versions_and_files(creator, client):
    model = listing(
        creator, "Detailed", card_markdown="# Hello\n\n<script>x()</script>", tags=["b-tag", "a-tag"]
    )

    response = client.get(f"/api/v1/models/{model.slug}")

    assert response.status_code == 200
    body = response.json()
    assert body["card_markdown"] == "# Hello\n\n<script>x()</script>"
    assert body["card_html"] == "<h1>Hello</h1>\n<p>&lt;script&gt;x()&lt;/script&gt;</p>\n"
    assert body["default_version"] == "1.0.0"
    assert [version["version"] for version in body["versions"]] == ["1.0.0"]
    assert body["versions"][0]["files"] == []
    assert body["tags"] == ["a-tag", "b-tag"]
    assert body["source_label"] == "Hugging Face"


def test_detail_is_404_for_a_draft_unless_you_own_it(creator, client, api_client_for, buyer):
    draft = listing(creator, "Secret Draft", publish=False)

    assert client.get(f"/api/v1/models/{draft.slug}").status_code == 404
    assert client.get(f"/api/v1/models/{draft.slug}").json()["error"]["code"] == "model_not_found"
    assert api_client_for(buyer).get(f"/api/v1/models/{draft.slug}").status_code == 404
    assert api_client_for(creator).get(f"/api/v1/models/{draft.slug}").json()["status"] == "draft"
    client.force_login(creator)
    assert client.get(f"/api/v1/models/{draft.slug}").status_code == 200


def test_detail_with_a_bad_key_is_401(creator, client):
    model = listing(creator, "Keyed")

    response = client.get(f"/api/v1/models/{model.slug}", HTTP_AUTHORIZATION="Bearer mm_wrong")

    assert response.status_code == 401


def test_openapi_declares_the_catalog_reads(client):
    schema = client.get("/api/v1/openapi.json").json()

    assert set(schema["paths"]["/api/v1/models"]["get"]["responses"]) >= {"200", "400", "404"}
    assert "/api/v1/models/autocomplete" in schema["paths"]
    assert "200" in schema["paths"]["/api/v1/models/{slug}"]["get"]["responses"]


def test_facet_counts_are_shared_for_a_minute_when_caching_is_on(
    creator, settings, django_assert_num_queries
):
    settings.CATALOG_FACETS_CACHE_SECONDS = 60
    listing(creator, "Cached facets model", task="chat")
    search = model_search_params_from_query({"task": "chat"})
    first = model_search(search)
    with django_assert_num_queries(1):  # the page only; the facets come from the cache
        again = model_search(search)
    assert again.facets == first.facets
    assert first.facets is not None
    assert first.facets.total == 1

"""Discovery pages: catalog with live filtering and infinite scroll, header suggestions, model and creator pages."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from modelmarket.accounts.tests.factories import make_user
from modelmarket.catalog.models import AIModel, ModelFile
from modelmarket.catalog.services.models import model_delete
from modelmarket.catalog.tests.test_search import listing

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def card_slugs(html: str) -> list[str]:
    return re.findall(r'<h3 id="model-\d+-name"><a href="/models/([^/]+)/">', html)


def test_catalog_lists_public_models_with_facets(creator, client):
    chat = listing(creator, "Chatty", task="chat", tags=["llm"], pricing="paid")
    listing(creator, "Hidden", publish=False)

    response = client.get("/models/")

    html = response.content.decode()
    assert response.status_code == 200
    assert card_slugs(html) == [chat.slug]
    assert "1 model" in html
    assert 'id="task-chat"' in html
    assert '<span class="badge badge-warning price-badge">Paid</span>' in html
    assert 'hx-push-url="true"' in html
    assert response["Vary"].count("HX-Request") == 1


def test_catalog_filters_come_from_the_url(creator, client):
    listing(creator, "Chatty", task="chat")
    vision = listing(creator, "Seer", task="image-classification")

    html = client.get("/models/", {"task": "image-classification"}).content.decode()

    assert card_slugs(html) == [vision.slug]
    assert 'id="task-image-classification" name="task" value="image-classification" checked' in html


def test_htmx_filter_change_returns_the_results_fragment(creator, client):
    listing(creator, "Chatty", task="chat")

    html = client.get("/models/", {"q": "chatty"}, **HTMX).content.decode()

    assert "<html" not in html
    assert 'class="facets"' in html
    assert "for “chatty”" in html


def test_infinite_scroll_fetches_the_next_page_as_cards_and_a_new_sentinel(creator, client):
    models = [listing(creator, f"Model {number}", trending_score=float(number)) for number in range(5)]
    expected = [model.slug for model in reversed(models)]

    first = client.get("/models/", {"limit": 2}).content.decode()
    next_url = re.search(r'hx-get="([^"]+)" hx-trigger="revealed"', first)[1].replace("&amp;", "&")
    second = client.get(next_url, **HTMX).content.decode()
    last_url = re.search(r'hx-get="([^"]+)" hx-trigger="revealed"', second)[1].replace("&amp;", "&")
    third = client.get(last_url, **HTMX).content.decode()

    assert card_slugs(first) + card_slugs(second) + card_slugs(third) == expected
    assert "<html" not in second
    assert 'class="facets"' not in second
    assert "revealed" not in third


def test_catalog_shows_an_empty_state(client, db):
    html = client.get("/models/", {"q": "nothing-here"}).content.decode()

    assert "No models match" in html


def test_catalog_bad_filter_is_a_400_page_not_a_crash(client, db):
    response = client.get("/models/", {"task": "mind-reading", "cursor": "garbage"})

    assert response.status_code == 400
    assert "These filters cannot be used" in response.content.decode()


@pytest.mark.parametrize("text", ['"', "NEAR(", "*", "a OR", "%"])
def test_catalog_search_syntax_is_harmless(creator, client, text):
    listing(creator, "Llama")

    assert client.get("/models/", {"q": text}).status_code == 200


def test_catalog_page_runs_a_constant_number_of_queries(creator, client):
    for number in range(50):
        listing(creator, f"Counted {number}", tags=["x", f"t{number % 5}"])

    counts = []
    for limit in (5, 50):
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/models/", {"limit": limit}).status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1]


def test_header_search_points_at_the_catalog_with_suggestions(client, db):
    html = client.get("/models/").content.decode()

    assert 'action="/models/"' in html
    assert 'role="combobox"' in html
    assert 'hx-get="/search/suggest/"' in html
    assert 'aria-controls="site-search-listbox"' in html


def test_suggestions_are_listbox_options(creator, client):
    model = listing(creator, "Mistral Small")

    html = client.get("/search/suggest/", {"q": "mistr"}, **HTMX).content.decode()

    assert f'data-href="/models/{model.slug}/"' in html
    assert 'role="option"' in html
    assert 'data-href="/models/?q=mistr"' in html
    assert client.get("/search/suggest/", {"q": "m"}).content.decode().strip() == ""


def test_model_page_shows_card_versions_files_and_reserved_sections(creator, client):
    model = listing(
        creator,
        "Detailed",
        card_markdown="# Usage\n\n<script>alert(1)</script> [x](javascript:alert(1))",
        tags=["vision"],
        license="cc-by-nc-4.0",
    )
    version = model.versions.get()
    file = ModelFile.objects.create(
        version=version, name="model.onnx", size_bytes=2048, sha256="ab" * 32, storage_key="k/model.onnx"
    )

    html = client.get(f"/models/{model.slug}/").content.decode()

    assert "<h1>Usage</h1>" in html
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html
    assert "First release." in html
    assert f'href="/models/{model.slug}/files/{file.pk}/download/"' in html
    assert "ab" * 32 in html
    assert "2.0\xa0KB" in html
    assert "Not for commercial use" in html
    assert f'href="/creators/{creator.pk}/"' in html
    assert "Pricing plans" in html
    assert "Playground" in html
    assert html.count("Coming soon") == 1  # the playground; plans come from billing/pricing_plans.html


def test_model_page_is_404_for_drafts_and_deleted_unless_owner(creator, client, buyer):
    draft = listing(creator, "Draft", publish=False)
    deleted = listing(creator, "Gone")
    model_delete(actor=creator, model=deleted)

    assert client.get(f"/models/{draft.slug}/").status_code == 404
    assert client.get(f"/models/{deleted.slug}/").status_code == 404
    assert client.get("/models/no-such-model/").status_code == 404
    client.force_login(buyer)
    assert client.get(f"/models/{draft.slug}/").status_code == 404
    client.force_login(creator)
    assert "not public" in client.get(f"/models/{draft.slug}/").content.decode()


def test_model_page_runs_a_constant_number_of_queries(creator, client):
    model = listing(creator, "Queried")
    version = model.versions.get()

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/models/{model.slug}/").status_code == 200
        return len(queries)

    ModelFile.objects.create(version=version, name="a.onnx", size_bytes=1, sha256="0" * 64, storage_key="a")
    one_file = count()
    for number in range(5):
        ModelFile.objects.create(
            version=version, name=f"b{number}.onnx", size_bytes=1, sha256="0" * 64, storage_key=f"b{number}"
        )
    assert count() == one_file


def test_creator_profile_lists_their_public_models(creator, client):
    mine = listing(creator, "Mine")
    listing(creator, "My Draft", publish=False)
    other = listing(make_user("creator"), "Theirs")

    html = client.get(f"/creators/{creator.pk}/").content.decode()

    assert card_slugs(html) == [mine.slug]
    assert other.slug not in html
    assert "1 public model" in html


def test_creator_profile_is_404_for_people_who_are_not_creators(client, buyer):
    assert client.get(f"/creators/{buyer.pk}/").status_code == 404
    assert client.get("/creators/999999/").status_code == 404


def test_deleted_models_leave_the_catalog(creator, client):
    model = listing(creator, "Soon Gone")
    model_delete(actor=creator, model=model)

    assert card_slugs(client.get("/models/").content.decode()) == []
    assert AIModel.objects.filter(pk=model.pk).exists()


def test_model_page_has_a_playground_only_for_a_callable_default_version(creator, client):
    from modelmarket.catalog.demo.loader import demo_catalog_load

    demo_catalog_load(uploader=creator)
    plain = listing(creator, "No runtime")

    html = client.get("/models/iris-species-classifier/").content.decode()

    config = json.loads(
        re.search(r'<script id="playground-config" type="application/json">(.*?)</script>', html).group(1)
    )
    assert config["endpoint"] == "/api/v1/models/iris-species-classifier/inference"
    assert (config["version"], config["task"], config["mode"], config["image"]) == (
        "1.0.0",
        "tabular-classification",
        "form",
        None,
    )
    assert config["field_order"] == [
        "sepal_length_cm",
        "sepal_width_cm",
        "petal_length_cm",
        "petal_width_cm",
    ]
    assert set(config["input_schema"]["properties"]) == set(config["field_order"])
    assert "input_name" not in html  # the runtime itself stays private
    assert "feature_order" not in html
    assert 'id="playground" aria-labelledby="playground-heading" data-playground' in html
    assert "js/playground.js" in html
    assert "Log in</a> to run it" in html
    digits = client.get("/models/handwritten-digit-classifier-8x8/").content.decode()
    assert '"image": {"width": 8, "height": 8, "min": 0, "max": 16}' in digits
    empty = client.get(f"/models/{plain.slug}/").content.decode()
    assert "playground-config" not in empty
    assert "js/playground.js" not in empty
    assert "Coming soon: try this model from your browser" in empty

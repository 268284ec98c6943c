"""Hugging Face catalog sync against a fake Hub: pages, rate limits, retries, failures, incremental updates and
creators' edits. The clock is fake: waits are recorded, not slept."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from modelmarket.accounts.models import CreatorProfile
from modelmarket.catalog.models import AIModel, ModelVersion
from modelmarket.catalog.providers.base import ProviderListing, SkippedItem
from modelmarket.catalog.providers.huggingface import huggingface_client, listing_from_item
from modelmarket.catalog.services import sync
from modelmarket.catalog.services.mirrors import mirror_account
from modelmarket.catalog.services.models import model_create, model_update
from modelmarket.catalog.services.sync import catalog_sync, listing_upsert
from modelmarket.catalog.tests.fakes import FakeClock, FakeHuggingFaceHub, Fault, hf_model
from modelmarket.catalog.vocabulary import ModelStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_pages(settings):
    settings.CATALOG_SYNC_PAGE_SIZE = 2
    settings.HUGGINGFACE_TOKEN = ""
    settings.HUGGINGFACE_API_BASE = "https://huggingface.co"


def five_models(**changes):
    models = [
        hf_model("acme/tiny-llm", downloads=5000),
        hf_model("acme/sentiment-bert", pipeline_tag="text-classification", downloads=4000, license="mit"),
        hf_model("lab/mini-embed", pipeline_tag="feature-extraction", downloads=3000),
        hf_model("lab/whisper-small-fr", pipeline_tag="automatic-speech-recognition", downloads=2000),
        hf_model("org/llama-ish", downloads=1000, license="llama3.1", gated="manual"),
    ]
    return [{**model, **changes.get(model["id"], {})} for model in models]


def run_sync(hub, clock, **options):
    client = huggingface_client(
        transport=hub.transport(), sleep=clock.sleep, clock=clock, random_fraction=lambda: 1.0
    )
    return catalog_sync(source="huggingface", client=client, **options)


def counts(report):
    return (report.created, report.updated, report.unchanged, report.skipped, report.failed)


def test_sync_follows_the_link_header_through_every_page_and_publishes_listings():
    clock = FakeClock()
    hub = FakeHuggingFaceHub(five_models(), clock=clock)
    report = run_sync(hub, clock)
    assert counts(report) == (5, 0, 0, 0, 0)
    assert report.error == ""
    assert len(hub.requests) == 3
    first = hub.requests[0].url
    assert first.path == "/api/models"
    assert dict(first.params) == {"sort": "downloads", "direction": "-1", "limit": "2", "full": "true"}
    assert "cursor" in hub.requests[1].url.params
    assert hub.requests[1].url.params["cursor"] != hub.requests[2].url.params["cursor"]
    assert clock.sleeps == []
    assert AIModel.objects.filter(source="huggingface", status=ModelStatus.PUBLISHED).count() == 5


def test_synced_listing_fields_owner_and_default_version():
    clock = FakeClock()
    run_sync(FakeHuggingFaceHub(five_models(), clock=clock), clock)
    model = AIModel.objects.get(external_id="acme/tiny-llm")
    assert model.slug == "acme-tiny-llm"
    assert model.name == "tiny-llm"
    assert model.task == "text-generation"
    assert model.input_modalities == ["text"]
    assert model.output_modalities == ["text"]
    assert model.license == "apache-2.0"
    assert model.commercial_use is True
    assert model.download_count == 5000
    assert model.external_updated_at == datetime(2025, 1, 10, 8, 0, tzinfo=UTC)
    assert model.synced_at is not None
    assert model.external_data["likes"] == 10
    assert model.external_data["files"] == [".gitattributes", "config.json", "model.safetensors"]
    assert sorted(model.tags.values_list("slug", flat=True)) == ["acme", "safetensors", "transformers"]
    assert model.creator.email == "huggingface-mirror@modelmarket.local"
    assert model.creator_name == "Hugging Face (mirror)"
    assert model.creator.has_usable_password() is False
    assert model.creator.creator_profile.status == CreatorProfile.Status.VERIFIED
    assert "https://huggingface.co/acme/tiny-llm" in model.card_markdown
    version = model.versions.get()
    assert (version.version, version.is_default, version.is_published) == ("1.0.0", True, True)
    assert version.runtime == {"provider": "huggingface", "model_id": "acme/tiny-llm"}


def test_mapping_of_tasks_licences_gated_and_skipped_items():
    gated = listing_from_item(hf_model("org/llama-ish", license="llama3.1", gated="manual"))
    assert isinstance(gated, ProviderListing)
    assert (gated.license, gated.commercial_use) == ("llama3.1", False)
    assert "gated" in gated.tags
    embeddings = listing_from_item(
        hf_model("lab/mini-embed", pipeline_tag="sentence-similarity", license=None)
    )
    assert isinstance(embeddings, ProviderListing)
    assert (embeddings.task, embeddings.license, embeddings.output_modalities) == (
        "embeddings",
        "other",
        ["vector"],
    )
    speech = listing_from_item(hf_model("lab/whisper", pipeline_tag="automatic-speech-recognition"))
    assert isinstance(speech, ProviderListing)
    assert (speech.task, speech.input_modalities) == ("speech-to-text", ["audio"])
    assert listing_from_item(hf_model("x/depth", pipeline_tag="depth-estimation")) == SkippedItem(
        external_id="x/depth", reason="unknown_task"
    )
    assert listing_from_item(hf_model("x/none", pipeline_tag=None)) == SkippedItem("x/none", "unknown_task")
    assert listing_from_item(hf_model("x/secret", private=True)) == SkippedItem("x/secret", "private")


def test_skipped_items_are_counted_by_reason_and_not_written():
    clock = FakeClock()
    hub = FakeHuggingFaceHub(
        [
            hf_model("a/ok"),
            hf_model("b/depth", pipeline_tag="depth-estimation"),
            hf_model("c/secret", private=True),
        ],
        clock=clock,
    )
    report = run_sync(hub, clock)
    assert counts(report) == (1, 0, 0, 2, 0)
    assert report.skipped_reasons == {"private": 1, "unknown_task": 1}
    assert list(AIModel.objects.values_list("external_id", flat=True)) == ["a/ok"]


def test_429_with_retry_after_is_waited_out_then_the_sync_goes_on():
    clock = FakeClock()
    hub = FakeHuggingFaceHub(five_models(), clock=clock)
    hub.fail(2, Fault(status=429, headers={"Retry-After": "7"}, body={"error": "Too many requests"}))
    report = run_sync(hub, clock)
    assert counts(report) == (5, 0, 0, 0, 0)
    assert clock.sleeps == [7.0]
    assert len(hub.requests) == 4


def test_ratelimit_window_used_up_waits_for_its_reset_before_the_next_page():
    clock = FakeClock()
    hub = FakeHuggingFaceHub(five_models(), clock=clock, quota=2, window_seconds=300)
    report = run_sync(hub, clock)
    assert counts(report) == (5, 0, 0, 0, 0)
    assert hub.requests[1].url.params["cursor"]
    assert clock.sleeps == [
        300.0
    ]  # after page 2 said r=0;t=300; without the wait the Hub would have sent a 429
    assert len(hub.requests) == 3


def test_5xx_is_retried_with_backoff_then_succeeds():
    clock = FakeClock()
    hub = FakeHuggingFaceHub(five_models(), clock=clock)
    hub.fail(2, Fault(status=503), Fault(status=502))
    report = run_sync(hub, clock)
    assert counts(report) == (5, 0, 0, 0, 0)
    assert clock.sleeps == [1.0, 2.0]


def test_5xx_that_persists_ends_the_run_with_an_error_and_keeps_the_earlier_pages():
    clock = FakeClock()
    hub = FakeHuggingFaceHub(five_models(), clock=clock)
    hub.fail(2, *[Fault(status=503, body={"error": "Service Unavailable"})] * 5)
    report = run_sync(hub, clock)
    assert counts(report) == (2, 0, 0, 0, 0)
    assert report.error == "Hugging Face failed (HTTP 503); gave up: after 5 attempts."
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]
    assert sorted(AIModel.objects.values_list("external_id", flat=True)) == [
        "acme/sentiment-bert",
        "acme/tiny-llm",
    ]


def test_429_beyond_the_time_budget_ends_the_run_without_waiting(settings):
    settings.CATALOG_SYNC_TIME_BUDGET_SECONDS = 60.0
    clock = FakeClock()
    hub = FakeHuggingFaceHub(five_models(), clock=clock)
    hub.fail(2, Fault(status=429, headers={"Retry-After": "3600"}))
    report = run_sync(hub, clock)
    assert counts(report) == (2, 0, 0, 0, 0)
    assert report.error == (
        "Hugging Face kept rate limiting us (HTTP 429); gave up: the next wait (3600 s) would exceed the 60 s time budget."
    )
    assert clock.sleeps == []


def test_401_is_not_retried_and_ends_the_run(settings):
    settings.HUGGINGFACE_TOKEN = "hf_wrong"
    clock = FakeClock()
    hub = FakeHuggingFaceHub(five_models(), clock=clock, token="hf_right")
    report = run_sync(hub, clock)
    assert counts(report) == (0, 0, 0, 0, 0)
    assert report.error.startswith("Hugging Face answered HTTP 401: ")
    assert len(hub.requests) == 1
    assert hub.requests[0].headers["Authorization"] == "Bearer hf_wrong"
    assert clock.sleeps == []
    assert AIModel.objects.count() == 0


def test_a_second_run_changes_nothing_and_counts_unchanged():
    clock = FakeClock()
    run_sync(FakeHuggingFaceHub(five_models(), clock=clock), clock)
    report = run_sync(FakeHuggingFaceHub(five_models(), clock=clock), clock)
    assert counts(report) == (0, 0, 5, 0, 0)
    assert AIModel.objects.count() == 5
    assert ModelVersion.objects.count() == 5


def test_unchanged_listing_still_gets_fresh_download_counts():
    clock = FakeClock()
    run_sync(FakeHuggingFaceHub(five_models(), clock=clock), clock)
    report = run_sync(
        FakeHuggingFaceHub(five_models(**{"acme/tiny-llm": {"downloads": 9000}}), clock=clock), clock
    )
    assert counts(report) == (0, 0, 5, 0, 0)
    assert AIModel.objects.get(external_id="acme/tiny-llm").download_count == 9000


def test_a_changed_model_is_updated():
    clock = FakeClock()
    run_sync(FakeHuggingFaceHub(five_models(), clock=clock), clock)
    changed = {
        "acme/tiny-llm": {
            "lastModified": "2025-03-01T00:00:00.000Z",
            "tags": ["transformers", "text-generation", "license:mit", "conversational"],
        }
    }
    report = run_sync(FakeHuggingFaceHub(five_models(**changed), clock=clock), clock)
    assert counts(report) == (0, 1, 4, 0, 0)
    model = AIModel.objects.get(external_id="acme/tiny-llm")
    assert model.license == "mit"
    assert model.external_updated_at == datetime(2025, 3, 1, tzinfo=UTC)
    assert sorted(model.tags.values_list("slug", flat=True)) == ["acme", "conversational", "transformers"]
    assert model.search_tags == "acme transformers conversational"
    assert list(model.versions.values_list("version", flat=True)) == ["1.0.0"]


def test_fields_a_person_edited_survive_later_syncs(admin_user):
    clock = FakeClock()
    run_sync(FakeHuggingFaceHub(five_models(), clock=clock), clock)
    model = AIModel.objects.get(external_id="acme/tiny-llm")
    model_update(actor=admin_user, model=model, changes={"summary": "Our own words.", "tags": ["curated"]})
    changed = {
        "acme/tiny-llm": {
            "lastModified": "2025-03-01T00:00:00.000Z",
            "tags": ["transformers", "text-generation", "license:mit"],
        }
    }
    report = run_sync(FakeHuggingFaceHub(five_models(**changed), clock=clock), clock)
    assert counts(report) == (0, 1, 4, 0, 0)
    model.refresh_from_db()
    assert model.summary == "Our own words."
    assert list(model.tags.values_list("slug", flat=True)) == ["curated"]
    assert model.license == "mit"
    assert model.locally_edited_fields == ["summary", "tags"]


def test_a_listing_a_creator_made_of_the_same_model_is_left_alone(creator):
    own = model_create(
        actor=creator,
        name="My tiny LLM",
        task="chat",
        license="mit",
        source="huggingface",
        external_id="acme/tiny-llm",
    )
    clock = FakeClock()
    report = run_sync(FakeHuggingFaceHub(five_models(), clock=clock), clock)
    assert counts(report) == (4, 0, 0, 1, 0)
    assert report.skipped_reasons == {"listed_by_creator": 1}
    own.refresh_from_db()
    assert (own.name, own.task, own.creator_id, own.external_data) == ("My tiny LLM", "chat", creator.pk, {})


def test_slug_taken_by_another_listing_gets_the_source_suffix(creator):
    model_create(actor=creator, name="Other", slug="acme-tiny-llm", task="chat", license="mit")
    clock = FakeClock()
    run_sync(FakeHuggingFaceHub([hf_model("acme/tiny-llm")], clock=clock), clock)
    assert AIModel.objects.get(external_id="acme/tiny-llm").slug == "acme-tiny-llm-hf"


def test_limit_stops_cleanly_without_reading_further_pages():
    clock = FakeClock()
    hub = FakeHuggingFaceHub(five_models(), clock=clock)
    report = run_sync(hub, clock, limit=3)
    assert counts(report) == (3, 0, 0, 0, 0)
    assert len(hub.requests) == 2
    assert AIModel.objects.count() == 3


def test_search_is_sent_to_the_hub():
    clock = FakeClock()
    hub = FakeHuggingFaceHub(five_models(), clock=clock)
    report = run_sync(hub, clock, search="acme")
    assert counts(report) == (2, 0, 0, 0, 0)
    assert hub.requests[0].url.params["search"] == "acme"


def test_the_sync_client_has_explicit_timeouts(settings):
    settings.CATALOG_SYNC_CONNECT_TIMEOUT_SECONDS = 4.0
    settings.CATALOG_SYNC_READ_TIMEOUT_SECONDS = 20.0
    client = huggingface_client()
    timeout = client.http.timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (4.0, 20.0, 30.0, 5.0)
    assert str(client.http.client.base_url) == "https://huggingface.co"


def test_mirror_account_is_created_once():
    first = mirror_account(source="huggingface")
    second = mirror_account(source="huggingface")
    assert first.pk == second.pk
    assert CreatorProfile.objects.filter(user=first).count() == 1
    assert first.creator_profile.display_name == "Hugging Face (mirror)"


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL (DATABASE_URL=postgres://...): SQLite serializes writers, so two upserts cannot race",
)
@pytest.mark.django_db(transaction=True)
def test_two_runs_upserting_the_same_model_at_once_make_one_listing(monkeypatch):
    mirror = mirror_account(source="huggingface")
    listing = listing_from_item(hf_model("acme/tiny-llm"))
    assert isinstance(listing, ProviderListing)
    barrier = threading.Barrier(2)
    seen_by_thread = threading.local()
    original_find = sync._find_listing

    def find_then_wait(source, external_id):
        found = original_find(source, external_id)
        if not getattr(seen_by_thread, "waited", False):
            seen_by_thread.waited = True
            barrier.wait(timeout=10)  # both threads looked and found nothing before either inserts
        return found

    monkeypatch.setattr(sync, "_find_listing", find_then_wait)
    outcomes = []
    errors = []

    def upsert():
        try:
            outcomes.append(listing_upsert(source="huggingface", listing=listing, mirror=mirror))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=upsert) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(outcomes) == ["created", "unchanged"]
    assert AIModel.objects.filter(source="huggingface", external_id="acme/tiny-llm").count() == 1
    assert ModelVersion.objects.filter(model__external_id="acme/tiny-llm").count() == 1

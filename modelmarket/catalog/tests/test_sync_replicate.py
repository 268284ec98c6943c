"""Replicate catalog sync against a fake Replicate API: `next` pages, bearer token, throttling, task inference and
a version per Replicate version."""

from __future__ import annotations

import pytest

from modelmarket.catalog.models import AIModel
from modelmarket.catalog.providers.base import ProviderListing, SkippedItem
from modelmarket.catalog.providers.replicate import infer_task, listing_from_item, replicate_client
from modelmarket.catalog.services.sync import ProviderNotConfigured, catalog_sync, provider_client
from modelmarket.catalog.tests.fakes import (
    REPLICATE_SCHEMAS,
    FakeClock,
    FakeReplicate,
    Fault,
    replicate_model,
    replicate_throttled,
)

pytestmark = pytest.mark.django_db

NEW_VERSION = "f" * 64


@pytest.fixture(autouse=True)
def _token(settings):
    settings.REPLICATE_API_TOKEN = "r8_test"
    settings.REPLICATE_API_BASE = "https://api.replicate.com"


def catalog(**changes):
    models = [
        replicate_model("meta", "meta-llama-3-8b-instruct"),
        replicate_model(
            "black-forest-labs",
            "flux-schnell",
            kind="image",
            description="The fastest image generation model.",
        ),
        replicate_model("openai", "whisper", kind="whisper", description="Convert speech in audio to text."),
        replicate_model(
            "acme", "clip-maker", kind="video", description="Generate short video clips from a prompt."
        ),
        replicate_model("acme", "internal", visibility="private"),
        replicate_model("acme", "empty", with_version=False),
    ]
    return [{**model, **changes.get(model["name"], {})} for model in models]


def run_sync(fake, clock, **options):
    client = replicate_client(
        transport=fake.transport(), sleep=clock.sleep, clock=clock, random_fraction=lambda: 1.0
    )
    return catalog_sync(source="replicate", client=client, **options)


def counts(report):
    return (report.created, report.updated, report.unchanged, report.skipped, report.failed)


def test_sync_follows_next_through_every_page_with_the_bearer_token():
    clock = FakeClock()
    fake = FakeReplicate(catalog(), page_size=2)
    report = run_sync(fake, clock)
    assert counts(report) == (3, 0, 0, 3, 0)
    assert report.skipped_reasons == {"no_version": 1, "private": 1, "unknown_task": 1}
    assert str(fake.requests[0].url) == "https://api.replicate.com/v1/models"
    assert len(fake.requests) == 3
    assert all(request.headers["Authorization"] == "Bearer r8_test" for request in fake.requests)
    assert sorted(AIModel.objects.values_list("external_id", "task")) == [
        ("black-forest-labs/flux-schnell", "text-to-image"),
        ("meta/meta-llama-3-8b-instruct", "text-generation"),
        ("openai/whisper", "speech-to-text"),
    ]


def test_synced_listing_has_the_version_schemas_and_runtime():
    clock = FakeClock()
    run_sync(FakeReplicate(catalog()), clock)
    model = AIModel.objects.get(external_id="openai/whisper")
    assert (model.name, model.summary, model.license, model.commercial_use) == (
        "whisper",
        "Convert speech in audio to text.",
        "other",
        False,
    )
    assert model.creator.email == "replicate-mirror@modelmarket.local"
    assert model.creator_name == "Replicate (mirror)"
    assert model.external_data["run_count"] == 12345
    assert "openapi_schema" not in model.external_data["latest_version"]
    assert model.download_count == 0
    version = model.versions.get()
    assert (version.version, version.is_default, version.is_published) == ("1.0.0", True, True)
    assert version.runtime == {
        "provider": "replicate",
        "model_id": model.external_id,
        "version_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
    }
    assert version.input_schema == REPLICATE_SCHEMAS["whisper"]["components"]["schemas"]["Input"]
    assert version.output_schema == REPLICATE_SCHEMAS["whisper"]["components"]["schemas"]["Output"]


def test_a_new_replicate_version_becomes_a_new_default_version():
    clock = FakeClock()
    run_sync(FakeReplicate(catalog()), clock)
    bumped = {
        "flux-schnell": replicate_model(
            "black-forest-labs",
            "flux-schnell",
            kind="image",
            description="The fastest image generation model.",
            version_id=NEW_VERSION,
            version_created_at="2025-04-01T09:00:00.000000Z",
        )
    }
    report = run_sync(FakeReplicate(catalog(**bumped)), clock)
    assert counts(report) == (0, 1, 2, 3, 0)
    model = AIModel.objects.get(external_id="black-forest-labs/flux-schnell")
    versions = {
        v.version: (v.is_default, v.is_published, v.runtime["version_id"]) for v in model.versions.all()
    }
    assert versions == {
        "1.0.1": (True, True, NEW_VERSION),
        "1.0.0": (False, True, "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"),
    }
    report = run_sync(FakeReplicate(catalog(**bumped)), clock)
    assert counts(report) == (0, 0, 3, 3, 0)
    assert model.versions.count() == 2


def test_a_description_change_without_a_new_version_updates_the_listing():
    clock = FakeClock()
    run_sync(FakeReplicate(catalog()), clock)
    report = run_sync(
        FakeReplicate(catalog(whisper={"description": "Whisper large-v3: speech to text."})), clock
    )
    assert counts(report) == (0, 1, 2, 3, 0)
    model = AIModel.objects.get(external_id="openai/whisper")
    assert model.summary == "Whisper large-v3: speech to text."
    assert model.versions.count() == 1


def test_throttled_429_waits_for_retry_after():
    clock = FakeClock()
    fake = FakeReplicate(catalog(), page_size=2)
    fake.fail(2, replicate_throttled(seconds=3))
    report = run_sync(fake, clock)
    assert counts(report) == (3, 0, 0, 3, 0)
    assert clock.sleeps == [3.0]
    assert len(fake.requests) == 4


def test_5xx_that_persists_keeps_the_first_page():
    clock = FakeClock()
    fake = FakeReplicate(catalog(), page_size=2)
    fake.fail(2, *[Fault(status=502)] * 5)
    report = run_sync(fake, clock)
    assert counts(report) == (2, 0, 0, 0, 0)
    assert report.error == "Replicate failed (HTTP 502); gave up: after 5 attempts."
    assert AIModel.objects.count() == 2


def test_a_bad_token_is_not_retried(settings):
    settings.REPLICATE_API_TOKEN = "r8_wrong"
    clock = FakeClock()
    fake = FakeReplicate(catalog())
    report = run_sync(fake, clock)
    assert report.error == (
        'Replicate answered HTTP 401: {"title":"Unauthenticated","detail":"You did not pass a valid authentication '
        'token","status":401}'
    )
    assert len(fake.requests) == 1
    assert clock.sleeps == []


def test_search_filters_replicate_models_locally_and_limit_stops():
    clock = FakeClock()
    fake = FakeReplicate(catalog(), page_size=2)
    report = run_sync(fake, clock, search="SPEECH")
    assert counts(report) == (1, 0, 0, 0, 0)
    assert list(AIModel.objects.values_list("external_id", flat=True)) == ["openai/whisper"]
    limited = FakeReplicate(catalog(), page_size=2)
    report = run_sync(limited, clock, limit=1)
    assert counts(report) == (1, 0, 0, 0, 0)
    assert len(limited.requests) == 1
    assert AIModel.objects.count() == 2


def test_without_a_token_replicate_is_not_configured(settings):
    settings.REPLICATE_API_TOKEN = ""
    with pytest.raises(ProviderNotConfigured) as caught:
        provider_client("replicate")
    assert caught.value.message == "Set REPLICATE_API_TOKEN to sync from Replicate."


def test_task_inference_is_conservative():
    schemas = {kind: REPLICATE_SCHEMAS[kind]["components"]["schemas"] for kind in REPLICATE_SCHEMAS}
    assert (
        infer_task(
            text="x/llm chat", input_schema=schemas["llm"]["Input"], output_schema=schemas["llm"]["Output"]
        )
        == "text-generation"
    )
    image = {"input_schema": schemas["image"]["Input"], "output_schema": schemas["image"]["Output"]}
    assert infer_task(text="x/sd a diffusion model for photos", **image) == "text-to-image"
    assert infer_task(text="x/anything", **image) is None  # files out, but nothing says images
    assert infer_task(text="x/music makes music and images", **image) is None
    assert infer_task(text="x/voice natural text-to-speech voices", **image) == "text-to-speech"
    assert (
        infer_task(
            text="x/w", input_schema=schemas["whisper"]["Input"], output_schema=schemas["whisper"]["Output"]
        )
        == "speech-to-text"
    )
    assert infer_task(text="x/y", input_schema={}, output_schema={}) is None


def test_private_and_versionless_models_are_skipped():
    assert listing_from_item(replicate_model("acme", "internal", visibility="private")) == SkippedItem(
        "acme/internal", "private"
    )
    assert listing_from_item(replicate_model("acme", "empty", with_version=False)) == SkippedItem(
        "acme/empty", "no_version"
    )
    assert isinstance(listing_from_item(replicate_model("meta", "llama")), ProviderListing)

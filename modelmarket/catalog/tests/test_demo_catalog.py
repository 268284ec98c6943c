from __future__ import annotations

import hashlib
import re
from io import StringIO

import onnxruntime
import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from modelmarket.accounts.models import User
from modelmarket.catalog import storage as file_storage
from modelmarket.catalog.demo import loader, runnable
from modelmarket.catalog.models import AIModel, ModelFile, ModelVersion, Tag
from modelmarket.catalog.services.mirrors import MIRRORS
from modelmarket.catalog.services.models import SPDX_ID
from modelmarket.catalog.vocabulary import ModelStatus, Source, Task, ValidationStatus

pytestmark = pytest.mark.django_db

PROVIDER_SOURCES = (Source.HUGGINGFACE, Source.REPLICATE)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def demo_catalog() -> str:
    run("load_demo")
    return run("load_demo_catalog")


def _snapshot() -> dict[str, object]:
    return {
        "models": list(AIModel.objects.order_by("pk").values()),
        "versions": list(ModelVersion.objects.order_by("pk").values()),
        "files": list(ModelFile.objects.order_by("pk").values()),
        "tags": Tag.objects.count(),
        "users": User.objects.count(),
    }


def test_second_load_creates_and_changes_nothing(demo_catalog):
    before = _snapshot()

    output = run("load_demo_catalog")

    assert _snapshot() == before
    assert "0 created, 0 updated, 0 left alone" in output


def test_first_load_reports_every_listing_created(demo_catalog):
    assert f"{AIModel.objects.count()} listings ({AIModel.objects.count()} created, 0 updated" in demo_catalog


def test_at_least_80_published_listings_covering_every_task(demo_catalog):
    published = AIModel.objects.filter(status=ModelStatus.PUBLISHED, deleted_at__isnull=True)

    assert published.count() == AIModel.objects.count() >= 80
    assert set(published.values_list("task", flat=True)) == set(Task.values)
    assert set(published.values_list("source", flat=True)) == set(Source.values)
    assert published.filter(featured=True).count() >= 5


def test_runnable_listings_have_a_valid_onnx_file_matching_storage_and_schema(demo_catalog):
    for spec in runnable.RUNNABLE_MODELS:
        model = AIModel.objects.get(slug=spec.slug)
        version = model.versions.get(is_default=True, published_at__isnull=False)
        file = version.files.get()
        with file_storage.open_for_reading(file.storage_key) as stored:
            content = stored.read()
        session = onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
        onnx_input = session.get_inputs()[0]

        assert (model.source, model.creator.email) == (Source.UPLOADED, "creator@example.com")
        assert file.validation_status == ValidationStatus.VALID
        assert (file.sha256, file.size_bytes) == (hashlib.sha256(content).hexdigest(), len(content))
        assert content == runnable.onnx_bytes(spec)
        assert version.runtime["provider"] == "local_onnx"
        assert version.runtime["input_name"] == onnx_input.name
        feature_count = onnx_input.shape[1]
        assert len(version.input_schema["properties"]) == feature_count == len(spec.features)
        assert version.input_schema["required"] == version.runtime["feature_order"]
        assert file.validation_report["onnx"]["inputs"][0]["shape"] == [None, feature_count]
        output_names = {output.name for output in session.get_outputs()}
        assert set(version.runtime["outputs"].values()) <= output_names


def test_runnable_classifiers_name_every_class(demo_catalog):
    for spec in runnable.RUNNABLE_MODELS:
        version = AIModel.objects.get(slug=spec.slug).versions.get()
        built = runnable.manifest()[spec.slug]
        if spec.is_classifier:
            assert version.output_schema["properties"]["label"]["enum"] == list(spec.labels)
            assert f"{built['metric_value']:.2%}" in AIModel.objects.get(slug=spec.slug).card_markdown
        else:
            assert f"{built['metric_value']:.4f}" in AIModel.objects.get(slug=spec.slug).card_markdown


def test_provider_listings_have_external_id_and_published_default_version_with_provider(demo_catalog):
    provider_listings = AIModel.objects.filter(source__in=PROVIDER_SOURCES)

    assert provider_listings.count() >= 60
    for model in provider_listings:
        version = model.versions.get(is_default=True)
        assert model.external_id
        assert version.published_at is not None
        assert version.runtime["provider"] == model.source
        assert version.runtime["model_id"] == model.external_id
        assert model.creator.email == MIRRORS[model.source].email
        assert model.creator.creator_profile.status == "verified"
        assert not model.creator.has_usable_password()


def test_openai_compatible_listings_are_labelled_examples_with_public_https_endpoints(demo_catalog):
    examples = AIModel.objects.filter(source=Source.OPENAI_COMPATIBLE)

    assert examples.exists()
    for model in examples:
        assert model.name.startswith("Example:")
        assert model.endpoint_url.startswith("https://")
        assert "Example listing" in model.card_markdown


def test_metadata_is_real_text_with_spdx_like_licenses_and_a_demo_data_footer(demo_catalog):
    for model in AIModel.objects.all():
        text = " ".join((model.name, model.summary, model.card_markdown)).lower()
        assert "lorem" not in text
        assert "ipsum" not in text
        assert SPDX_ID.match(model.license), model.license
        assert model.summary
        assert model.card_markdown.startswith(f"# {model.name}")
        assert "demo data" in model.card_markdown
        assert model.input_modalities
        assert model.output_modalities
        assert model.search_tags


def test_noncommercial_licenses_are_not_marked_commercial(demo_catalog):
    noncommercial = AIModel.objects.filter(license__contains="-nc")

    assert noncommercial.exists()
    assert not noncommercial.filter(commercial_use=True).exists()


def test_reload_restores_drifted_demo_fields_but_keeps_a_creators_edits(demo_catalog):
    drifted = AIModel.objects.get(slug="iris-species-classifier")
    AIModel.objects.filter(pk=drifted.pk).update(summary="stale summary")
    edited = AIModel.objects.get(external_id="openai/whisper-large-v3")
    AIModel.objects.filter(pk=edited.pk).update(summary="our own words", locally_edited_fields=["summary"])

    output = run("load_demo_catalog")

    drifted.refresh_from_db()
    edited.refresh_from_db()
    assert drifted.summary == next(
        spec.summary for spec in runnable.RUNNABLE_MODELS if spec.slug == drifted.slug
    )
    assert edited.summary == "our own words"
    assert "1 updated" in output


def test_listings_owned_by_someone_else_or_synced_are_left_alone(demo_catalog):
    taken = AIModel.objects.get(slug="wine-cultivar-classifier")
    AIModel.objects.filter(pk=taken.pk).update(
        creator=User.objects.get(email="staff@example.com"), summary="x"
    )
    synced = AIModel.objects.get(external_id="facebook/bart-large-cnn")
    AIModel.objects.filter(pk=synced.pk).update(synced_at="2026-01-01T00:00:00Z", summary="from sync")

    output = run("load_demo_catalog")

    assert AIModel.objects.get(pk=taken.pk).summary == "x"
    assert AIModel.objects.get(pk=synced.pk).summary == "from sync"
    assert "2 left alone" in output


def test_a_failed_load_leaves_no_rows_and_no_files(monkeypatch):
    run("load_demo")
    real_publish = loader.model_publish

    def publish_then_fail_on_the_last(*, actor, model):
        if model.slug == loader.demo_entries()[-1].slug:
            raise RuntimeError("boom")
        return real_publish(actor=actor, model=model)

    monkeypatch.setattr(loader, "model_publish", publish_then_fail_on_the_last)
    stored_before = _stored_demo_files()

    with pytest.raises(RuntimeError, match="boom"):
        run("load_demo_catalog")

    assert AIModel.objects.count() == ModelFile.objects.count() == 0
    assert _stored_demo_files() == stored_before


def _stored_demo_files() -> dict[str, list[str]]:
    """The files under each runnable model's folder (stored files outlive a test's database)."""
    storage = file_storage.model_file_storage()
    folders = [f"demo/{spec.slug}/{runnable.VERSION}" for spec in runnable.RUNNABLE_MODELS]
    return {folder: sorted(storage.listdir(folder)[1]) for folder in folders if storage.exists(folder)}


def test_a_file_left_in_storage_by_an_earlier_database_is_reused_not_duplicated(demo_catalog):
    keys = set(ModelFile.objects.values_list("storage_key", flat=True))
    AIModel.objects.all().delete()
    stored_before = _stored_demo_files()

    run("load_demo_catalog")

    assert set(ModelFile.objects.values_list("storage_key", flat=True)) == keys
    assert _stored_demo_files() == stored_before


def test_load_needs_the_demo_creator_and_writes_nothing_without_it():
    with pytest.raises(CommandError, match="load_demo"):
        run("load_demo_catalog")
    assert AIModel.objects.count() == 0


@override_settings(ENVIRONMENT="production")
def test_load_refuses_in_production_and_writes_nothing():
    run("load_demo", "--force")

    with pytest.raises(CommandError, match="production"):
        run("load_demo_catalog")

    assert AIModel.objects.count() == 0


@override_settings(ENVIRONMENT="production")
def test_load_in_production_with_force_loads():
    run("load_demo", "--force")
    run("load_demo_catalog", "--force")
    assert AIModel.objects.filter(status=ModelStatus.PUBLISHED).count() >= 80


def test_slugs_are_unique_and_valid():
    slugs = [entry.slug for entry in loader.demo_entries()]

    assert len(slugs) == len(set(slugs))
    assert all(re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,118}[a-z0-9])?", slug) for slug in slugs)

from __future__ import annotations

import pytest

from modelmarket.accounts.models import CreatorProfile
from modelmarket.accounts.tests.factories import make_user
from modelmarket.catalog.models import AIModel, ModelFile, ModelVersion
from modelmarket.catalog.vocabulary import ModelStatus, ValidationStatus

pytestmark = pytest.mark.django_db
JSON = "application/json"
NEW_MODEL = {
    "name": "Iris Species Classifier",
    "task": "tabular-classification",
    "license": "MIT",
    "summary": "Predicts the iris species from four flower measurements.",
    "tags": ["Iris", "tabular", "sklearn"],
    "input_modalities": ["tabular"],
    "output_modalities": ["label"],
}


def _create(client, **overrides):
    response = client.post("/api/v1/models", {**NEW_MODEL, **overrides}, content_type=JSON)
    assert response.status_code == 201, response.content
    return response.json()


def _add_valid_file(slug: str, version: str) -> None:
    model_version = ModelVersion.objects.get(model__slug=slug, version=version)
    ModelFile.objects.create(
        version=model_version,
        name="model.onnx",
        size_bytes=10,
        sha256="0" * 64,
        storage_key=f"test/{slug}/{version}/model.onnx",
        file_format="onnx",
        validation_status=ValidationStatus.VALID,
    )


def _publishable(client) -> str:
    slug = _create(client)["slug"]
    assert (
        client.post(f"/api/v1/models/{slug}/versions", {"version": "1.0.0"}, content_type=JSON).status_code
        == 201
    )
    _add_valid_file(slug, "1.0.0")
    assert client.post(f"/api/v1/models/{slug}/versions/1.0.0/publish").status_code == 200
    return slug


def test_creator_creates_a_draft_with_normalized_fields(creator, api_client_for):
    body = _create(api_client_for(creator))
    assert body["slug"] == "iris-species-classifier"
    assert body["status"] == "draft"
    assert body["license"] == "mit"
    assert body["tags"] == ["iris", "tabular", "sklearn"]
    model = AIModel.objects.get()
    assert model.creator == creator
    assert model.creator_name == creator.creator_profile.display_name


def test_buyers_without_a_creator_profile_cannot_create(buyer, api_client_for):
    response = api_client_for(buyer).post("/api/v1/models", NEW_MODEL, content_type=JSON)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "creator_profile_required"
    assert not AIModel.objects.exists()


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"task": "mind-reading"}, "invalid_task"),
        ({"license": "Not A License!"}, "invalid_license"),
        ({"input_modalities": ["smell"]}, "invalid_modality"),
        ({"slug": "Bad Slug"}, "invalid_slug"),
        ({"source": "huggingface"}, "external_id_required"),
        ({"source": "openai_compatible"}, "endpoint_required"),
        ({"name": "   "}, "invalid_name"),
    ],
)
def test_invalid_listings_are_400_and_write_nothing(creator, api_client_for, override, code):
    response = api_client_for(creator).post("/api/v1/models", {**NEW_MODEL, **override}, content_type=JSON)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert not AIModel.objects.exists()


def test_duplicate_slug_is_409(creator, api_client_for):
    client = api_client_for(creator)
    _create(client, slug="iris")
    response = client.post("/api/v1/models", {**NEW_MODEL, "slug": "iris"}, content_type=JSON)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "slug_taken"
    assert AIModel.objects.count() == 1


def test_generated_slugs_do_not_collide(creator, api_client_for):
    client = api_client_for(creator)
    assert [_create(client)["slug"] for _ in range(3)] == [
        "iris-species-classifier",
        "iris-species-classifier-2",
        "iris-species-classifier-3",
    ]


def test_unknown_fields_are_422(creator, api_client_for):
    response = api_client_for(creator).post(
        "/api/v1/models", {**NEW_MODEL, "status": "published"}, content_type=JSON
    )
    assert response.status_code == 422
    assert not AIModel.objects.exists()


def test_others_get_404_for_drafts_and_403_for_published_models(creator, api_client_for):
    owner = api_client_for(creator)
    draft = _create(owner, slug="draft-model")["slug"]
    published = _publishable(owner)
    assert owner.post(f"/api/v1/models/{published}/publish").json()["status"] == "published"
    stranger = api_client_for(make_user("creator"))
    assert stranger.patch(f"/api/v1/models/{draft}", {"name": "Mine"}, content_type=JSON).status_code == 404
    response = stranger.patch(f"/api/v1/models/{published}", {"name": "Mine"}, content_type=JSON)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_model_owner"
    assert stranger.delete(f"/api/v1/models/{published}").status_code == 403
    assert set(AIModel.objects.values_list("name", flat=True)) == {NEW_MODEL["name"]}
    assert not AIModel.objects.filter(deleted_at__isnull=False).exists()


def test_staff_may_edit_any_model(creator, moderator, api_client_for):
    slug = _create(api_client_for(creator))["slug"]
    response = api_client_for(moderator).patch(
        f"/api/v1/models/{slug}", {"summary": "Fixed typo"}, content_type=JSON
    )
    assert response.status_code == 200
    assert AIModel.objects.get().summary == "Fixed typo"


def test_verified_creators_publish_directly(creator, api_client_for):
    client = api_client_for(creator)
    slug = _publishable(client)
    response = client.post(f"/api/v1/models/{slug}/publish")
    assert response.status_code == 200
    assert response.json()["status"] == "published"
    assert response.json()["published_at"] is not None


def test_unverified_creators_go_to_review_and_staff_decide(moderator, api_client_for):
    applicant = make_user("buyer")
    CreatorProfile.objects.create(user=applicant, display_name="New Lab", bio="Fresh models")
    client = api_client_for(applicant)
    slug = _publishable(client)
    assert client.post(f"/api/v1/models/{slug}/publish").json()["status"] == "pending_review"
    assert (
        client.post(f"/api/v1/models/{slug}/review", {"approve": True}, content_type=JSON).status_code == 403
    )
    staff = api_client_for(moderator)
    response = staff.post(
        f"/api/v1/models/{slug}/review", {"approve": False, "note": "Card is empty"}, content_type=JSON
    )
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["review_note"] == "Card is empty"


def test_publishing_needs_a_published_default_version(creator, api_client_for):
    client = api_client_for(creator)
    slug = _create(client)["slug"]
    response = client.post(f"/api/v1/models/{slug}/publish")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_published_version"
    assert AIModel.objects.get().status == ModelStatus.DRAFT


def test_a_version_with_failed_or_pending_files_cannot_be_published(creator, api_client_for):
    client = api_client_for(creator)
    slug = _create(client)["slug"]
    client.post(f"/api/v1/models/{slug}/versions", {"version": "1.0.0"}, content_type=JSON)
    empty = client.post(f"/api/v1/models/{slug}/versions/1.0.0/publish")
    assert empty.json()["error"]["code"] == "version_has_no_files"
    _add_valid_file(slug, "1.0.0")
    ModelFile.objects.update(validation_status=ValidationStatus.INVALID)
    response = client.post(f"/api/v1/models/{slug}/versions/1.0.0/publish")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "files_not_validated",
        "message": "Every file must pass validation before the version is published.",
        "details": {"files": ["model.onnx"]},
    }
    assert ModelVersion.objects.get().published_at is None


def test_published_versions_are_immutable(creator, api_client_for):
    client = api_client_for(creator)
    slug = _publishable(client)
    response = client.patch(
        f"/api/v1/models/{slug}/versions/1.0.0", {"changelog": "rewritten"}, content_type=JSON
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "version_immutable"
    assert ModelVersion.objects.get().changelog == ""


def test_versions_are_semver_and_unique(creator, api_client_for):
    client = api_client_for(creator)
    slug = _create(client)["slug"]
    bad = client.post(f"/api/v1/models/{slug}/versions", {"version": "v1"}, content_type=JSON)
    assert bad.status_code in (400, 422)
    assert (
        client.post(f"/api/v1/models/{slug}/versions", {"version": "1.0.0"}, content_type=JSON).status_code
        == 201
    )
    duplicate = client.post(f"/api/v1/models/{slug}/versions", {"version": "1.0.0"}, content_type=JSON)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "version_exists"
    assert ModelVersion.objects.count() == 1


def test_first_published_version_is_default_and_default_moves_on_request(creator, api_client_for):
    client = api_client_for(creator)
    slug = _publishable(client)
    client.post(f"/api/v1/models/{slug}/versions", {"version": "1.1.0"}, content_type=JSON)
    _add_valid_file(slug, "1.1.0")
    unpublished = client.post(f"/api/v1/models/{slug}/versions/1.1.0/default")
    assert unpublished.json()["error"]["code"] == "version_not_published"
    client.post(f"/api/v1/models/{slug}/versions/1.1.0/publish")
    assert ModelVersion.objects.get(is_default=True).version == "1.0.0"
    assert client.post(f"/api/v1/models/{slug}/versions/1.1.0/default").json()["is_default"] is True
    assert list(ModelVersion.objects.filter(is_default=True).values_list("version", flat=True)) == ["1.1.0"]


def test_deprecating_the_default_moves_it_and_the_last_active_cannot_go(creator, api_client_for):
    client = api_client_for(creator)
    slug = _publishable(client)
    last = client.post(f"/api/v1/models/{slug}/versions/1.0.0/deprecate", {}, content_type=JSON)
    assert last.json()["error"]["code"] == "last_active_version"
    client.post(f"/api/v1/models/{slug}/versions", {"version": "1.1.0"}, content_type=JSON)
    _add_valid_file(slug, "1.1.0")
    client.post(f"/api/v1/models/{slug}/versions/1.1.0/publish")
    response = client.post(
        f"/api/v1/models/{slug}/versions/1.0.0/deprecate", {"note": "Use 1.1.0"}, content_type=JSON
    )
    assert response.status_code == 200
    assert response.json()["deprecated_at"] is not None
    assert ModelVersion.objects.get(is_default=True).version == "1.1.0"


def test_soft_delete_and_restore(creator, api_client_for):
    client = api_client_for(creator)
    slug = _publishable(client)
    client.post(f"/api/v1/models/{slug}/publish")
    assert client.delete(f"/api/v1/models/{slug}").json()["deleted_at"] is not None
    assert AIModel.objects.filter(slug=slug).exists()
    listed = client.get("/api/v1/creator/models").json()["items"]
    assert listed == []
    assert client.get("/api/v1/creator/models?include_deleted=true").json()["items"][0]["slug"] == slug
    assert client.post(f"/api/v1/models/{slug}/restore").json()["deleted_at"] is None


def test_editing_a_synced_listing_marks_the_fields_as_the_creators(creator, api_client_for):
    client = api_client_for(creator)
    slug = _create(client, source="huggingface", external_id="org/model")["slug"]
    client.patch(f"/api/v1/models/{slug}", {"summary": "My words", "tags": ["mine"]}, content_type=JSON)
    assert AIModel.objects.get().locally_edited_fields == ["summary", "tags"]


def test_endpoints_into_our_own_network_are_refused_on_create_and_edit(creator, api_client_for, settings):
    settings.GATEWAY_ALLOWED_UPSTREAM_HOSTS = []
    client = api_client_for(creator)
    listing = {**NEW_MODEL, "task": "chat", "source": "openai_compatible"}
    refused = client.post(
        "/api/v1/models", {**listing, "endpoint_url": "http://169.254.169.254/latest"}, content_type=JSON
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "upstream_url_forbidden"
    assert not AIModel.objects.exists()

    slug = _create(client, **listing, endpoint_url="https://93.184.215.14/v1")["slug"]
    edit = client.patch(f"/api/v1/models/{slug}", {"endpoint_url": "http://[::1]:8000/v1"}, content_type=JSON)
    assert edit.status_code == 422
    assert edit.json()["error"]["code"] == "upstream_url_forbidden"
    assert AIModel.objects.get().endpoint_url == "https://93.184.215.14/v1"

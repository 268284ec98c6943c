"""Creator pages (my models, create, edit, versions, actions) and the staff review page for listings."""

from __future__ import annotations

import pytest
from django.test import Client

from modelmarket.accounts.models import CreatorProfile, User
from modelmarket.accounts.tests.factories import make_user
from modelmarket.catalog.models import AIModel, ModelFile, ModelVersion
from modelmarket.catalog.services import models as services
from modelmarket.catalog.vocabulary import ModelStatus, ValidationStatus

pytestmark = pytest.mark.django_db

NEW_MODEL_FORM = {
    "name": "Iris Species Classifier",
    "slug": "",
    "summary": "Predicts the iris species from four flower measurements.",
    "task": "tabular-classification",
    "input_modalities": ["tabular"],
    "output_modalities": ["label"],
    "license": "MIT",
    "commercial_use": "on",
    "tags": "Iris, tabular , sklearn,",
    "source": "uploaded",
    "external_id": "",
    "endpoint_url": "",
    "card_markdown": "# Iris\n\nA small model.",
}


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def pending_creator() -> User:
    user = make_user("buyer")
    CreatorProfile.objects.create(user=user, display_name="Newcomer", bio="New here.")
    return user


def make_model(owner: User, name: str = "Wine Quality", **overrides: object) -> AIModel:
    arguments: dict[str, object] = {"name": name, "task": "tabular-regression", "license": "apache-2.0"}
    return services.model_create(actor=owner, **{**arguments, **overrides})  # type: ignore[arg-type]


def add_version(model: AIModel, version: str = "1.0.0", *, valid_file: bool = True) -> ModelVersion:
    model_version = services.version_create(actor=model.creator, model=model, version=version)
    if valid_file:
        ModelFile.objects.create(
            version=model_version,
            name="model.onnx",
            size_bytes=2048,
            sha256="0" * 64,
            storage_key=f"test/{model.slug}/{version}/model.onnx",
            file_format="onnx",
            validation_status=ValidationStatus.VALID,
        )
    return model_version


def publishable(owner: User, name: str = "Wine Quality") -> AIModel:
    """A draft listing with a published default version: ready for model_publish."""
    model = make_model(owner, name)
    services.version_publish(actor=owner, version=add_version(model))
    return model


def published(owner: User, name: str = "Wine Quality") -> AIModel:
    return services.model_publish(actor=owner, model=publishable(owner, name))


def flash(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- Access -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url", ["/creator/models/", "/creator/models/new/", "/creator/models/x/edit/", "/staff/models/review/"]
)
def test_creator_pages_send_anonymous_visitors_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_people_without_a_creator_profile_are_told_how_to_become_one(buyer):
    for url in ("/creator/models/", "/creator/models/new/"):
        response = logged_in(buyer).get(url)
        assert response.status_code == 200
        assert "Become a creator first" in response.text
        assert 'href="/account/creator/"' in response.text
        assert "<form" not in response.text.split('id="main"')[1]


def test_account_menu_links_my_models_only_for_creators(buyer, creator):
    assert 'href="/creator/models/"' not in logged_in(buyer).get("/account/settings/").text
    assert 'href="/creator/models/">My models</a>' in logged_in(creator).get("/account/settings/").text


# --- Dashboard ----------------------------------------------------------------------------------------------------
def test_dashboard_lists_only_the_creators_own_models(creator):
    mine = published(creator, "Mine Published")
    draft = make_model(creator, "Mine Draft")
    other = make_model(make_user("creator"), "Somebody Else's")
    response = logged_in(creator).get("/creator/models/")
    assert response.status_code == 200
    assert [model.slug for model in response.context["page"]] == [draft.slug, mine.slug]
    assert "Somebody Else" not in response.text
    assert other.slug not in response.text
    row = response.text.split(f'id="model-{mine.slug}"')[1].split("</tr>")[0]
    assert '<span class="badge badge-success">Published</span>' in row
    assert '<span class="mono">1.0.0</span>' in row
    assert f'href="/models/{mine.slug}/"' in row


def test_dashboard_empty_state_invites_the_first_model(creator):
    response = logged_in(creator).get("/creator/models/")
    assert "No models yet" in response.text
    assert 'href="/creator/models/new/">Create your first model</a>' in response.text


def test_dashboard_hides_deleted_models_unless_asked_and_offers_restore(creator):
    model = make_model(creator)
    services.model_delete(actor=creator, model=model)
    client = logged_in(creator)
    assert list(client.get("/creator/models/").context["page"]) == []
    response = client.get("/creator/models/?deleted=1")
    assert [m.slug for m in response.context["page"]] == [model.slug]
    assert f'action="/creator/models/{model.slug}/restore/"' in response.text
    assert '<span class="badge badge-danger">Deleted</span>' in response.text


def test_dashboard_shows_the_review_note_of_a_rejected_model(moderator):
    owner = pending_creator()
    model = services.model_publish(actor=owner, model=publishable(owner))
    assert model.status == ModelStatus.PENDING_REVIEW
    services.model_review(actor=moderator, model=model, approve=False, note="Add a model card.")
    response = logged_in(owner).get("/creator/models/")
    assert '<span class="badge badge-danger">Rejected</span>' in response.text
    assert "<strong>Review note:</strong> Add a model card." in response.text


def test_dashboard_labels_publish_by_the_services_rule(creator):
    make_model(creator)
    assert ">Publish<span" in logged_in(creator).get("/creator/models/").text
    newcomer = pending_creator()
    make_model(newcomer, "Newcomer Model")
    text = logged_in(newcomer).get("/creator/models/").text
    assert ">Submit for review<span" in text
    assert ">Publish<span" not in text


# --- Create and edit ----------------------------------------------------------------------------------------------
def test_creating_through_the_form_makes_a_draft_via_the_service(creator):
    response = logged_in(creator).post("/creator/models/new/", NEW_MODEL_FORM)
    assert response.status_code == 302
    assert response["Location"] == "/creator/models/iris-species-classifier/versions/"
    model = AIModel.objects.get()
    assert model.creator == creator
    assert model.status == ModelStatus.DRAFT
    assert model.license == "mit"
    assert model.commercial_use is True
    assert model.input_modalities == ["tabular"]
    assert model.output_modalities == ["label"]
    assert model.search_tags == "iris tabular sklearn"
    assert model.card_markdown == "# Iris\n\nA small model."


def test_invalid_license_is_shown_on_its_field_and_nothing_is_written(creator):
    response = logged_in(creator).post(
        "/creator/models/new/", {**NEW_MODEL_FORM, "license": "not a licence!"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {
        "license": ["The license must be an SPDX id such as apache-2.0 or mit."]
    }
    assert AIModel.objects.count() == 0


def test_missing_provider_id_and_taken_slug_are_form_errors(creator):
    make_model(creator, "Taken", slug="taken")
    client = logged_in(creator)
    response = client.post("/creator/models/new/", {**NEW_MODEL_FORM, "source": "huggingface"})
    assert response.context["form"].errors == {
        "external_id": ["A provider listing needs the provider's model id."]
    }
    response = client.post("/creator/models/new/", {**NEW_MODEL_FORM, "slug": "taken"})
    assert response.context["form"].errors == {"slug": ["That slug is taken."]}
    assert list(AIModel.objects.values_list("slug", flat=True)) == ["taken"]


def test_rejected_applicant_cannot_create_and_sees_why(buyer):
    CreatorProfile.objects.create(
        user=buyer, display_name="Nope", bio="x", status=CreatorProfile.Status.REJECTED
    )
    response = logged_in(buyer).post("/creator/models/new/", NEW_MODEL_FORM)
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Apply to become a creator before publishing models."
    ]
    assert AIModel.objects.count() == 0


def test_editing_sends_only_changed_fields_to_the_service(creator):
    model = make_model(creator, "Synced", source="huggingface", external_id="acme/synced")
    client = logged_in(creator)
    form = client.get(f"/creator/models/{model.slug}/edit/").context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {key: value for key, value in data.items() if value not in (None, False)}
    response = client.post(f"/creator/models/{model.slug}/edit/", {**data, "summary": "Now with a summary."})
    assert response.status_code == 302
    model.refresh_from_db()
    assert model.summary == "Now with a summary."
    assert model.locally_edited_fields == ["summary"]


def test_card_preview_is_sanitized(creator):
    response = logged_in(creator).post(
        "/creator/models/preview/",
        {"card_markdown": "**bold** <script>alert(1)</script> [x](javascript:alert(1))"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "<strong>bold</strong>" in response.text
    assert "<script>" not in response.text
    assert "<a" not in response.text  # the javascript: link stays text, never a link


def test_preview_without_javascript_rerenders_the_form_and_saves_nothing(creator):
    response = logged_in(creator).post("/creator/models/new/", {**NEW_MODEL_FORM, "preview": "1"})
    assert response.status_code == 200
    assert "<h1>Iris</h1>" in response.text
    assert AIModel.objects.count() == 0


def test_another_creator_gets_404_for_a_draft_and_403_for_a_published_model(creator):
    draft = make_model(creator, "Secret Draft")
    public = published(creator, "Public Model")
    intruder = logged_in(make_user("creator"))
    assert intruder.get(f"/creator/models/{draft.slug}/edit/").status_code == 404
    assert intruder.get(f"/creator/models/{draft.slug}/versions/").status_code == 404
    response = intruder.get(f"/creator/models/{public.slug}/edit/")
    assert response.status_code == 403
    assert "<h1>You can't change this model</h1>" in response.text
    assert "Only the model&#x27;s creator can change it." in response.text
    response = intruder.post(f"/creator/models/{public.slug}/edit/", {**NEW_MODEL_FORM, "name": "Hijacked"})
    assert response.status_code == 403
    assert intruder.post(f"/creator/models/{public.slug}/delete/").status_code == 403
    public.refresh_from_db()
    assert (public.name, public.deleted_at) == ("Public Model", None)


# --- Actions ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("action", ["publish", "deprecate", "delete", "restore"])
def test_listing_actions_refuse_get(creator, action):
    model = make_model(creator)
    assert logged_in(creator).get(f"/creator/models/{model.slug}/{action}/").status_code == 405
    model.refresh_from_db()
    assert (model.status, model.deleted_at) == (ModelStatus.DRAFT, None)


def test_actions_need_a_csrf_token(creator):
    model = publishable(creator)
    client = Client(enforce_csrf_checks=True)
    client.force_login(creator)
    assert client.post(f"/creator/models/{model.slug}/publish/").status_code == 403
    assert client.post(f"/creator/models/{model.slug}/delete/").status_code == 403
    model.refresh_from_db()
    assert (model.status, model.deleted_at) == (ModelStatus.DRAFT, None)


def test_verified_creator_publishes_directly(creator):
    model = publishable(creator)
    response = logged_in(creator).post(f"/creator/models/{model.slug}/publish/", follow=True)
    assert response.redirect_chain == [("/creator/models/", 302)]
    assert flash(response) == [f"“{model.name}” is published and listed in the catalog."]
    model.refresh_from_db()
    assert model.status == ModelStatus.PUBLISHED


def test_creator_awaiting_verification_submits_for_review():
    owner = pending_creator()
    model = publishable(owner)
    response = logged_in(owner).post(f"/creator/models/{model.slug}/publish/", follow=True)
    assert flash(response) == [
        f"“{model.name}” was sent for review. Staff check it before it appears in the catalog."
    ]
    model.refresh_from_db()
    assert model.status == ModelStatus.PENDING_REVIEW


def test_publishing_without_a_version_shows_the_services_refusal(creator):
    model = make_model(creator)
    response = logged_in(creator).post(f"/creator/models/{model.slug}/publish/", follow=True)
    assert flash(response) == [f"“{model.name}”: Publish a version and make it the default first."]
    model.refresh_from_db()
    assert model.status == ModelStatus.DRAFT


def test_publish_returns_to_a_same_site_next_but_never_offsite(creator):
    model = publishable(creator)
    client = logged_in(creator)
    response = client.post(f"/creator/models/{model.slug}/publish/", {"next": "https://evil.example/"})
    assert response["Location"] == "/creator/models/"
    response = client.post(f"/creator/models/{model.slug}/publish/", {"next": "/creator/models/?deleted=1"})
    assert response["Location"] == "/creator/models/?deleted=1"


def test_deprecate_delete_and_restore_through_the_pages(creator):
    model = published(creator)
    client = logged_in(creator)
    response = client.post(f"/creator/models/{model.slug}/deprecate/", follow=True)
    assert flash(response) == [f"“{model.name}” is deprecated: still listed and callable, marked as such."]
    model.refresh_from_db()
    assert model.status == ModelStatus.DEPRECATED
    response = client.post(f"/creator/models/{model.slug}/delete/", follow=True)
    assert flash(response) == [f"“{model.name}” was deleted. Find it under “Show deleted” to restore it."]
    model.refresh_from_db()
    assert model.deleted_at is not None
    response = client.post(f"/creator/models/{model.slug}/restore/", follow=True)
    assert flash(response) == [f"“{model.name}” was restored."]
    model.refresh_from_db()
    assert model.deleted_at is None


# --- Versions -----------------------------------------------------------------------------------------------------
def test_versions_page_lists_versions_with_files_and_actions(creator):
    model = make_model(creator)
    add_version(model, "1.0.0")
    add_version(model, "1.1.0-beta.1", valid_file=False)
    response = logged_in(creator).get(f"/creator/models/{model.slug}/versions/")
    assert response.status_code == 200
    assert [version.version for version in response.context["versions"]] == ["1.1.0-beta.1", "1.0.0"]
    assert response.text.count("Publish version<span") == 2
    assert f'href="/models/{model.slug}/versions/1.0.0/files/"' in response.text
    assert '<span class="badge badge-success">Valid</span>' in response.text
    assert "No files yet." in response.text


def test_creating_a_version_through_the_form(creator):
    model = make_model(creator)
    response = logged_in(creator).post(
        f"/creator/models/{model.slug}/versions/",
        {
            "version": "1.0.0",
            "changelog": "First.",
            "input_schema": '{"type": "object"}',
            "output_schema": "",
        },
    )
    assert response.status_code == 302
    version = ModelVersion.objects.get(model=model)
    assert (version.version, version.changelog, version.input_schema, version.output_schema) == (
        "1.0.0",
        "First.",
        {"type": "object"},
        {},
    )
    assert version.published_at is None


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("input_schema", "[1, 2]", 'The input schema must be a JSON object, such as {"type": "object"}.'),
        (
            "output_schema",
            "{nope",
            "The output schema is not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2).",
        ),
        ("version", "1.0", "Versions are semantic versions: MAJOR.MINOR.PATCH with an optional -prerelease."),
    ],
)
def test_version_form_errors_write_nothing(creator, field, value, error):
    model = make_model(creator)
    data = {"version": "1.0.0", "changelog": "", "input_schema": "", "output_schema": "", field: value}
    response = logged_in(creator).post(f"/creator/models/{model.slug}/versions/", data)
    assert response.status_code == 400
    assert response.context["form"].errors == {field: [error]}
    assert ModelVersion.objects.count() == 0


def test_duplicate_version_is_a_form_error(creator):
    model = make_model(creator)
    add_version(model, "1.0.0")
    response = logged_in(creator).post(f"/creator/models/{model.slug}/versions/", {"version": "1.0.0"})
    assert response.context["form"].errors == {"version": ["Version 1.0.0 already exists."]}
    assert ModelVersion.objects.count() == 1


def test_publish_default_and_deprecate_versions_through_the_pages(creator):
    model = make_model(creator)
    first, second = add_version(model, "1.0.0"), add_version(model, "2.0.0")
    client = logged_in(creator)
    base = f"/creator/models/{model.slug}/versions"
    response = client.post(f"{base}/1.0.0/publish/", follow=True)
    assert flash(response) == [
        "Version 1.0.0 is published and can no longer change. It is the default version."
    ]
    response = client.post(f"{base}/2.0.0/publish/", follow=True)
    assert flash(response) == ["Version 2.0.0 is published and can no longer change."]
    response = client.post(f"{base}/2.0.0/default/", follow=True)
    assert flash(response) == ["Version 2.0.0 is now the default: calls without a version use it."]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)
    response = client.post(
        f"{base}/1.0.0/deprecate/", {"note": "Use 2.0.0.", "effective_on": "2030-01-31"}, follow=True
    )
    assert flash(response) == ["Version 1.0.0 is deprecated."]
    first.refresh_from_db()
    assert first.deprecation_note == "Use 2.0.0."
    assert first.deprecated_at is not None
    assert first.deprecated_at.isoformat() == "2030-01-31T00:00:00+00:00"
    text = client.get(f"{base}/").text
    assert text.count("Publish version<span") == 0
    assert "Make default<span" not in text  # 1.0.0 is deprecated, 2.0.0 already the default


def test_publishing_a_version_with_unvalidated_files_shows_the_refusal(creator):
    model = make_model(creator)
    version = add_version(model, "1.0.0", valid_file=False)
    ModelFile.objects.create(
        version=version, name="weights.onnx", size_bytes=1, sha256="1" * 64, storage_key="test/pending.onnx"
    )
    response = logged_in(creator).post(f"/creator/models/{model.slug}/versions/1.0.0/publish/", follow=True)
    assert flash(response) == [
        "Version 1.0.0: Every file must pass validation before the version is published."
    ]
    version.refresh_from_db()
    assert version.published_at is None


def test_deprecating_the_only_active_version_is_refused(creator):
    model = published(creator)
    response = logged_in(creator).post(f"/creator/models/{model.slug}/versions/1.0.0/deprecate/", follow=True)
    assert flash(response) == [
        "Version 1.0.0: Publish another version before deprecating the only active one."
    ]
    assert ModelVersion.objects.get().deprecated_at is None


def test_unknown_version_is_404(creator):
    model = make_model(creator)
    assert logged_in(creator).post(f"/creator/models/{model.slug}/versions/9.9.9/publish/").status_code == 404


# --- Staff review -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["buyer", "creator"])
def test_staff_review_page_is_not_found_for_non_staff(request, role):
    client = logged_in(request.getfixturevalue(role))
    assert client.get("/staff/models/review/").status_code == 404
    assert client.post("/staff/models/x/review/", {"decision": "approve"}).status_code == 404


def _pending_model() -> AIModel:
    owner = pending_creator()
    return services.model_publish(actor=owner, model=publishable(owner, "Needs Review"))


def test_staff_review_page_lists_pending_models_for_moderators(moderator, creator):
    pending = _pending_model()
    make_model(creator, "Just A Draft")
    response = logged_in(moderator).get("/staff/models/review/")
    assert response.status_code == 200
    assert [model.slug for model in response.context["page"]] == [pending.slug]
    assert f'action="/staff/models/{pending.slug}/review/"' in response.text


def test_moderator_approves_a_pending_model(moderator):
    model = _pending_model()
    response = logged_in(moderator).post(
        f"/staff/models/{model.slug}/review/", {"decision": "approve", "note": ""}, follow=True
    )
    assert flash(response) == ["“Needs Review” was approved and published."]
    model.refresh_from_db()
    assert model.status == ModelStatus.PUBLISHED


def test_rejecting_needs_a_note_and_stores_it(admin_user):
    model = _pending_model()
    client = logged_in(admin_user)
    response = client.post(
        f"/staff/models/{model.slug}/review/", {"decision": "reject", "note": " "}, follow=True
    )
    assert flash(response) == ["Say what the creator should change when you reject a model."]
    model.refresh_from_db()
    assert model.status == ModelStatus.PENDING_REVIEW
    client.post(f"/staff/models/{model.slug}/review/", {"decision": "reject", "note": "Add a card."})
    model.refresh_from_db()
    assert (model.status, model.review_note) == (ModelStatus.REJECTED, "Add a card.")

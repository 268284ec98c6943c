"""The owner's file page: list with validation reports, the no-JavaScript upload form, delete."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from modelmarket.accounts.tests.factories import make_user
from modelmarket.catalog.models import AIModel, ModelFile, ModelVersion
from modelmarket.catalog.services import files as file_services
from modelmarket.catalog.services.models import model_create, version_create
from modelmarket.catalog.vocabulary import ModelStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("model_file_storage_local")]


@pytest.fixture
def draft(creator) -> ModelVersion:
    model = model_create(actor=creator, name="Iris classifier", task="tabular-classification", license="mit")
    return version_create(actor=creator, model=model, version="1.0.0")


def page_url(version: ModelVersion) -> str:
    return f"/models/{version.model.slug}/versions/{version.version}/files/"


def logged_in(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf_token(client: Client, url: str) -> str:
    client.get(url)
    return client.cookies["csrftoken"].value


def test_owner_sees_files_with_sha256_status_and_report(creator, draft, iris_onnx_bytes):
    file = file_services.file_upload(actor=creator, version=draft, name="iris.onnx", chunks=[iris_onnx_bytes])
    file_services.file_validate(file_id=file.pk)

    response = logged_in(creator).get(page_url(draft))

    assert response.status_code == 200
    html = response.content.decode()
    assert hashlib.sha256(iris_onnx_bytes).hexdigest() in html
    assert "Valid" in html
    assert "output_probability" in html
    assert f'data-upload-url="/api/v1/models/{draft.model.slug}/versions/1.0.0/files"' in html
    assert "js/upload.js" in html


def test_pickle_warning_is_visible_on_the_page(creator, draft):
    import pickle

    file = file_services.file_upload(
        actor=creator, version=draft, name="model.pkl", chunks=[pickle.dumps({"a": 1}, protocol=4)]
    )
    file_services.file_validate(file_id=file.pk)

    html = logged_in(creator).get(page_url(draft)).content.decode()

    assert "Download only" in html
    assert "never loads or runs it" in html


def test_plain_form_upload_stores_the_file(creator, draft, django_capture_on_commit_callbacks):
    client = logged_in(creator)
    token = csrf_token(client, page_url(draft))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            page_url(draft),
            {"file": SimpleUploadedFile("config.json", b'{"labels": 3}'), "csrfmiddlewaretoken": token},
        )

    assert response.status_code == 302
    file = ModelFile.objects.get()
    assert (file.name, file.size_bytes, file.validation_status) == ("config.json", 13, "valid")


def test_plain_form_upload_without_csrf_token_is_refused(creator, draft):
    response = logged_in(creator).post(page_url(draft), {"file": SimpleUploadedFile("a.json", b"{}")})

    assert response.status_code == 403
    assert ModelFile.objects.count() == 0


def test_plain_form_upload_over_the_maximum_is_refused_unread(creator, draft, settings):
    settings.MODEL_FILE_MAX_BYTES = 10
    client = logged_in(creator)
    token = csrf_token(client, page_url(draft))

    response = client.post(
        page_url(draft),
        {"file": SimpleUploadedFile("big.bin", b"x" * 100_000), "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 413
    assert ModelFile.objects.count() == 0


def test_duplicate_upload_shows_the_error_on_the_page(creator, draft):
    file_services.file_upload(actor=creator, version=draft, name="a.json", chunks=[b"{}"])
    client = logged_in(creator)
    token = csrf_token(client, page_url(draft))

    response = client.post(
        page_url(draft), {"file": SimpleUploadedFile("a.json", b"{}"), "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 409
    assert "already has a file named" in response.content.decode()


def test_delete_button_removes_the_file(creator, draft, django_capture_on_commit_callbacks):
    file = file_services.file_upload(actor=creator, version=draft, name="a.json", chunks=[b"{}"])
    client = logged_in(creator)
    token = csrf_token(client, page_url(draft))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/models/{draft.model.slug}/files/{file.pk}/delete/", {"csrfmiddlewaretoken": token}
        )

    assert response.status_code == 302
    assert ModelFile.objects.count() == 0


def test_others_get_404_for_a_draft_and_403_for_a_published_model(creator, draft):
    other = make_user("creator")

    assert logged_in(other).get(page_url(draft)).status_code == 404
    AIModel.objects.filter(pk=draft.model_id).update(
        status=ModelStatus.PUBLISHED, published_at=timezone.now()
    )
    ModelVersion.objects.filter(pk=draft.pk).update(published_at=timezone.now())
    assert logged_in(other).get(page_url(draft)).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(draft):
    response = Client().get(page_url(draft))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_published_version_page_has_no_upload_form(creator, draft):
    ModelVersion.objects.filter(pk=draft.pk).update(published_at=timezone.now())

    html = logged_in(creator).get(page_url(draft)).content.decode()

    assert "data-upload-form" not in html
    assert "cannot change" in html

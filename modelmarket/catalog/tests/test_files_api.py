"""Uploading, listing, downloading and deleting model files through the API, on local storage."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from django.db import IntegrityError
from django.test import Client
from django.utils import timezone

from modelmarket.accounts.tests.factories import make_user
from modelmarket.catalog import storage
from modelmarket.catalog.models import AIModel, ModelFile, ModelVersion
from modelmarket.catalog.services import files as file_services
from modelmarket.catalog.services.models import model_create, version_create
from modelmarket.catalog.vocabulary import ModelStatus
from modelmarket.core.exceptions import BadRequest, PayloadTooLarge

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("model_file_storage_local")]


@pytest.fixture
def listing(creator) -> AIModel:
    return model_create(actor=creator, name="Iris classifier", task="tabular-classification", license="mit")


@pytest.fixture
def draft(listing, creator) -> ModelVersion:
    return version_create(actor=creator, model=listing, version="1.0.0")


def upload_url(model: AIModel, version: str = "1.0.0", name: str = "iris.onnx") -> str:
    return f"/api/v1/models/{model.slug}/versions/{version}/files?name={name}"


def post_file(client: Client, url: str, content: bytes):
    # The test client leaves out Content-Length for an empty body; HTTP clients send 0.
    return client.post(
        url, data=content, content_type="application/octet-stream", CONTENT_LENGTH=str(len(content))
    )


def stored_objects(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def publish(model: AIModel, version: ModelVersion) -> None:
    ModelVersion.objects.filter(pk=version.pk).update(published_at=timezone.now(), is_default=True)
    AIModel.objects.filter(pk=model.pk).update(status=ModelStatus.PUBLISHED, published_at=timezone.now())


# --- Upload -------------------------------------------------------------------------------------------------------
def test_upload_streams_to_storage_records_sha256_and_validates_on_commit(
    creator,
    draft,
    api_client_for,
    iris_onnx_bytes,
    model_file_storage_local,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_file(api_client_for(creator), upload_url(draft.model), iris_onnx_bytes)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "iris.onnx"
    assert body["size_bytes"] == len(iris_onnx_bytes)
    assert body["sha256"] == hashlib.sha256(iris_onnx_bytes).hexdigest()
    assert body["validation_status"] == "pending"  # answered before the job ran
    # One job scheduled for the file (the others tell the gateway's caches that the listing's files changed).
    assert len([callback for callback in callbacks if "generation_bump" not in callback.__qualname__]) == 1
    file = ModelFile.objects.get()
    assert (file.validation_status, file.file_format) == ("valid", "onnx")
    assert file.validation_report["onnx"]["inputs"][0]["name"] == "X"
    assert file.validation_report["errors"] == []
    assert file.storage_key.startswith(f"files/{draft.model_id}/{draft.pk}/")
    assert stored_objects(model_file_storage_local) == [file.storage_key]
    assert (model_file_storage_local / file.storage_key).read_bytes() == iris_onnx_bytes


def test_upload_of_a_pickle_is_accepted_as_download_only(
    creator, draft, api_client_for, django_capture_on_commit_callbacks
):
    import pickle

    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(
            api_client_for(creator),
            upload_url(draft.model, name="model.pkl"),
            pickle.dumps([1, 2], protocol=4),
        )

    assert response.status_code == 201
    file = ModelFile.objects.get()
    assert (file.validation_status, file.file_format) == ("download_only", "pickle")
    assert "never loads or runs it" in file.validation_report["warnings"][0]


def test_mislabelled_upload_fails_validation_with_a_report(
    creator, draft, api_client_for, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_file(api_client_for(creator), upload_url(draft.model), b"PK\x05\x06" + b"\0" * 18)

    file = ModelFile.objects.get()
    assert file.validation_status == "invalid"
    assert "its content is a ZIP archive" in file.validation_report["errors"][0]


def test_empty_upload_is_refused_and_writes_nothing(creator, draft, api_client_for, model_file_storage_local):
    response = post_file(api_client_for(creator), upload_url(draft.model), b"")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "empty_file"
    assert ModelFile.objects.count() == 0
    assert stored_objects(model_file_storage_local) == []


def test_upload_over_the_maximum_is_refused_before_reading(
    creator, draft, api_client_for, settings, model_file_storage_local
):
    settings.MODEL_FILE_MAX_BYTES = 10

    response = post_file(api_client_for(creator), upload_url(draft.model), b"x" * 11)

    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "file_too_large",
        "message": "The file is larger than the 10 bytes allowed.",
        "details": {"max_bytes": 10},
    }
    assert ModelFile.objects.count() == 0
    assert stored_objects(model_file_storage_local) == []


def test_stream_longer_than_the_maximum_stops_while_reading_and_leaves_nothing(
    creator, draft, settings, model_file_storage_local
):
    settings.MODEL_FILE_MAX_BYTES = 10
    chunks_read = []

    def chunks():
        for chunk in (b"12345", b"67890", b"X", b"never read"):
            chunks_read.append(chunk)
            yield chunk

    with pytest.raises(PayloadTooLarge):
        file_services.file_upload(actor=creator, version=draft, name="big.bin", chunks=chunks())

    assert chunks_read == [b"12345", b"67890", b"X"]
    assert ModelFile.objects.count() == 0
    assert stored_objects(model_file_storage_local) == []


def test_body_shorter_than_its_content_length_is_an_incomplete_upload(
    creator, draft, model_file_storage_local
):
    with pytest.raises(BadRequest) as error:
        file_services.file_upload(
            actor=creator, version=draft, name="iris.onnx", chunks=[b"abc"], declared_size=1000
        )

    assert error.value.code == "incomplete_upload"
    assert ModelFile.objects.count() == 0
    assert stored_objects(model_file_storage_local) == []


def test_duplicate_name_in_a_version_is_a_conflict(creator, draft, api_client_for, model_file_storage_local):
    client = api_client_for(creator)
    assert post_file(client, upload_url(draft.model), b"first").status_code == 201

    response = post_file(client, upload_url(draft.model), b"second")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "file_exists"
    assert ModelFile.objects.count() == 1
    assert len(stored_objects(model_file_storage_local)) == 1


def test_upload_to_a_published_version_is_a_conflict(
    creator, draft, api_client_for, model_file_storage_local
):
    publish(draft.model, draft)

    response = post_file(api_client_for(creator), upload_url(draft.model), b"weights")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "version_published"
    assert stored_objects(model_file_storage_local) == []


def test_someone_else_gets_404_for_a_draft_model_and_403_for_a_published_one(
    draft, buyer, api_client_for, model_file_storage_local
):
    other_creator = make_user("creator")
    client = api_client_for(other_creator)

    hidden = post_file(client, upload_url(draft.model), b"weights")
    publish(
        draft.model,
        ModelVersion.objects.create(model=draft.model, version="0.9.0", major=0, minor=9, patch=0),
    )
    forbidden = post_file(client, upload_url(draft.model), b"weights")

    assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "model_not_found")
    assert (forbidden.status_code, forbidden.json()["error"]["code"]) == (403, "not_model_owner")
    assert ModelFile.objects.count() == 0
    assert stored_objects(model_file_storage_local) == []


def test_upload_needs_the_manage_scope(creator, draft, api_client_for):
    response = post_file(api_client_for(creator, scopes=("read",)), upload_url(draft.model), b"weights")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


def test_upload_without_credentials_is_401(draft):
    assert post_file(Client(), upload_url(draft.model), b"weights").status_code == 401


def test_form_bodies_are_refused_with_415(creator, draft, api_client_for):
    response = api_client_for(creator).post(upload_url(draft.model), data={"file": "x"})

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\model.onnx", "model.onnx"),
        ("mo\x00del\x1b.on\u202enx", "model.onnx"),
        ("  spaced name.bin ", "spaced name.bin"),
    ],
)
def test_file_names_lose_paths_and_control_characters(raw, clean):
    assert file_services.file_name_clean(raw) == clean


@pytest.mark.parametrize("raw", ["", "..", "dir/", "\x00\x01", "a" * 256])
def test_unusable_file_names_are_refused(raw):
    with pytest.raises(BadRequest) as error:
        file_services.file_name_clean(raw)
    assert error.value.code == "invalid_file_name"


# --- Interrupted uploads ------------------------------------------------------------------------------------------
def test_storage_failing_mid_stream_leaves_no_object_and_no_row(creator, draft, model_file_storage_local):
    def chunks():
        yield b"first megabyte"
        raise OSError("connection reset by peer")

    with pytest.raises(OSError, match="connection reset"):
        file_services.file_upload(actor=creator, version=draft, name="model.onnx", chunks=chunks())

    assert ModelFile.objects.count() == 0
    assert stored_objects(model_file_storage_local) == []


def test_database_error_after_storing_leaves_no_object_and_no_row(
    creator, draft, monkeypatch, model_file_storage_local
):
    def fail(**kwargs):
        raise IntegrityError("simulated")

    monkeypatch.setattr(ModelFile.objects, "create", fail)

    with pytest.raises(IntegrityError):
        file_services.file_upload(actor=creator, version=draft, name="model.onnx", chunks=[b"weights"])

    assert ModelFile.objects.count() == 0
    assert stored_objects(model_file_storage_local) == []


def test_failure_after_the_move_removes_the_final_object_too(
    creator, draft, monkeypatch, model_file_storage_local
):
    def fail(function, robust=False, using=None):
        raise RuntimeError("simulated failure at commit time")

    monkeypatch.setattr("django.db.transaction.on_commit", fail)

    with pytest.raises(RuntimeError):
        file_services.file_upload(actor=creator, version=draft, name="model.onnx", chunks=[b"weights"])

    assert ModelFile.objects.count() == 0
    assert stored_objects(model_file_storage_local) == []


# --- List, download, delete ---------------------------------------------------------------------------------------
def upload(creator, version, name: str, content: bytes) -> ModelFile:
    return file_services.file_upload(actor=creator, version=version, name=name, chunks=[content])


def test_list_shows_size_sha256_format_and_validation(creator, draft, api_client_for, iris_onnx_bytes):
    file = upload(creator, draft, "iris.onnx", iris_onnx_bytes)
    file_services.file_validate(file_id=file.pk)

    response = api_client_for(creator).get(f"/api/v1/models/{draft.model.slug}/files?version=1.0.0")

    assert response.status_code == 200
    body = response.json()
    assert body["version"] == "1.0.0"
    assert body["next_cursor"] is None
    [item] = body["items"]
    assert item["sha256"] == hashlib.sha256(iris_onnx_bytes).hexdigest()
    assert (item["size_bytes"], item["file_format"], item["validation_status"]) == (
        len(iris_onnx_bytes),
        "onnx",
        "valid",
    )
    assert item["validation_report"]["onnx"]["opsets"]
    assert (
        item["download_url"] == f"http://testserver/api/v1/models/{draft.model.slug}/files/{file.pk}/download"
    )


def test_draft_files_are_hidden_from_others_and_public_files_listed_for_anyone(creator, draft):
    file = upload(creator, draft, "iris.onnx", b"weights")
    url = f"/api/v1/models/{draft.model.slug}/files"

    assert Client().get(url).status_code == 404
    publish(draft.model, draft)
    response = Client().get(url)

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [file.pk]


def test_download_streams_the_same_bytes_with_checksum_headers_and_counts(creator, draft, api_client_for):
    content = b"\x00weights\xff" * 1000
    file = upload(creator, draft, "weights.bin", content)
    url = f"/api/v1/models/{draft.model.slug}/files/{file.pk}/download"

    response = api_client_for(creator).get(url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Disposition"] == 'attachment; filename="weights.bin"'
    assert response["Content-Length"] == str(len(content))
    assert response["X-Checksum-SHA256"] == hashlib.sha256(content).hexdigest()
    assert (
        response["Repr-Digest"] == f"sha-256=:{base64.b64encode(hashlib.sha256(content).digest()).decode()}:"
    )
    file.refresh_from_db()
    assert file.download_count == 1
    assert AIModel.objects.get(pk=draft.model_id).download_count == 1


def test_anonymous_download_of_a_public_file_works_and_of_a_draft_is_404(creator, draft):
    file = upload(creator, draft, "weights.bin", b"weights")
    api_url = f"/api/v1/models/{draft.model.slug}/files/{file.pk}/download"
    page_url = f"/models/{draft.model.slug}/files/{file.pk}/download/"

    assert Client().get(api_url).status_code == 404
    assert Client().get(page_url).status_code == 404
    publish(draft.model, draft)
    api_response = Client().get(api_url)
    page_response = Client().get(page_url)

    assert b"".join(api_response.streaming_content) == b"weights"
    assert b"".join(page_response.streaming_content) == b"weights"
    file.refresh_from_db()
    assert file.download_count == 2
    assert AIModel.objects.get(pk=draft.model_id).download_count == 2


def test_a_bad_api_key_on_a_public_download_is_401_not_anonymous(creator, draft):
    file = upload(creator, draft, "weights.bin", b"weights")
    publish(draft.model, draft)

    response = Client(HTTP_AUTHORIZATION="Bearer mm_not_a_key").get(
        f"/api/v1/models/{draft.model.slug}/files/{file.pk}/download"
    )

    assert response.status_code == 401


def test_delete_removes_the_row_and_the_object_after_commit(
    creator, draft, api_client_for, model_file_storage_local, django_capture_on_commit_callbacks
):
    file = upload(creator, draft, "weights.bin", b"weights")

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(creator).delete(f"/api/v1/models/{draft.model.slug}/files/{file.pk}")

    assert response.status_code == 204
    assert ModelFile.objects.count() == 0
    assert stored_objects(model_file_storage_local) == []


def test_files_of_a_published_version_cannot_be_deleted(
    creator, draft, api_client_for, model_file_storage_local
):
    file = upload(creator, draft, "weights.bin", b"weights")
    publish(draft.model, draft)

    response = api_client_for(creator).delete(f"/api/v1/models/{draft.model.slug}/files/{file.pk}")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "version_published"
    assert ModelFile.objects.count() == 1
    assert stored_objects(model_file_storage_local) == [file.storage_key]


def test_sweep_removes_abandoned_temporary_objects(model_file_storage_local, monkeypatch):
    stored = storage.store_stream(storage.temporary_key(), [b"half an upload"], max_bytes=100)
    monkeypatch.setattr("modelmarket.catalog.tasks.TEMPORARY_OBJECT_MAX_AGE_SECONDS", -60)
    from modelmarket.catalog.tasks import model_files_sweep

    model_files_sweep.call_local()

    assert not (model_file_storage_local / stored.key).exists()

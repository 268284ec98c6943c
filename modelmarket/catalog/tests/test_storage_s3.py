"""The S3 path, against a real S3-compatible server (moto's server mode) on loopback: uploads, validation reading
from S3, signed download URLs fetched over HTTP, deletion, and failed uploads leaving nothing behind."""

from __future__ import annotations

import hashlib
import uuid

import boto3
import httpx
import pytest
from django.utils import timezone
from moto.server import ThreadedMotoServer

from modelmarket.catalog.models import AIModel, ModelFile, ModelVersion
from modelmarket.catalog.services import files as file_services
from modelmarket.catalog.services.models import model_create, version_create
from modelmarket.catalog.vocabulary import ModelStatus
from modelmarket.core.exceptions import PayloadTooLarge

pytestmark = pytest.mark.django_db
CREDENTIALS = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret"}


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint, settings):
    """A fresh bucket, and model-file storage pointed at it exactly as base settings do when S3_BUCKET is set."""
    name = f"models-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **CREDENTIALS)
    client.create_bucket(Bucket=name)
    settings.S3_SIGNED_URL_SECONDS = 120
    settings.MODEL_FILE_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": name,
            "endpoint_url": s3_endpoint,
            "region_name": "us-east-1",
            "access_key": CREDENTIALS["aws_access_key_id"],
            "secret_key": CREDENTIALS["aws_secret_access_key"],
            "location": "models",
            "default_acl": None,
            "querystring_auth": True,
            "signature_version": "s3v4",
            "querystring_expire": 120,
            "file_overwrite": True,
        },
    }

    def keys() -> list[str]:
        return sorted(item["Key"] for item in client.list_objects_v2(Bucket=name).get("Contents", []))

    def read(key: str) -> bytes:
        return client.get_object(Bucket=name, Key=key)["Body"].read()

    return type("Bucket", (), {"name": name, "keys": staticmethod(keys), "read": staticmethod(read)})


@pytest.fixture
def draft(creator) -> ModelVersion:
    model = model_create(actor=creator, name="Iris classifier", task="tabular-classification", license="mit")
    return version_create(actor=creator, model=model, version="1.0.0")


def test_upload_writes_the_object_to_s3_and_validation_reads_it_back(
    creator, draft, api_client_for, s3_bucket, iris_onnx_bytes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(creator).post(
            f"/api/v1/models/{draft.model.slug}/versions/1.0.0/files?name=iris.onnx",
            data=iris_onnx_bytes,
            content_type="application/octet-stream",
        )

    assert response.status_code == 201, response.content
    file = ModelFile.objects.get()
    assert file.sha256 == hashlib.sha256(iris_onnx_bytes).hexdigest() == response.json()["sha256"]
    assert s3_bucket.keys() == [f"models/{file.storage_key}"]  # the temporary object was moved, not copied
    assert s3_bucket.read(f"models/{file.storage_key}") == iris_onnx_bytes
    assert (file.validation_status, file.file_format) == ("valid", "onnx")
    assert file.validation_report["onnx"]["inputs"][0]["shape"] == [None, 4]


def test_download_redirects_to_a_signed_url_that_serves_the_bytes(creator, draft, s3_bucket):
    content = b"\x00safetensors-ish\xff" * 4096
    file = file_services.file_upload(actor=creator, version=draft, name="weights.bin", chunks=[content])
    ModelVersion.objects.filter(pk=draft.pk).update(published_at=timezone.now(), is_default=True)
    AIModel.objects.filter(pk=draft.model_id).update(
        status=ModelStatus.PUBLISHED, published_at=timezone.now()
    )

    from django.test import Client

    response = Client().get(f"/api/v1/models/{draft.model.slug}/files/{file.pk}/download")

    assert response.status_code == 302
    assert response["X-Checksum-SHA256"] == hashlib.sha256(content).hexdigest()
    signed = response["Location"]
    assert "X-Amz-Signature=" in signed
    assert "X-Amz-Expires=120" in signed
    fetched = httpx.get(signed, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == content
    assert fetched.headers["content-disposition"] == 'attachment; filename="weights.bin"'
    assert httpx.get(signed.split("?")[0], timeout=10).status_code == 403  # unsigned: refused
    file.refresh_from_db()
    assert file.download_count == 1


def test_delete_removes_the_object_from_s3(creator, draft, s3_bucket, django_capture_on_commit_callbacks):
    file = file_services.file_upload(actor=creator, version=draft, name="a.json", chunks=[b"{}"])
    assert s3_bucket.keys() == [f"models/{file.storage_key}"]

    with django_capture_on_commit_callbacks(execute=True):
        file_services.file_delete(actor=creator, file=file)

    assert s3_bucket.keys() == []


def test_upload_failing_mid_stream_leaves_no_object_in_s3(creator, draft, s3_bucket):
    def chunks():
        yield b"x" * (6 * 1024 * 1024)  # past one multipart part
        raise OSError("client went away")

    with pytest.raises(OSError, match="client went away"):
        file_services.file_upload(actor=creator, version=draft, name="model.onnx", chunks=chunks())

    assert ModelFile.objects.count() == 0
    assert s3_bucket.keys() == []


def test_upload_over_the_maximum_leaves_no_object_in_s3(creator, draft, s3_bucket, settings):
    settings.MODEL_FILE_MAX_BYTES = 1000

    with pytest.raises(PayloadTooLarge):
        file_services.file_upload(actor=creator, version=draft, name="model.onnx", chunks=[b"x" * 600] * 2)

    assert ModelFile.objects.count() == 0
    assert s3_bucket.keys() == []

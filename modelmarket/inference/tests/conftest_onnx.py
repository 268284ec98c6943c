"""Fixtures and helpers for the local_onnx provider's tests, loaded by them with `pytest_plugins` (the package's
conftest.py belongs to the gateway's tests)."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from django.core.files.base import ContentFile

from modelmarket.catalog import storage as file_storage
from modelmarket.catalog.demo import runnable
from modelmarket.catalog.demo.runnable import RunnableModel
from modelmarket.inference.providers import local_onnx
from modelmarket.inference.providers.base import CallContext, Target
from modelmarket.inference.providers.local_onnx import LocalOnnxProvider

_version_ids = itertools.count(70_000)
S3_CREDENTIALS = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret"}


def demo_model(slug_start: str) -> RunnableModel:
    return next(model for model in runnable.RUNNABLE_MODELS if model.slug.startswith(slug_start))


def demo_target(model: RunnableModel, *, store: bool = True, **changes: Any) -> Target:
    """A Target for a demo model as the gateway would build it, under a fresh version id; its file is written to
    the model-file storage under a fresh key unless `store` is False."""
    version_id = next(_version_ids)
    key = f"files/{version_id}/{uuid.uuid4().hex}"
    if store:
        file_storage.model_file_storage().save(key, ContentFile(runnable.onnx_bytes(model)))
    values: dict[str, Any] = {
        "model_id": version_id,
        "slug": model.slug,
        "creator_id": 1,
        "task": str(model.task),
        "version_id": version_id,
        "version": runnable.VERSION,
        "provider": "local_onnx",
        "runtime": runnable.runtime(model),
        "input_schema": runnable.input_schema(model),
        "output_schema": runnable.output_schema(model),
        "files": {model.file_name: key},
    }
    return Target(**(values | changes))


def storage_key(target: Target) -> str:
    return target.files[target.runtime["file"]]


@asynccontextmanager
async def call_context(seconds: float = 10.0) -> AsyncIterator[CallContext]:
    """A CallContext with `seconds` left; its aiohttp session is unused by local_onnx."""
    async with aiohttp.ClientSession() as session:
        yield CallContext(session=session, deadline=time.monotonic() + seconds, request_id="test")


@pytest.fixture
def provider() -> Iterator[LocalOnnxProvider]:
    instance = LocalOnnxProvider()
    yield instance
    instance.close()


@pytest.fixture
def model_files_local(tmp_path: Path, settings: Any) -> Path:
    """Model files on the local filesystem (opened in place); an ONNX cache directory that must stay empty."""
    root = tmp_path / "model-files"
    root.mkdir()
    settings.MODEL_FILE_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(root)},
    }
    settings.ONNX_CACHE_DIR = tmp_path / "onnx-cache"
    return root


@pytest.fixture
def model_files_in_memory(tmp_path: Path, settings: Any) -> Path:
    """Model files in a storage without local paths (Django's InMemoryStorage: only `open()`, like S3); yields
    the ONNX cache directory they are copied to."""
    settings.MODEL_FILE_STORAGE = {"BACKEND": "django.core.files.storage.InMemoryStorage", "OPTIONS": {}}
    settings.ONNX_CACHE_DIR = tmp_path / "onnx-cache"
    return settings.ONNX_CACHE_DIR


@pytest.fixture
def session_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths onnxruntime sessions were created from, in order (a spy on the provider's one loading point)."""
    loads: list[str] = []
    create = local_onnx._create_session

    def spy(path: str) -> Any:
        loads.append(path)
        return create(path)

    monkeypatch.setattr(local_onnx, "_create_session", spy)
    return loads


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def model_files_s3(s3_endpoint: str, settings: Any, tmp_path: Path) -> Any:
    """A fresh bucket on a real S3-compatible server (moto) with model-file storage pointed at it as the base
    settings do when S3_BUCKET is set; yields a boto3 client and the bucket name."""
    import boto3

    name = f"models-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **S3_CREDENTIALS)
    client.create_bucket(Bucket=name)
    settings.MODEL_FILE_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": name,
            "endpoint_url": s3_endpoint,
            "region_name": "us-east-1",
            "access_key": S3_CREDENTIALS["aws_access_key_id"],
            "secret_key": S3_CREDENTIALS["aws_secret_access_key"],
            "location": "models",
            "default_acl": None,
            "querystring_auth": True,
            "signature_version": "s3v4",
            "file_overwrite": True,
        },
    }
    settings.ONNX_CACHE_DIR = tmp_path / "onnx-cache"
    return type("Bucket", (), {"client": client, "name": name})

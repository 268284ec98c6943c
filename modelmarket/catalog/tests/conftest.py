"""Catalog fixtures. Each group is named for the part of the catalog it serves; add yours in its own section."""

from __future__ import annotations

from typing import Any

import pytest

# --- Model files (test_files*.py, test_validation*.py, test_storage_s3.py) ---------------------------------------


@pytest.fixture
def model_file_storage_local(tmp_path: Any, settings: Any) -> Any:
    """Model files on the local filesystem under a fresh temporary directory; yields that directory."""
    root = tmp_path / "model-files"
    settings.MODEL_FILE_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(root)},
    }
    root.mkdir()
    return root


@pytest.fixture(scope="session")
def iris_onnx_bytes() -> bytes:
    """A real ONNX model: logistic regression trained on scikit-learn's bundled iris data, converted by skl2onnx."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    estimator = LogisticRegression(max_iter=500).fit(features, labels)
    return to_onnx(estimator, features[:1].astype("float32"), target_opset=15).SerializeToString()


@pytest.fixture(scope="session")
def safetensors_bytes() -> bytes:
    """A real safetensors file written by the safetensors package: 3 tensors, 2 dtypes, 4*3 + 3 + 2 parameters."""
    import numpy as np
    from safetensors.numpy import save

    return save(
        {
            "dense.weight": np.arange(12, dtype=np.float32).reshape(4, 3),
            "dense.bias": np.zeros(3, dtype=np.float32),
            "step": np.array([7, 8], dtype=np.int64),
        },
        metadata={"format": "np"},
    )

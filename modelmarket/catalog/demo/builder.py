"""Train the five demo models on scikit-learn's bundled datasets and convert them to ONNX. Dev-only: needs
scikit-learn, skl2onnx and onnx, which a `make run` install does not have. Run through `scripts/build-demo-models`.

Deterministic: fixed splits and seeds, single-threaded estimators and a pinned opset, so a rebuild with the same
library versions gives byte-identical files. The scores recorded in the manifest are measured with onnxruntime on
the held-out split, i.e. what the marketplace serves."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import skl2onnx
import sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn import datasets
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from modelmarket.catalog.demo.runnable import MANIFEST_PATH, ONNX_DIR, RUNNABLE_MODELS, RunnableModel

RANDOM_STATE = 42
TEST_FRACTION = 0.25
OPSET = {"": 17, "ai.onnx.ml": 3}
INPUT_NAME = "input"


@dataclass(frozen=True)
class Recipe:
    algorithm: str  # for the model card
    make: Callable[[], Pipeline]


RECIPES: dict[str, Recipe] = {
    "iris": Recipe(
        "Standard scaling and multinomial logistic regression",
        lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=RANDOM_STATE)),
    ),
    "wine": Recipe(
        "A random forest of 40 trees (depth at most 4)",
        lambda: make_pipeline(
            RandomForestClassifier(n_estimators=40, max_depth=4, random_state=RANDOM_STATE, n_jobs=1)
        ),
    ),
    "breast_cancer": Recipe(
        "Standard scaling and logistic regression",
        lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=RANDOM_STATE)),
    ),
    "digits": Recipe(
        "Standard scaling and multinomial logistic regression over the 64 pixels",
        lambda: make_pipeline(
            StandardScaler(), LogisticRegression(C=0.1, max_iter=5000, random_state=RANDOM_STATE)
        ),
    ),
    "diabetes": Recipe(
        "Standard scaling and ridge regression (alpha 1.0)",
        lambda: make_pipeline(StandardScaler(), Ridge(alpha=1.0)),
    ),
}


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    x_all: np.ndarray


def load_split(model: RunnableModel) -> Split:
    """The dataset as float32 (what the ONNX model takes) and its fixed train/test split."""
    loader = getattr(datasets, f"load_{model.dataset}")
    bunch = loader(scaled=False) if model.dataset == "diabetes" else loader()
    names = [str(name) for name in bunch.feature_names]
    expected = [feature.dataset_name for feature in model.features]
    if names != expected:
        raise ValueError(f"{model.slug}: the dataset's features are {names}, the spec lists {expected}")
    x_all = np.asarray(bunch.data, dtype=np.float32)
    stratify = bunch.target if model.is_classifier else None
    x_train, x_test, y_train, y_test = train_test_split(
        x_all, bunch.target, test_size=TEST_FRACTION, random_state=RANDOM_STATE, stratify=stratify
    )
    return Split(x_train, x_test, y_train, y_test, x_all)


def convert(model: RunnableModel, pipeline: Pipeline) -> bytes:
    options = {id(pipeline.steps[-1][1]): {"zipmap": False}} if model.is_classifier else None
    onnx_model = skl2onnx.convert_sklearn(
        pipeline,
        name=model.slug,
        initial_types=[(INPUT_NAME, FloatTensorType([None, len(model.features)]))],
        target_opset=OPSET,
        options=options,
    )
    serialized: bytes = onnx_model.SerializeToString()
    return serialized


def predict(onnx_model: bytes, rows: np.ndarray) -> list[np.ndarray]:
    """Run the ONNX model with onnxruntime (CPU), outputs in the model's order."""
    session = onnxruntime.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])
    outputs: list[np.ndarray] = session.run(None, {INPUT_NAME: rows.astype(np.float32)})
    return outputs


def score(model: RunnableModel, onnx_model: bytes, split: Split) -> float:
    first_output = predict(onnx_model, split.x_test)[0]
    if model.is_classifier:
        return float(accuracy_score(split.y_test, first_output))
    return float(r2_score(split.y_test, first_output.reshape(-1)))


def _rounded(value: float) -> float:
    return float(f"{value:.6g}")


def feature_ranges(model: RunnableModel, split: Split) -> dict[str, dict[str, float]]:
    return {
        feature.key: {
            "min": _rounded(float(split.x_all[:, index].min())),
            "max": _rounded(float(split.x_all[:, index].max())),
            "median": _rounded(float(np.median(split.x_all[:, index]))),
        }
        for index, feature in enumerate(model.features)
    }


def build(model: RunnableModel) -> tuple[bytes, dict[str, Any]]:
    """Train, convert and measure one model; returns the ONNX bytes and its manifest entry."""
    split = load_split(model)
    recipe = RECIPES[model.dataset]
    pipeline = recipe.make().fit(split.x_train, split.y_train)
    onnx_model = convert(model, pipeline)
    outputs = (
        {"label": "label", "probabilities": "probabilities"} if model.is_classifier else {"value": "variable"}
    )
    entry = {
        "file": model.file_name,
        "sha256": hashlib.sha256(onnx_model).hexdigest(),
        "size_bytes": len(onnx_model),
        "opset": OPSET[""],
        "input_name": INPUT_NAME,
        "input_shape": [None, len(model.features)],
        "outputs": outputs,
        "metric": "accuracy" if model.is_classifier else "r2",
        "metric_value": round(score(model, onnx_model, split), 6),
        "train_size": len(split.y_train),
        "test_size": len(split.y_test),
        "test_fraction": TEST_FRACTION,
        "random_state": RANDOM_STATE,
        "algorithm": recipe.algorithm,
        "sklearn_version": sklearn.__version__,
        "skl2onnx_version": skl2onnx.__version__,
        "feature_ranges": feature_ranges(model, split),
    }
    return onnx_model, entry


def build_all(output_dir: Path = ONNX_DIR, manifest_path: Path = MANIFEST_PATH) -> dict[str, Any]:
    """Build every demo model into `output_dir` and write the manifest; returns the manifest."""
    output_dir.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {}
    for model in RUNNABLE_MODELS:
        onnx_model, entry = build(model)
        (output_dir / model.file_name).write_bytes(onnx_model)
        manifest[model.slug] = entry
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest

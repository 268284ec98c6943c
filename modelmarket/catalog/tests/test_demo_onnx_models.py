"""The committed demo ONNX models: a rebuild reproduces them, and they score what their cards say. Needs the dev
dependencies (scikit-learn, skl2onnx, onnx)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("skl2onnx")
onnx = pytest.importorskip("onnx")

from modelmarket.catalog.demo import builder, runnable  # noqa: E402

MAX_FILE_BYTES = 256 * 1024


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, dict]:
    directory = tmp_path_factory.mktemp("onnx")
    manifest = builder.build_all(output_dir=directory, manifest_path=directory / "manifest.json")
    return directory, manifest


@pytest.mark.parametrize("spec", runnable.RUNNABLE_MODELS, ids=lambda spec: spec.slug)
def test_rebuild_predicts_the_same_with_the_same_libraries(spec, rebuilt):
    """Training runs through the CPU's BLAS kernels, whose float rounding differs between CPU families, so a rebuild
    is byte-identical only on the same kind of CPU. What must hold everywhere: the same predictions, to float32
    precision, and the same recorded facts."""
    directory, manifest = rebuilt
    committed = runnable.onnx_bytes(spec)
    fresh = (directory / spec.file_name).read_bytes()
    rows = builder.load_split(spec).x_all

    for committed_output, fresh_output in zip(
        builder.predict(committed, rows), builder.predict(fresh, rows), strict=True
    ):
        if committed_output.dtype.kind in "fc":
            np.testing.assert_allclose(committed_output, fresh_output, rtol=1e-4, atol=1e-5)
        else:
            np.testing.assert_array_equal(committed_output, fresh_output)  # the predicted labels
    recorded = runnable.manifest()[spec.slug]
    if (recorded["sklearn_version"], recorded["skl2onnx_version"]) == (
        manifest[spec.slug]["sklearn_version"],
        manifest[spec.slug]["skl2onnx_version"],
    ):
        varying = ("metric_value", "sha256")  # the bytes, and the score to float precision
        fresh_facts = {key: value for key, value in manifest[spec.slug].items() if key not in varying}
        assert fresh_facts == {key: value for key, value in recorded.items() if key not in varying}
        assert manifest[spec.slug]["metric_value"] == pytest.approx(recorded["metric_value"], abs=1e-4)


@pytest.mark.parametrize("spec", runnable.RUNNABLE_MODELS, ids=lambda spec: spec.slug)
def test_committed_model_scores_the_recorded_metric_on_the_held_out_split(spec):
    recorded = runnable.manifest()[spec.slug]
    content = runnable.onnx_bytes(spec)

    measured = builder.score(spec, content, builder.load_split(spec))

    assert measured == pytest.approx(recorded["metric_value"], abs=1e-6)
    assert recorded["metric_value"] >= (0.9 if spec.is_classifier else 0.4)


@pytest.mark.parametrize("spec", runnable.RUNNABLE_MODELS, ids=lambda spec: spec.slug)
def test_committed_file_is_small_with_the_recorded_hash_opset_and_input(spec):
    recorded = runnable.manifest()[spec.slug]
    content = runnable.onnx_bytes(spec)
    model = onnx.load_model_from_string(content)
    onnx.checker.check_model(model)
    opsets = {entry.domain: entry.version for entry in model.opset_import}
    graph_input = model.graph.input[0]
    dims = [dim.dim_value or None for dim in graph_input.type.tensor_type.shape.dim]

    assert len(content) == recorded["size_bytes"] < MAX_FILE_BYTES
    assert hashlib.sha256(content).hexdigest() == recorded["sha256"]
    assert opsets[""] == recorded["opset"]
    assert (graph_input.name, dims) == (recorded["input_name"], [None, len(spec.features)])
    assert [output.name for output in model.graph.output] == list(recorded["outputs"].values())


def test_manifest_is_sorted_json_covering_every_model():
    text = runnable.MANIFEST_PATH.read_text()

    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert set(json.loads(text)) == {spec.slug for spec in runnable.RUNNABLE_MODELS}

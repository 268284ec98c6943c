"""The local_onnx provider on the five committed demo models: predictions against scikit-learn, input checks,
session caching and single-flight loading, files from local disk, from a storage without paths and from S3, the
deadline, and what it does not offer."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelmarket.catalog import storage as file_storage
from modelmarket.catalog.demo import runnable
from modelmarket.inference.providers import local_onnx
from modelmarket.inference.providers.base import (
    InferenceCall,
    InvalidInput,
    JobRef,
    NotSupported,
    Provider,
    UpstreamTimeout,
)
from modelmarket.inference.providers.local_onnx import (
    InvalidModelRuntime,
    LocalOnnxProvider,
    ModelFileUnavailable,
)

pytest.register_assert_rewrite("modelmarket.inference.tests.conftest_onnx")  # before the import below
pytest_plugins = ["modelmarket.inference.tests.conftest_onnx"]

from modelmarket.inference.tests.conftest_onnx import (  # noqa: E402
    call_context,
    demo_model,
    demo_target,
    storage_key,
)

IRIS, DIGITS, DIABETES = demo_model("iris"), demo_model("handwritten"), demo_model("diabetes")
IRIS_ROW = {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def infer(provider: LocalOnnxProvider, target: Any, value: Any, *, seconds: float = 10.0) -> Any:
    async with call_context(seconds) as ctx:
        return await provider.infer(target, InferenceCall(input=value), ctx)


def features(model: runnable.RunnableModel, row: np.ndarray) -> dict[str, float]:
    return {feature.key: float(value) for feature, value in zip(model.features, row, strict=True)}


def test_the_provider_fits_the_protocol() -> None:
    provider: Provider = LocalOnnxProvider()  # mypy checks the structure
    assert provider.name == "local_onnx"


# --- Predictions --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sklearn_reference() -> Any:
    """Each demo model's recipe trained afresh with scikit-learn, on the builder's fixed split."""
    pytest.importorskip("sklearn")
    pytest.importorskip("skl2onnx")
    from modelmarket.catalog.demo import builder

    def fitted(model: runnable.RunnableModel) -> tuple[Any, Any]:
        split = builder.load_split(model)
        return builder.RECIPES[model.dataset].make().fit(split.x_train, split.y_train), split

    return fitted


# The first sample of each dataset, and its class (the classifiers all get these right, as does scikit-learn).
KNOWN_LABELS = {"iris": "setosa", "wine": "class_0", "breast_cancer": "malignant", "digits": "0"}


@pytest.mark.anyio
@pytest.mark.parametrize("model", runnable.RUNNABLE_MODELS, ids=lambda model: model.slug)
async def test_each_demo_model_predicts_what_scikit_learn_predicts(
    model, sklearn_reference, provider, model_files_local
):
    pipeline, split = sklearn_reference(model)
    row = split.x_all[0]

    result = await infer(provider, demo_target(model), features(model, row))

    if model.is_classifier:
        assert result.output["label"] == KNOWN_LABELS[model.dataset]
        assert result.output["label"] == model.labels[int(pipeline.predict(row[None])[0])]
        expected = dict(zip(model.labels, pipeline.predict_proba(row[None])[0], strict=True))
        assert list(result.output["probabilities"]) == list(model.labels)
        assert result.output["probabilities"] == pytest.approx(expected, abs=1e-4)
        assert sum(result.output["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    else:
        assert result.output == {"value": pytest.approx(float(pipeline.predict(row[None])[0]), rel=1e-4)}
    assert result.usage.input_tokens == result.usage.output_tokens == 0
    assert result.usage.reported is True
    assert result.usage.compute_ms >= 1
    assert result.job is None


@pytest.mark.anyio
async def test_the_output_fits_the_versions_output_schema(provider, model_files_local):
    import fastjsonschema

    for model in runnable.RUNNABLE_MODELS:
        row = {
            key: schema["examples"][0] for key, schema in runnable.input_schema(model)["properties"].items()
        }

        result = await infer(provider, demo_target(model), row)

        fastjsonschema.compile(runnable.output_schema(model))(result.output)


@pytest.mark.anyio
async def test_probabilities_are_plain_short_floats(provider, model_files_local):
    result = await infer(provider, demo_target(IRIS), IRIS_ROW)

    for probability in result.output["probabilities"].values():
        assert type(probability) is float
        assert float(np.float32(probability)) == pytest.approx(probability)
        assert len(repr(probability)) <= 14  # float32's digits, not float64 noise


@pytest.mark.anyio
async def test_a_digit_can_also_be_sent_as_an_8x8_grid(provider, model_files_local):
    """The digits model's runtime has `image`; with a schema that allows it, rows of pixels work too."""
    pixels = [float(value) for value in np.arange(64) % 17]
    named = dict(zip(runnable.runtime(DIGITS)["feature_order"], pixels, strict=True))
    grid = [pixels[row * 8 : row * 8 + 8] for row in range(8)]
    target = demo_target(DIGITS, input_schema={})

    from_names = await infer(provider, target, named)
    from_grid = await infer(provider, target, grid)

    assert from_grid.output == from_names.output


@pytest.mark.anyio
async def test_a_batch_answers_one_output_per_instance_in_order(provider, model_files_local):
    """Only when the version's schema allows a list (the demo schemas take one object)."""
    virginica = {"sepal_length_cm": 6.9, "sepal_width_cm": 3.1, "petal_length_cm": 5.4, "petal_width_cm": 2.1}
    target = demo_target(IRIS, input_schema={"type": "array", "items": runnable.input_schema(IRIS)})

    result = await infer(provider, target, [IRIS_ROW, virginica, IRIS_ROW])

    assert [item["label"] for item in result.output] == ["setosa", "virginica", "setosa"]


# --- Invalid input ------------------------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("value", "path"),
    [
        (IRIS_ROW | {"sepal_length_cm": "5.1"}, "input.sepal_length_cm"),
        ({"sepal_length_cm": 5.1}, "input.sepal_width_cm"),
        (IRIS_ROW | {"stem_length_cm": 1}, "input.stem_length_cm"),
        (IRIS_ROW | {"petal_width_cm": -0.5}, "input.petal_width_cm"),
        ([5.1, 3.5, 1.4, 0.2], "input"),
    ],
    ids=["string", "missing", "unknown", "negative", "list"],
)
async def test_input_outside_the_schema_is_refused_with_its_path(value, path, provider, model_files_local):
    with pytest.raises(InvalidInput) as raised:
        await infer(provider, demo_target(IRIS), value)

    assert raised.value.status == 422
    assert raised.value.details["path"] == path


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("value", "path", "message"),
    [
        ("5.1,3.5", "input", "input must be an object with the model's features, not a string."),
        (
            IRIS_ROW | {"sepal_width_cm": [3.5]},
            "input.sepal_width_cm",
            "input.sepal_width_cm must be a number, not a list.",
        ),
        (
            IRIS_ROW | {"sepal_width_cm": None},
            "input.sepal_width_cm",
            "input.sepal_width_cm must be a number, not null.",
        ),
        (
            IRIS_ROW | {"sepal_width_cm": True},
            "input.sepal_width_cm",
            "input.sepal_width_cm must be a number, not a boolean.",
        ),
        ({"sepal_length_cm": 5.1}, "input.sepal_width_cm", "input.sepal_width_cm is required."),
        (
            IRIS_ROW | {"petal_length_cm": 1e39},
            "input.petal_length_cm",
            "input.petal_length_cm is too large for this model.",
        ),
        (
            IRIS_ROW | {"petal_length_cm": 10**400},
            "input.petal_length_cm",
            "input.petal_length_cm is too large for this model.",
        ),
        ([IRIS_ROW, "x"], "input[1]", "input[1] must be an object with the model's features, not a string."),
        ([], "input", "input is an empty list; send at least one instance."),
    ],
    ids=[
        "string",
        "list-feature",
        "null",
        "boolean",
        "missing",
        "float32-overflow",
        "huge-int",
        "batch-item",
        "empty",
    ],
)
async def test_without_a_schema_the_provider_checks_shapes_itself(
    value, path, message, provider, model_files_local
):
    with pytest.raises(InvalidInput) as raised:
        await infer(provider, demo_target(IRIS, input_schema={}), value)

    assert raised.value.details == {"path": path, "message": message}


@pytest.mark.anyio
async def test_a_grid_of_the_wrong_size_is_refused(provider, model_files_local):
    with pytest.raises(InvalidInput) as raised:
        await infer(provider, demo_target(DIGITS, input_schema={}), [[0.0] * 8] * 7)

    assert raised.value.details == {"path": "input", "message": "input must be 8 rows of 8 numbers."}


@pytest.mark.anyio
async def test_a_grid_is_not_accepted_by_a_model_without_image(provider, model_files_local):
    with pytest.raises(InvalidInput) as raised:
        await infer(provider, demo_target(IRIS, input_schema={}), [[5.1, 3.5], [1.4, 0.2]])

    assert raised.value.details["path"] == "input[0]"


# --- Session cache ------------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_the_session_is_loaded_once_per_version(provider, model_files_local, session_loads):
    target = demo_target(IRIS)

    first = await infer(provider, target, IRIS_ROW)
    second = await infer(provider, target, IRIS_ROW)

    assert session_loads == [str(model_files_local / storage_key(target))]
    assert second.output == first.output


@pytest.mark.anyio
async def test_local_files_are_opened_in_place_not_copied(provider, model_files_local, settings):
    await infer(provider, demo_target(IRIS), IRIS_ROW)

    assert not Path(settings.ONNX_CACHE_DIR).exists()


@pytest.mark.anyio
async def test_twenty_concurrent_first_calls_load_the_session_once(provider, model_files_local, monkeypatch):
    loads: list[str] = []
    create = local_onnx._create_session

    def slow_create(path: str) -> Any:
        loads.append(path)
        time.sleep(0.2)  # the other calls arrive while the load is still under way
        return create(path)

    monkeypatch.setattr(local_onnx, "_create_session", slow_create)
    target = demo_target(IRIS)

    results = await asyncio.gather(*(infer(provider, target, IRIS_ROW) for _ in range(20)))

    assert loads == [str(model_files_local / storage_key(target))]
    assert [result.output["label"] for result in results] == ["setosa"] * 20


@pytest.mark.anyio
async def test_the_least_recently_used_session_is_dropped_past_the_bound(model_files_local, session_loads):
    provider = LocalOnnxProvider(session_cache_size=2)
    first, second, third = demo_target(IRIS), demo_target(IRIS), demo_target(IRIS)
    try:
        for target in (first, second, first, third, first, second):
            await infer(provider, target, IRIS_ROW)
    finally:
        provider.close()

    loaded = [Path(path).name for path in session_loads]
    # first, second, third (drops second: first was used more recently), then second again
    assert loaded == [Path(storage_key(target)).name for target in (first, second, third, second)]


# --- Files --------------------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_a_file_from_a_storage_without_paths_is_copied_once_into_the_cache(
    model_files_in_memory, session_loads, monkeypatch
):
    target = demo_target(IRIS)
    copies: list[str] = []
    copy_to = file_storage.copy_to

    def counting_copy(key: str, destination: Any) -> int:
        copies.append(key)
        return copy_to(key, destination)

    monkeypatch.setattr(file_storage, "copy_to", counting_copy)
    cached = model_files_in_memory / f"{hashlib.sha256(storage_key(target).encode()).hexdigest()}.onnx"

    for _ in range(2):  # two worker processes: each loads a session, only the first copies the file
        provider = LocalOnnxProvider()
        try:
            result = await infer(provider, target, IRIS_ROW)
        finally:
            provider.close()
        assert result.output["label"] == "setosa"

    assert copies == [storage_key(target)]
    assert session_loads == [str(cached), str(cached)]
    assert cached.read_bytes() == runnable.onnx_bytes(IRIS)
    assert [path.name for path in model_files_in_memory.iterdir()] == [cached.name]  # no partial file left


@pytest.mark.anyio
async def test_a_copy_that_fails_midway_leaves_no_file_in_the_cache(
    provider, model_files_in_memory, monkeypatch
):
    def broken_copy(key: str, destination: Any) -> int:
        destination.write(b"half a model")
        raise OSError("connection reset")

    monkeypatch.setattr(file_storage, "copy_to", broken_copy)

    with pytest.raises(ModelFileUnavailable) as raised:
        await infer(provider, demo_target(IRIS), IRIS_ROW)

    assert (
        raised.value.message
        == "This model's file 'iris-species-classifier.onnx' could not be read from storage."
    )
    assert list(model_files_in_memory.iterdir()) == []


@pytest.mark.anyio
async def test_a_file_on_s3_is_copied_into_the_cache_and_runs(
    provider, model_files_s3, settings, session_loads
):
    target = demo_target(IRIS)

    result = await infer(provider, target, IRIS_ROW)

    stored = model_files_s3.client.get_object(Bucket=model_files_s3.name, Key=f"models/{storage_key(target)}")
    assert stored["Body"].read() == runnable.onnx_bytes(IRIS)
    assert result.output["label"] == "setosa"
    cached = (
        Path(settings.ONNX_CACHE_DIR) / f"{hashlib.sha256(storage_key(target).encode()).hexdigest()}.onnx"
    )
    assert session_loads == [str(cached)]
    assert cached.read_bytes() == runnable.onnx_bytes(IRIS)


@pytest.mark.anyio
async def test_a_file_missing_from_s3_is_a_clear_error(provider, model_files_s3, settings):
    with pytest.raises(ModelFileUnavailable) as raised:
        await infer(provider, demo_target(IRIS, store=False), IRIS_ROW)

    assert raised.value.message == "This model's file 'iris-species-classifier.onnx' is missing from storage."
    assert list(Path(settings.ONNX_CACHE_DIR).glob("*")) == []


@pytest.mark.anyio
async def test_a_file_not_among_the_versions_files_is_a_clear_error(provider, model_files_local):
    with pytest.raises(ModelFileUnavailable) as raised:
        await infer(provider, demo_target(IRIS, files={}), IRIS_ROW)

    assert raised.value.status == 502
    assert raised.value.code == "model_file_unavailable"
    assert raised.value.message == (
        "This model's file 'iris-species-classifier.onnx' is not among the version's valid files."
    )


@pytest.mark.anyio
async def test_a_file_missing_from_storage_is_a_clear_error_and_is_retried_once_it_is_there(
    provider, model_files_local
):
    target = demo_target(IRIS, store=False)

    with pytest.raises(ModelFileUnavailable) as raised:
        await infer(provider, target, IRIS_ROW)
    assert raised.value.message == "This model's file 'iris-species-classifier.onnx' is missing from storage."

    path = model_files_local / storage_key(target)
    path.parent.mkdir(parents=True)
    path.write_bytes(runnable.onnx_bytes(IRIS))
    assert (await infer(provider, target, IRIS_ROW)).output["label"] == "setosa"


@pytest.mark.anyio
async def test_a_file_onnxruntime_cannot_load_does_not_leak_its_message(provider, model_files_local):
    target = demo_target(IRIS, store=False)
    path = model_files_local / storage_key(target)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x08\x07 not really a model")

    with pytest.raises(ModelFileUnavailable) as raised:
        await infer(provider, target, IRIS_ROW)

    assert raised.value.message == "This model's file 'iris-species-classifier.onnx' could not be loaded."
    assert str(model_files_local) not in str(raised.value.details)


# --- Runtime settings ---------------------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"input_name": "features"}, "the model has no input 'features' (it has input)"),
        ({"feature_order": ["a", "b", "c"]}, "the input's shape [None, 4] does not take rows of 3 features"),
        ({"outputs": {"label": "label", "probabilities": "scores"}}, "the model has no output 'scores'"),
        ({"input_dtype": "float64"}, "the input is tensor(float), not float64"),
    ],
    ids=["input-name", "feature-count", "output-name", "dtype"],
)
async def test_runtime_settings_that_do_not_fit_the_file_are_refused(
    change, problem, provider, model_files_local
):
    target = demo_target(IRIS, input_schema={})
    target = demo_target(IRIS, input_schema={}, runtime=target.runtime | change, files=target.files)

    with pytest.raises(InvalidModelRuntime) as raised:
        await infer(provider, target, IRIS_ROW | {"a": 1, "b": 2, "c": 3})

    assert raised.value.status == 502
    assert problem in raised.value.message


@pytest.mark.anyio
@pytest.mark.parametrize(
    "change",
    [
        {"file": None},
        {"feature_order": []},
        {"feature_order": ["a", "a"]},
        {"input_dtype": "int4"},
        {"labels": [1]},
    ],
)
async def test_malformed_runtime_settings_are_refused(change, provider, model_files_local):
    target = demo_target(IRIS)

    with pytest.raises(InvalidModelRuntime, match="runtime settings are invalid"):
        await infer(provider, demo_target(IRIS, runtime=target.runtime | change), IRIS_ROW)


# --- Deadline -----------------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_a_spent_deadline_times_out_at_once(provider, model_files_local, session_loads):
    with pytest.raises(UpstreamTimeout):
        await infer(provider, demo_target(IRIS), IRIS_ROW, seconds=-1)

    assert session_loads == []


@pytest.mark.anyio
async def test_a_slow_load_times_out_and_the_next_call_finds_it_loaded(
    provider, model_files_local, monkeypatch
):
    loads: list[str] = []
    create = local_onnx._create_session

    def slow_create(path: str) -> Any:
        loads.append(path)
        time.sleep(0.5)
        return create(path)

    monkeypatch.setattr(local_onnx, "_create_session", slow_create)
    target = demo_target(IRIS)

    with pytest.raises(UpstreamTimeout, match="did not load in time"):
        await infer(provider, target, IRIS_ROW, seconds=0.1)
    await asyncio.sleep(0.6)
    result = await infer(provider, target, IRIS_ROW)

    assert result.output["label"] == "setosa"
    assert len(loads) == 1


class StuckSession:
    """A session whose runs, once `stuck` is set, keep going until onnxruntime's terminate flag is set (as a real
    run checks it between nodes)."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.stuck = threading.Event()
        self.terminated = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def run(self, names: Any, feeds: Any, options: Any) -> Any:
        if not self.stuck.is_set():
            return self._real.run(names, feeds, options)
        for _ in range(1000):
            if options.terminate:
                self.terminated.set()
                raise RuntimeError("Exiting due to terminate flag being set to true.")
            time.sleep(0.01)
        raise AssertionError("the run was never told to stop")


@pytest.mark.anyio
async def test_a_run_past_the_deadline_times_out_and_is_told_to_stop(
    provider, model_files_local, monkeypatch
):
    sessions: list[StuckSession] = []
    create = local_onnx._create_session

    def stuck(path: str) -> Any:
        sessions.append(StuckSession(create(path)))
        return sessions[-1]

    monkeypatch.setattr(local_onnx, "_create_session", stuck)
    target = demo_target(IRIS)
    await infer(provider, target, IRIS_ROW)  # loaded, and it runs
    sessions[0].stuck.set()

    with pytest.raises(UpstreamTimeout, match="did not answer in time"):
        await infer(provider, target, IRIS_ROW, seconds=0.3)

    assert sessions[0].terminated.wait(timeout=10)


# --- Not offered --------------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_streaming_chat_and_jobs_are_not_supported(provider, model_files_local):
    target = demo_target(IRIS)
    async with call_context() as ctx:
        with pytest.raises(NotSupported, match="answers in one piece"):
            async for _ in provider.infer_stream(target, InferenceCall(input=IRIS_ROW, stream=True), ctx):
                pass
        with pytest.raises(NotSupported, match="is not a chat model"):
            await provider.chat(target, {"messages": []}, ctx)
        with pytest.raises(NotSupported, match="is not a chat model"):
            async for _ in provider.chat_stream(target, {"messages": []}, ctx):
                pass
        job = JobRef(provider_job_id="x", status="processing")
        with pytest.raises(NotSupported) as raised:
            await provider.job_status(target, job, ctx)
        with pytest.raises(NotSupported):
            await provider.job_cancel(target, job, ctx)

    assert raised.value.status == 400
    assert raised.value.code == "operation_not_supported"

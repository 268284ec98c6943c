"""The `local_onnx` provider: runs a version's ONNX file here, with onnxruntime.

A version's `runtime` says how (see `catalog.demo.runnable.runtime`): `file` (a name in `Target.files`, whose value
is the storage key), `input_name` and `input_dtype` of the one input tensor, `feature_order` (the input object's
keys, one float row per instance), `outputs` (result key → ONNX output name: `label`, `probabilities` and `value`
are shaped for the output schema, any other key is returned as a list), `labels` (class names by label index) and,
optionally, `image` (`width`, `height`, row-major: the features may then also be sent as a grid of rows).

Sessions are loaded once per version (a published version's file never changes) into a bounded LRU; concurrent
first calls share one load. Files on local disk are opened in place; from other storage (S3) they are copied once
into `settings.ONNX_CACHE_DIR`. Loading and running happen on the provider's own threads, never on the event loop,
and both honour the call's deadline (a run still going when it passes is told to stop)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import math
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnxruntime as ort
from django.conf import settings
from django.core.files.storage import FileSystemStorage

from modelmarket.catalog import storage as file_storage
from modelmarket.inference.providers.base import (
    CallContext,
    InferenceCall,
    InferenceResult,
    InvalidInput,
    JobRef,
    JobStatus,
    NotSupported,
    ProviderError,
    StreamChunk,
    Target,
    UpstreamFailed,
    UpstreamTimeout,
    Usage,
)
from modelmarket.inference.providers.validation import input_validate

logger = logging.getLogger(__name__)

SESSION_CACHE_SIZE = 32
LOAD_WORKERS = 2
MAX_BATCH_ROWS = 1000
# input_dtype → (numpy type, the ONNX type of the input tensor)
DTYPES: dict[str, tuple[type[np.floating[Any]], str]] = {
    "float32": (np.float32, "tensor(float)"),
    "float64": (np.float64, "tensor(double)"),
}


class ModelFileUnavailable(ProviderError):
    """The version's ONNX file is not among its valid files, is missing from storage, or onnxruntime cannot load
    it. 502: the listing is broken, not the request."""

    status = 502
    code = "model_file_unavailable"


class InvalidModelRuntime(ProviderError):
    """The version's runtime settings do not describe its model (no input name, a feature count that does not fit
    the input tensor, an output the model does not have). 502, like InvalidModelSchema."""

    status = 502
    code = "invalid_model_runtime"


def _invalid_input(path: str, message: str) -> InvalidInput:
    return InvalidInput(message, details={"path": path, "message": message})


# --- Runtime settings ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OnnxRuntimeSpec:
    file: str
    input_name: str
    input_dtype: str
    feature_order: tuple[str, ...]
    outputs: tuple[tuple[str, str], ...]  # (result key, ONNX output name); empty: every output under its name
    labels: tuple[str, ...]
    image: tuple[int, int] | None = None  # (height, width), row-major over feature_order

    @classmethod
    def from_runtime(cls, runtime: Mapping[str, Any]) -> OnnxRuntimeSpec:
        """The settings, checked; InvalidModelRuntime naming the first problem."""
        file, input_name = runtime.get("file"), runtime.get("input_name")
        dtype = runtime.get("input_dtype", "float32")
        features, outputs = runtime.get("feature_order"), runtime.get("outputs", {})
        labels = runtime.get("labels", [])
        if not isinstance(file, str) or not file:
            raise _bad_runtime("file is not a file name")
        if not isinstance(input_name, str) or not input_name:
            raise _bad_runtime("input_name is missing")
        if dtype not in DTYPES:
            raise _bad_runtime(f"input_dtype must be one of {', '.join(DTYPES)}")
        if not features or not _is_list_of(features, str) or len(set(features)) != len(features):
            raise _bad_runtime("feature_order must be a list of distinct names")
        if not isinstance(outputs, dict) or not all(
            isinstance(key, str) and isinstance(name, str) for key, name in outputs.items()
        ):
            raise _bad_runtime("outputs must map result keys to output names")
        if not _is_list_of(labels, str):
            raise _bad_runtime("labels must be a list of names")
        return cls(
            file=file,
            input_name=input_name,
            input_dtype=dtype,
            feature_order=tuple(features),
            outputs=tuple(outputs.items()),
            labels=tuple(labels),
            image=_image_shape(runtime.get("image"), feature_count=len(features)),
        )

    @property
    def numpy_type(self) -> type[np.floating[Any]]:
        return DTYPES[self.input_dtype][0]


def _bad_runtime(problem: str) -> InvalidModelRuntime:
    return InvalidModelRuntime(f"This model's runtime settings are invalid: {problem}.")


def _is_list_of(value: Any, kind: type | tuple[type, ...]) -> bool:
    return isinstance(value, list) and all(isinstance(item, kind) for item in value)


def _image_shape(image: Any, *, feature_count: int) -> tuple[int, int] | None:
    if image is None:
        return None
    height, width = (image.get("height"), image.get("width")) if isinstance(image, dict) else (None, None)
    if (
        not isinstance(height, int)
        or not isinstance(width, int)
        or height * width != feature_count
        or image.get("layout", "row-major") != "row-major"
    ):
        raise _bad_runtime(
            "image must give a row-major height and width whose product is the number of features"
        )
    return height, width


# --- Input --------------------------------------------------------------------------------------------------------
_MISSING = object()


def input_matrix(spec: OnnxRuntimeSpec, value: Any) -> tuple[np.ndarray[Any, Any], bool]:
    """The call's input as one row per instance in `feature_order`, and whether it was a batch (a list of
    instances). InvalidInput with the offending path for anything else."""
    if isinstance(value, list) and not _is_grid(spec, value):
        if not value:
            raise _invalid_input("input", "input is an empty list; send at least one instance.")
        if len(value) > MAX_BATCH_ROWS:
            raise _invalid_input(
                "input", f"input has {len(value)} instances; at most {MAX_BATCH_ROWS} per call."
            )
        rows = [_row(spec, item, f"input[{index}]") for index, item in enumerate(value)]
        return np.array(rows, dtype=spec.numpy_type), True
    return np.array([_row(spec, value, "input")], dtype=spec.numpy_type), False


def _is_grid(spec: OnnxRuntimeSpec, value: list[Any]) -> bool:
    """One image given as rows of numbers (not a batch of instances)."""
    return spec.image is not None and bool(value) and all(_is_list_of(row, (int, float)) for row in value)


def _row(spec: OnnxRuntimeSpec, item: Any, path: str) -> list[float]:
    limit = float(np.finfo(spec.numpy_type).max)
    if isinstance(item, dict):
        return [_number(item.get(key, _MISSING), f"{path}.{key}", limit) for key in spec.feature_order]
    if spec.image is not None and isinstance(item, list):
        height, width = spec.image
        if len(item) != height or not all(isinstance(line, list) and len(line) == width for line in item):
            raise _invalid_input(path, f"{path} must be {height} rows of {width} numbers.")
        return [
            _number(number, f"{path}[{row}][{column}]", limit)
            for row, line in enumerate(item)
            for column, number in enumerate(line)
        ]
    grid = f", or {spec.image[0]} rows of {spec.image[1]} numbers" if spec.image else ""
    raise _invalid_input(
        path, f"{path} must be an object with the model's features{grid}, not {_kind(item)}."
    )


def _number(value: Any, path: str, limit: float) -> float:
    if value is _MISSING:
        raise _invalid_input(path, f"{path} is required.")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid_input(path, f"{path} must be a number, not {_kind(value)}.")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or abs(number) > limit:
        raise _invalid_input(path, f"{path} is too large for this model.")
    return number


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)


# --- Output -------------------------------------------------------------------------------------------------------
def _finite(value: Any) -> float:
    number = float(str(value)) if isinstance(value, np.float32) else float(value)  # float32's shortest digits
    if not math.isfinite(number):
        raise UpstreamFailed("The model produced a value that is not a finite number.")
    return number


def _label(spec: OnnxRuntimeSpec, value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str | np.str_):
        return str(value)
    index = int(value)
    if not spec.labels:
        return str(index)
    if not 0 <= index < len(spec.labels):
        raise InvalidModelRuntime(f"The model answered class {index}, which its labels do not name.")
    return spec.labels[index]


def _probabilities(spec: OnnxRuntimeSpec, row: Any) -> dict[str, float]:
    if isinstance(row, dict):  # skl2onnx's ZipMap output: {class: probability}
        return {_label(spec, key): _finite(probability) for key, probability in row.items()}
    values = np.asarray(row).reshape(-1)
    if spec.labels and len(values) != len(spec.labels):
        raise InvalidModelRuntime(
            f"The model answered {len(values)} probabilities for {len(spec.labels)} labels."
        )
    names = spec.labels or tuple(str(index) for index in range(len(values)))
    return {name: _finite(probability) for name, probability in zip(names, values, strict=True)}


def _plain(row: Any) -> Any:
    array = np.asarray(row)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise UpstreamFailed("The model produced a value that is not a finite number.")
    return array.tolist()


def _instance_output(model: _LoadedModel, tensors: dict[str, Any], index: int) -> dict[str, Any]:
    spec, result = model.spec, dict[str, Any]()
    for key, name in model.outputs:
        row = tensors[name][index]
        if key == "label":
            result["label"] = _label(spec, row)
        elif key == "probabilities":
            result["probabilities"] = _probabilities(spec, row)
        elif key == "value":
            values = np.asarray(row).reshape(-1)
            result["value"] = _finite(values[0]) if values.size == 1 else [_finite(v) for v in values]
        else:
            result[key] = _plain(row)
    if "label" not in result and isinstance(result.get("probabilities"), dict) and result["probabilities"]:
        probabilities = result["probabilities"]
        result = {"label": max(probabilities, key=probabilities.__getitem__), **result}
    return result


# --- Loading ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _LoadedModel:
    session: Any  # onnxruntime.InferenceSession
    spec: OnnxRuntimeSpec
    outputs: tuple[tuple[str, str], ...]  # (result key, ONNX output name)
    max_rows: int | None  # the input's fixed batch size, when it has one

    def answer(self, value: Any, options: Any, deadline: float) -> tuple[Any, int]:
        """Runs on a worker thread (so that converting a large batch does not hold up the event loop either): the
        call's input in, the output shaped for the version's output schema out, with the run's milliseconds."""
        matrix, batch = input_matrix(self.spec, value)
        if self.max_rows is not None and len(matrix) > self.max_rows:
            raise _invalid_input("input", f"This model takes at most {self.max_rows} instance(s) per call.")
        if time.monotonic() >= deadline:  # waited in the queue past the deadline: the caller has gone
            raise UpstreamTimeout("The model did not answer in time.")
        names = list(dict.fromkeys(name for _, name in self.outputs))
        started = time.perf_counter()
        try:
            tensors = self.session.run(names, {self.spec.input_name: matrix}, options)
        except Exception as error:  # onnxruntime raises several unrelated classes; keep its words in the log
            logger.warning("onnxruntime failed on a call", exc_info=True)
            raise UpstreamFailed("The model failed on this input.") from error
        compute_ms = math.ceil((time.perf_counter() - started) * 1000)
        by_name = dict(zip(names, tensors, strict=True))
        outputs = [_instance_output(self, by_name, index) for index in range(len(matrix))]
        return (outputs if batch else outputs[0]), compute_ms


def _create_session(path: str) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # parallelism comes from the worker threads, one call each
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def _checked(session: Any, spec: OnnxRuntimeSpec) -> _LoadedModel:
    """The session with the runtime settings checked against its actual input and outputs."""
    inputs = {argument.name: argument for argument in session.get_inputs()}
    output_names = [argument.name for argument in session.get_outputs()]
    argument = inputs.get(spec.input_name)
    shape = list(argument.shape) if argument is not None else []
    problem = ""
    if argument is None:
        problem = f"the model has no input {spec.input_name!r} (it has {', '.join(inputs)})"
    elif len(inputs) > 1:
        problem = f"the model takes {len(inputs)} inputs; a local model takes one"
    elif argument.type != DTYPES[spec.input_dtype][1]:
        problem = f"the input is {argument.type}, not {spec.input_dtype}"
    elif len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != len(spec.feature_order)):
        problem = f"the input's shape {shape} does not take rows of {len(spec.feature_order)} features"
    elif missing := [name for _, name in spec.outputs if name not in output_names]:
        problem = f"the model has no output {missing[0]!r} (it has {', '.join(output_names)})"
    if problem:
        raise InvalidModelRuntime(f"This model's runtime settings do not fit its file: {problem}.")
    outputs = spec.outputs or tuple((name, name) for name in output_names)
    return _LoadedModel(session, spec, outputs, max_rows=shape[0] if isinstance(shape[0], int) else None)


def model_file_path(key: str) -> str:
    """A path on this machine to the object at `key`: the object itself on local storage, else a copy in
    ONNX_CACHE_DIR made once (written under a temporary name, then renamed, so a reader never sees half a file)."""
    storage = file_storage.model_file_storage()
    if isinstance(storage, FileSystemStorage):  # not `local_path()`: InMemoryStorage has paths but no files
        path = storage.path(key)
        if not os.path.isfile(path):
            raise FileNotFoundError(key)
        return path
    directory = Path(settings.ONNX_CACHE_DIR)
    cached = directory / f"{hashlib.sha256(key.encode()).hexdigest()}.onnx"
    if cached.is_file():
        return str(cached)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=directory, prefix=".partial-", suffix=".onnx", delete=False
    ) as partial:
        try:
            file_storage.copy_to(key, partial)
            partial.flush()
            os.fsync(partial.fileno())
        except BaseException:
            os.unlink(partial.name)
            raise
    os.replace(partial.name, cached)
    return str(cached)


def _load_model(target: Target) -> _LoadedModel:
    """Runs on a loader thread."""
    spec = OnnxRuntimeSpec.from_runtime(target.runtime)
    key = target.files.get(spec.file)
    if not key:
        raise ModelFileUnavailable(f"This model's file {spec.file!r} is not among the version's valid files.")
    try:
        path = model_file_path(key)
    except FileNotFoundError:
        raise ModelFileUnavailable(f"This model's file {spec.file!r} is missing from storage.") from None
    except Exception as error:  # storage backends raise their own errors (botocore, OSError, ...)
        logger.warning("could not fetch model file %s", key, exc_info=True)
        raise ModelFileUnavailable(
            f"This model's file {spec.file!r} could not be read from storage."
        ) from error
    try:
        session = _create_session(path)
    except Exception as error:  # onnxruntime has several classes; its message names our paths: log only
        logger.warning("onnxruntime could not load %s (version %s)", key, target.version_id, exc_info=True)
        raise ModelFileUnavailable(f"This model's file {spec.file!r} could not be loaded.") from error
    return _checked(session, spec)


# --- The provider -------------------------------------------------------------------------------------------------
class LocalOnnxProvider:
    """One per worker process: it owns the session cache and two small thread pools (`close()` stops them)."""

    name: ClassVar[str] = "local_onnx"

    def __init__(
        self, *, session_cache_size: int = SESSION_CACHE_SIZE, run_workers: int | None = None
    ) -> None:
        self._cache_size = session_cache_size
        self._models: OrderedDict[int, _LoadedModel] = OrderedDict()
        self._loading: dict[int, concurrent.futures.Future[_LoadedModel]] = {}
        self._lock = threading.Lock()
        self._load_pool = concurrent.futures.ThreadPoolExecutor(LOAD_WORKERS, thread_name_prefix="onnx-load")
        self._run_pool = concurrent.futures.ThreadPoolExecutor(
            run_workers or min(4, os.cpu_count() or 1), thread_name_prefix="onnx-run"
        )

    def close(self) -> None:
        self._load_pool.shutdown(wait=False, cancel_futures=True)
        self._run_pool.shutdown(wait=False, cancel_futures=True)

    async def infer(self, target: Target, call: InferenceCall, ctx: CallContext) -> InferenceResult:
        """Validate the input against the version's schema, load the session (cached), run it off the event loop
        within the deadline. `usage.compute_ms` is the run alone; there are no tokens (a reported zero)."""
        input_validate(target, call.input)
        model = await self._model(target, ctx)
        options = ort.RunOptions()
        remaining = ctx.remaining()
        running = asyncio.get_running_loop().run_in_executor(
            self._run_pool, model.answer, call.input, options, ctx.deadline
        )
        try:
            output, compute_ms = await asyncio.wait_for(running, remaining)
        except BaseException as error:
            options.terminate = (
                True  # stops a run still going on its thread (deadline passed, or caller gone)
            )
            if isinstance(error, TimeoutError):
                raise UpstreamTimeout("The model did not answer in time.") from None
            raise
        return InferenceResult(
            output=output, usage=Usage(input_tokens=0, output_tokens=0, compute_ms=compute_ms, reported=True)
        )

    async def _model(self, target: Target, ctx: CallContext) -> _LoadedModel:
        """The version's loaded model; concurrent first calls wait for one load. A load outlasting the caller's
        deadline carries on (the next call finds it cached)."""
        remaining = ctx.remaining()  # before starting a load nobody would wait for
        with self._lock:
            model = self._models.get(target.version_id)
            if model is not None:
                self._models.move_to_end(target.version_id)
                return model
            pending = self._loading.get(target.version_id)
            if pending is None:
                pending = self._load_pool.submit(self._load_and_keep, target)
                self._loading[target.version_id] = pending
        try:
            # shield: one caller timing out must not cancel the load the others wait for
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(pending)), remaining)
        except TimeoutError:
            raise UpstreamTimeout("The model did not load in time.") from None

    def _load_and_keep(self, target: Target) -> _LoadedModel:
        try:
            model = _load_model(target)
        except BaseException:
            with self._lock:
                self._loading.pop(target.version_id, None)  # not remembered: the next call tries again
            raise
        with self._lock:
            self._models[target.version_id] = model
            self._models.move_to_end(target.version_id)
            while len(self._models) > self._cache_size:
                self._models.popitem(last=False)
            self._loading.pop(target.version_id, None)
        return model

    async def infer_stream(
        self, target: Target, call: InferenceCall, ctx: CallContext
    ) -> AsyncIterator[StreamChunk]:
        raise NotSupported(_no_streaming(target))
        yield StreamChunk()  # unreachable; makes this an async generator, so the error comes with the first chunk

    async def chat(self, target: Target, body: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        raise NotSupported(_no_chat(target))

    async def chat_stream(
        self, target: Target, body: dict[str, Any], ctx: CallContext
    ) -> AsyncIterator[dict[str, Any]]:
        raise NotSupported(_no_chat(target))
        yield {}  # unreachable; see infer_stream

    async def job_status(self, target: Target, job: JobRef, ctx: CallContext) -> JobStatus:
        raise NotSupported("Local models answer at once; there are no jobs to look up.")

    async def job_cancel(self, target: Target, job: JobRef, ctx: CallContext) -> JobStatus:
        raise NotSupported("Local models answer at once; there are no jobs to cancel.")


def _no_streaming(target: Target) -> str:
    return f"{target.slug} ({target.task}) answers in one piece; call it without streaming."


def _no_chat(target: Target) -> str:
    return f"{target.slug} ({target.task}) is not a chat model; call POST /api/v1/models/{target.slug}/inference."

"""ONNX validation in two steps: read the model's top-level protobuf fields ourselves (IR version, producer,
opsets; cheap, needs no package, and tells an ONNX file from anything else), then load it with onnxruntime in a
separate process to record its inputs and outputs. Files over MODEL_FILE_ONNX_MAX_LOAD_BYTES get only the first
step and are marked download-only with a warning."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from modelmarket.catalog.validation.result import ValidationResult, invalid
from modelmarket.catalog.vocabulary import FileFormat, ValidationStatus

DESCRIPTION = "ONNX model (protobuf)"
PROBE = Path(__file__).with_name("onnx_probe.py")
# ModelProto field numbers (onnx.proto3).
IR_VERSION, PRODUCER_NAME, PRODUCER_VERSION, DOMAIN, MODEL_VERSION, GRAPH, OPSET_IMPORT = 1, 2, 3, 4, 5, 7, 8
SMALL_FIELDS = {PRODUCER_NAME, PRODUCER_VERSION, DOMAIN, OPSET_IMPORT}
SMALL_FIELD_MAX_BYTES = 4096


class ProtobufError(ValueError):
    pass


def _varint(handle: IO[bytes]) -> int | None:
    """The next varint, or None at a clean end of file."""
    result, shift = 0, 0
    while True:
        byte = handle.read(1)
        if not byte:
            if shift == 0:
                return None
            raise ProtobufError("the file ends inside a number")
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise ProtobufError("a number is longer than 10 bytes")


def _fields(handle: IO[bytes], *, end: int, read: frozenset[int] | set[int] = SMALL_FIELDS) -> Any:
    """Yield (field number, wire type, value) for one message; length-delimited fields not in `read` (or too
    long) are skipped (value None) without being read, so a multi-GB graph costs one seek."""
    while handle.tell() < end:
        tag = _varint(handle)
        if tag is None:
            return
        number, wire_type = tag >> 3, tag & 7
        if number == 0:
            raise ProtobufError("field number 0")
        if wire_type == 0:
            value: Any = _varint(handle)
            if value is None:
                raise ProtobufError("the file ends inside a field")
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            value = handle.read(size)
            if len(value) != size:
                raise ProtobufError("the file ends inside a field")
        elif wire_type == 2:
            length = _varint(handle)
            if length is None or handle.tell() + length > end:
                raise ProtobufError(f"field {number} runs past the end of the file (truncated?)")
            if number in read and length <= SMALL_FIELD_MAX_BYTES:
                value = handle.read(length)
            else:
                handle.seek(length, 1)
                value = None
        else:
            raise ProtobufError(f"unsupported wire type {wire_type}")
        yield number, wire_type, value
    if handle.tell() != end:
        raise ProtobufError("a field runs past the end of the file")


def _opset(raw: bytes) -> dict[str, Any]:
    import io

    domain, version = "", 0
    for number, wire_type, value in _fields(io.BytesIO(raw), end=len(raw), read={1}):
        if number == 1 and wire_type == 2 and value is not None:
            domain = value.decode("utf-8", "replace")
        elif number == 2 and wire_type == 0:
            version = value
    return {"domain": domain or "ai.onnx", "version": version}


def read_model_header(handle: IO[bytes], *, size_bytes: int) -> dict[str, Any]:
    """IR version, producer and opsets from the top-level ModelProto; ProtobufError when it is not one."""
    header: dict[str, Any] = {"opsets": []}
    has_graph = False
    for number, wire_type, value in _fields(handle, end=size_bytes):
        if number == IR_VERSION and wire_type == 0:
            header["ir_version"] = value
        elif number in (PRODUCER_NAME, PRODUCER_VERSION, DOMAIN) and wire_type == 2 and value is not None:
            key = {PRODUCER_NAME: "producer", PRODUCER_VERSION: "producer_version", DOMAIN: "domain"}[number]
            header[key] = value.decode("utf-8", "replace")[:200]
        elif number == MODEL_VERSION and wire_type == 0:
            header["model_version"] = value
        elif number == GRAPH and wire_type == 2:
            has_graph = True
        elif number == OPSET_IMPORT and wire_type == 2 and value is not None:
            opset = _opset(value)
            if (
                opset not in header["opsets"]
            ):  # converters may import the default domain as "" and as "ai.onnx"
                header["opsets"].append(opset)
    if not 1 <= header.get("ir_version", 0) <= 100:
        raise ProtobufError("no ONNX IR version")
    if not has_graph:
        raise ProtobufError("no graph")
    return header


def looks_like_onnx(head: bytes) -> bool:
    """ModelProto starts with field 1 (ir_version, a small varint); the full check is read_model_header."""
    return len(head) >= 2 and head[0] == 0x08 and 1 <= head[1] <= 100


def validate_onnx(path: str, *, size_bytes: int) -> ValidationResult:
    try:
        with open(path, "rb") as handle:
            header = read_model_header(handle, size_bytes=size_bytes)
    except ProtobufError as error:
        return invalid(
            f"Not a readable ONNX model: {error}.", detected=DESCRIPTION, file_format=FileFormat.ONNX
        )
    limit = settings.MODEL_FILE_ONNX_MAX_LOAD_BYTES
    if size_bytes > limit:
        return ValidationResult(
            status=ValidationStatus.DOWNLOAD_ONLY,
            file_format=FileFormat.ONNX,
            detected=DESCRIPTION,
            warnings=[
                f"This ONNX file ({size_bytes} bytes) is larger than the {limit} bytes we load for validation: "
                "its structure was checked but it was not loaded, so it cannot run here; it can be downloaded."
            ],
            details={"onnx": header},
        )
    probe = _probe(path)
    if "error" in probe:
        return invalid(
            f"onnxruntime could not load this model: {probe['error']}",
            detected=DESCRIPTION,
            file_format=FileFormat.ONNX,
        )
    return ValidationResult(
        status=ValidationStatus.VALID,
        file_format=FileFormat.ONNX,
        detected=DESCRIPTION,
        details={"onnx": {**header, **probe}},
    )


def _probe(path: str) -> dict[str, Any]:
    timeout = settings.MODEL_FILE_ONNX_LOAD_TIMEOUT_SECONDS
    # An empty working directory: a model that names external data files finds none of ours.
    with tempfile.TemporaryDirectory(prefix="onnx-probe-") as workdir:
        try:
            completed = subprocess.run(  # noqa: S603 - our own script, run by our own interpreter
                [sys.executable, "-I", str(PROBE), path],
                capture_output=True,
                timeout=timeout,
                cwd=workdir,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"loading took longer than {timeout} seconds"}
    try:
        result: dict[str, Any] = json.loads(completed.stdout)
    except ValueError:
        reason = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        return {"error": f"the loader stopped (exit status {completed.returncode}): {reason[0][:500]}"}
    return result

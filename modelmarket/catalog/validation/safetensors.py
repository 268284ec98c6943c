"""A reader for safetensors headers, written from the format's description so that validation needs no third-party
package: 8 bytes little-endian header length N, N bytes of JSON (`{name: {dtype, shape, data_offsets}, ...}` and an
optional `__metadata__` of strings), then the tensor data, which the offsets must cover exactly, without gaps."""

from __future__ import annotations

import json
import math
import struct
from collections import Counter
from typing import IO, Any

from modelmarket.catalog.validation.result import ValidationResult, invalid
from modelmarket.catalog.vocabulary import FileFormat, ValidationStatus

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the format's own limit
DESCRIPTION = "safetensors"
# Bits per element of every dtype the format defines.
DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}


class HeaderError(ValueError):
    pass


def looks_like_safetensors(head: bytes, size_bytes: int) -> bool:
    if len(head) < 9:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return 2 <= length <= min(MAX_HEADER_BYTES, size_bytes - 8) and head[8:9] == b"{"


def validate_safetensors(handle: IO[bytes], *, size_bytes: int) -> ValidationResult:
    try:
        details = read_header(handle, size_bytes=size_bytes)
    except HeaderError as error:
        return invalid(
            f"Not a readable safetensors file: {error}",
            detected=DESCRIPTION,
            file_format=FileFormat.SAFETENSORS,
        )
    return ValidationResult(
        status=ValidationStatus.VALID,
        file_format=FileFormat.SAFETENSORS,
        detected=DESCRIPTION,
        details={"safetensors": details},
    )


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise HeaderError("the header names a tensor twice")
    return dict(pairs)


def read_header(handle: IO[bytes], *, size_bytes: int) -> dict[str, Any]:
    """Parse and check the header; returns tensor count, parameter count, dtypes and metadata."""
    prefix = handle.read(8)
    if len(prefix) < 8:
        raise HeaderError("the file is shorter than the 8-byte header length")
    (length,) = struct.unpack("<Q", prefix)
    if length > MAX_HEADER_BYTES or length > size_bytes - 8:
        raise HeaderError(f"the header length ({length} bytes) is larger than the file allows")
    raw = handle.read(length)
    if len(raw) != length:
        raise HeaderError("the header is truncated")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HeaderError(f"the header is not valid JSON ({error})") from None
    if not isinstance(header, dict):
        raise HeaderError("the header is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in metadata.items()
    ):
        raise HeaderError("__metadata__ must map strings to strings")
    spans, dtypes, parameters = _check_tensors(header)
    _check_coverage(spans, data_bytes=size_bytes - 8 - length)
    return {
        "tensor_count": len(header),
        "parameter_count": parameters,
        "dtypes": dict(sorted(dtypes.items())),
        "header_bytes": length,
        "metadata": {key[:100]: value[:500] for key, value in list(metadata.items())[:20]},
    }


def _check_tensors(header: dict[str, Any]) -> tuple[list[tuple[int, int, str]], Counter[str], int]:
    spans: list[tuple[int, int, str]] = []
    dtypes: Counter[str] = Counter()
    parameters = 0
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise HeaderError(f"tensor '{name[:100]}' needs exactly dtype, shape and data_offsets")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in DTYPE_BITS:
            raise HeaderError(f"tensor '{name[:100]}' has an unknown dtype '{str(dtype)[:20]}'")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise HeaderError(f"tensor '{name[:100]}' has an invalid shape")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
            or offsets[0] > offsets[1]
        ):
            raise HeaderError(f"tensor '{name[:100]}' has invalid data_offsets")
        elements = math.prod(shape)
        bits = elements * DTYPE_BITS[dtype]
        if bits % 8 or offsets[1] - offsets[0] != bits // 8:
            raise HeaderError(f"tensor '{name[:100]}': its offsets do not match its shape and dtype")
        spans.append((offsets[0], offsets[1], name))
        dtypes[dtype] += 1
        parameters += elements
    return spans, dtypes, parameters


def _check_coverage(spans: list[tuple[int, int, str]], *, data_bytes: int) -> None:
    """The tensors must tile the data section exactly: no overlap, no gap, nothing after the last one."""
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            problem = "overlaps another tensor" if begin < position else "leaves a gap before it"
            raise HeaderError(f"tensor '{name[:100]}' {problem}")
        position = end
    if position != data_bytes:
        raise HeaderError(
            f"the tensors cover {position} bytes but the file holds {data_bytes} bytes of data"
            + (" (truncated?)" if position > data_bytes else "")
        )

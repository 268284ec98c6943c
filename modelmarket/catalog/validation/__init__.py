"""Find out what an uploaded file really is, from its bytes rather than its name, and check it.

`validate_file(path, name=...)` returns a ValidationResult:
- ONNX (loaded by onnxruntime in a child process) and safetensors (header parsed here): `valid`;
- pickle-based files (raw pickles, joblib, PyTorch checkpoints): `download_only`, never unpickled;
- JSON, text and GGUF files whose content matches their name: `valid`; other binaries: `download_only`;
- empty files, broken files and files whose name claims a format their content is not: `invalid`, with errors.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import PurePosixPath
from typing import IO, Any

from modelmarket.catalog.validation import onnx, pickles, safetensors
from modelmarket.catalog.validation.result import ValidationResult, invalid
from modelmarket.catalog.vocabulary import FileFormat, ValidationStatus

__all__ = ["ValidationResult", "validate_file"]

HEAD_BYTES = 64 * 1024
JSON_PARSE_MAX_BYTES = 64 * 1024 * 1024
PICKLE_EXTENSIONS = {".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib"}
# `.bin` is also used for raw weights and other binaries, so unknown content under it is not an error.
GENERIC_BINARY_EXTENSIONS = {".bin"}
TEXT_EXTENSIONS = {".txt", ".md", ".yaml", ".yml", ".cfg", ".ini", ".csv", ".tsv", ".py", ".toml", ".jinja"}
JSON_EXTENSIONS = {".json"}
# The format a file name promises; content of another format is an error ("mislabelled").
CLAIMED_KIND = {
    ".onnx": "onnx",
    ".safetensors": "safetensors",
    ".gguf": "gguf",
    **dict.fromkeys(JSON_EXTENSIONS, "json"),
    **dict.fromkeys(TEXT_EXTENSIONS, "text"),
    **dict.fromkeys(PICKLE_EXTENSIONS - GENERIC_BINARY_EXTENSIONS, "pickle"),
}
MATCHING_KINDS = {"pickle": {"pickle", "pytorch-zip"}, "json": {"text"}, "text": {"text"}}
DESCRIPTIONS = {
    "onnx": "an ONNX model",
    "safetensors": "a safetensors file",
    "pickle": "a pickle (which can run code when loaded)",
    "pytorch-zip": "a PyTorch pickle checkpoint (which can run code when loaded)",
    "gguf": "a GGUF model",
    "json": "JSON",
    "zip": "a ZIP archive",
    "text": "text",
    "binary": "binary data of an unknown format",
}


def validate_file(path: str, *, name: str) -> ValidationResult:
    size_bytes = os.path.getsize(path)
    extension = PurePosixPath(name.lower()).suffix
    if size_bytes == 0:
        return invalid("The file is empty.", detected="empty")
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    kind = _detect(path, head, size_bytes=size_bytes, extension=extension)
    claimed = CLAIMED_KIND.get(extension)
    if claimed is not None and kind not in MATCHING_KINDS.get(claimed, {claimed}):
        return _mislabelled(name, DESCRIPTIONS[claimed], DESCRIPTIONS[kind])
    if kind == "onnx":
        return _with_name_note(onnx.validate_onnx(path, size_bytes=size_bytes), extension, ".onnx")
    if kind == "safetensors":
        with open(path, "rb") as handle:
            result = safetensors.validate_safetensors(handle, size_bytes=size_bytes)
        return _with_name_note(result, extension, ".safetensors")
    if kind in ("pickle", "pytorch-zip"):
        return _pickle_result(path, kind)
    return _other(path, name=name, kind=kind, extension=extension, size_bytes=size_bytes)


def _detect(path: str, head: bytes, *, size_bytes: int, extension: str) -> str:
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        with open(path, "rb") as handle:
            return "pytorch-zip" if pickles.pytorch_archive_pickle(handle) else "zip"
    if safetensors.looks_like_safetensors(head, size_bytes):
        return "safetensors"
    if pickles.has_pickle_magic(head):
        return "pickle"
    if head.startswith(b"GGUF"):
        return "gguf"
    if onnx.looks_like_onnx(head):
        return "onnx"
    if _is_text(head):
        if extension in PICKLE_EXTENSIONS and _is_old_protocol_pickle(path):
            return "pickle"
        return "text"
    return "binary"


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(head) - 3  # a character cut by the end of the sample
    return True


def _is_old_protocol_pickle(path: str) -> bool:
    """Protocol 0 and 1 pickles have no magic number; they are pickles if their opcodes parse to a STOP."""
    try:
        with open(path, "rb") as handle:
            return pickles.scan(handle)["scanned_completely"]
    except ValueError:
        return False


def _pickle_result(path: str, kind: str) -> ValidationResult:
    with open(path, "rb") as handle:
        if kind == "pytorch-zip":
            member = pickles.pytorch_archive_pickle(handle) or "data.pkl"
            handle.seek(0)
            with zipfile.ZipFile(handle) as archive, archive.open(member) as stream:
                scan = _scan_or_error(stream)
            container = "PyTorch zip checkpoint"
        else:
            scan = _scan_or_error(handle)
            container = "raw pickle"
    return pickles.download_only(scan_result=scan, container=container)


def _scan_or_error(stream: IO[bytes]) -> dict[str, Any]:
    try:
        return pickles.scan(stream)
    except (ValueError, zipfile.BadZipFile, OSError) as error:
        return {"protocol": None, "imports": [], "dangerous_imports": [], "scan_error": str(error)[:200]}


def _mislabelled(name: str, claim: str, actual: str) -> ValidationResult:
    return invalid(
        f"The name '{name}' says this is {claim}, but its content is {actual}. Rename it or upload the right file.",
        detected=actual,
    )


def _with_name_note(result: ValidationResult, extension: str, expected: str) -> ValidationResult:
    if extension != expected and result.status != ValidationStatus.INVALID:
        result.warnings.append(
            f"The content is {result.detected}, although the name does not end in {expected}."
        )
    return result


def _other(path: str, *, name: str, kind: str, extension: str, size_bytes: int) -> ValidationResult:
    """Files the marketplace does not run: tokenizer and config files, READMEs, archives, GGUF, other binaries."""
    if extension in JSON_EXTENSIONS and size_bytes <= JSON_PARSE_MAX_BYTES:
        try:
            with open(path, "rb") as handle:
                json.load(handle)
        except (ValueError, UnicodeDecodeError) as error:
            return invalid(
                f"The name '{name}' says this is JSON, but it does not parse: {error}.", detected="text"
            )
    if kind in ("text", "gguf"):
        return ValidationResult(
            status=ValidationStatus.VALID, file_format=FileFormat.OTHER, detected=DESCRIPTIONS[kind]
        )
    return ValidationResult(
        status=ValidationStatus.DOWNLOAD_ONLY,
        file_format=FileFormat.OTHER,
        detected=DESCRIPTIONS[kind],
        warnings=[
            f"This is {DESCRIPTIONS[kind]}; its content was not checked and it is offered for download only."
        ],
    )

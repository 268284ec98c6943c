"""Pickle-based files (raw pickles, joblib dumps, PyTorch checkpoints, which are zip archives holding `data.pkl`).

Unpickling runs whatever code the file names, so these files are never loaded: we only walk the opcode stream
with `pickletools.genops`, which decodes opcodes and never executes or imports anything, to report the pickle
protocol and the Python callables the file would import. They are marked download-only."""

from __future__ import annotations

import io
import pickletools
import zipfile
from typing import IO, Any

from modelmarket.catalog.validation.result import ValidationResult
from modelmarket.catalog.vocabulary import FileFormat, ValidationStatus

SCAN_MAX_BYTES = 16 * 1024 * 1024
MAX_IMPORTS_REPORTED = 50
PICKLE_WARNING = (
    "This is a pickle-based file. Loading a pickle can run arbitrary code on your machine, so ModelMarket never "
    "loads or runs it: it is available for download only. Load it only if you trust its creator, or ask them for "
    "a safetensors or ONNX version."
)
# Imports that only make sense for running code, not for rebuilding tensors or estimators.
DANGEROUS_MODULES = {
    "os",
    "posix",
    "nt",
    "subprocess",
    "sys",
    "socket",
    "shutil",
    "runpy",
    "importlib",
    "pty",
    "webbrowser",
    "code",
    "ctypes",
    "marshal",
    "pickle",
    "_pickle",
}
DANGEROUS_BUILTINS = {
    "eval",
    "exec",
    "compile",
    "open",
    "__import__",
    "getattr",
    "setattr",
    "globals",
    "breakpoint",
}
STRING_OPCODES = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING"}


def has_pickle_magic(head: bytes) -> bool:
    """PROTO opcode (0x80) and a protocol number 2..5: how every modern pickle (and torch's legacy format) starts."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def pytorch_archive_pickle(handle: IO[bytes]) -> str | None:
    """The name of the `data.pkl` member if `handle` is a PyTorch zip checkpoint."""
    try:
        with zipfile.ZipFile(handle) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    return next((name for name in names if name == "data.pkl" or name.endswith("/data.pkl")), None)


def scan(stream: IO[bytes]) -> dict[str, Any]:
    """Walk the opcodes of the pickle in `stream` (at most SCAN_MAX_BYTES of it) without executing anything.
    Raises ValueError when the bytes are not a pickle."""
    data = io.BytesIO(stream.read(SCAN_MAX_BYTES))
    protocol = 0
    imports: list[str] = []
    recent_strings: list[str] = []
    complete = False
    try:
        for opcode, argument, _ in pickletools.genops(data):
            if opcode.name == "PROTO" and isinstance(argument, int):
                protocol = argument
            elif opcode.name in STRING_OPCODES and isinstance(argument, str):
                recent_strings = [*recent_strings[-1:], argument]
            elif opcode.name in ("GLOBAL", "INST") and isinstance(argument, str):
                imports.append(argument.replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(recent_strings) == 2:
                imports.append(".".join(recent_strings))
            elif opcode.name == "STOP":
                complete = True
    except ValueError:
        if data.tell() < SCAN_MAX_BYTES:  # broken before our scan limit: not a pickle
            raise
    unique = list(dict.fromkeys(imports))
    return {
        "protocol": protocol,
        "imports": unique[:MAX_IMPORTS_REPORTED],
        "dangerous_imports": [name for name in unique if _is_dangerous(name)],
        "scanned_completely": complete,
    }


def _is_dangerous(qualified_name: str) -> bool:
    module, _, attribute = qualified_name.rpartition(".")
    if module in ("builtins", "__builtin__"):
        return attribute in DANGEROUS_BUILTINS
    return module.split(".")[0] in DANGEROUS_MODULES


def download_only(*, scan_result: dict[str, Any], container: str) -> ValidationResult:
    warnings = [PICKLE_WARNING]
    if scan_result["dangerous_imports"]:
        warnings.append(
            "It references functions that run commands or code when unpickled: "
            + ", ".join(scan_result["dangerous_imports"][:10])
            + ". Treat it as malicious."
        )
    return ValidationResult(
        status=ValidationStatus.DOWNLOAD_ONLY,
        file_format=FileFormat.PICKLE,
        detected=f"pickle ({container})",
        warnings=warnings,
        details={"pickle": {"container": container, **scan_result}},
    )

"""Validation decides from content, not names: real ONNX, safetensors and pickle files, and liars."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile

import pytest

from modelmarket.catalog.validation import validate_file


def write(tmp_path, name, content: bytes) -> str:
    path = tmp_path / "sample"
    path.write_bytes(content)
    return str(path)


def check(tmp_path, name, content: bytes):
    return validate_file(write(tmp_path, name, content), name=name)


class RunsACommand:
    """Unpickling this runs `touch <path>`: the proof that validation never unpickles."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_onnx_model_is_loaded_and_its_inputs_outputs_and_opsets_recorded(tmp_path, iris_onnx_bytes):
    result = check(tmp_path, "iris.onnx", iris_onnx_bytes)

    assert (result.status, result.file_format, result.errors) == ("valid", "onnx", [])
    onnx = result.details["onnx"]
    assert onnx["inputs"] == [{"name": "X", "type": "tensor(float)", "shape": [None, 4]}]
    assert [output["name"] for output in onnx["outputs"]] == ["output_label", "output_probability"]
    assert {"domain": "ai.onnx", "version": 15} in onnx["opsets"]
    assert onnx["producer"] == "skl2onnx"
    assert onnx["ir_version"] >= 7
    report = result.report(size_bytes=len(iris_onnx_bytes))
    assert report["size_bytes"] == len(iris_onnx_bytes)


def test_truncated_onnx_is_invalid_with_a_clear_error(tmp_path, iris_onnx_bytes):
    result = check(tmp_path, "iris.onnx", iris_onnx_bytes[: len(iris_onnx_bytes) // 2])

    assert (result.status, result.file_format) == ("invalid", "onnx")
    assert result.errors == ["Not a readable ONNX model: field 7 runs past the end of the file (truncated?)."]


def test_onnx_that_onnxruntime_refuses_is_invalid(tmp_path, iris_onnx_bytes):
    # A well-formed header whose graph bytes are garbage: our header check passes, onnxruntime does not.
    header = b"\x08\x08" + b"\x3a\x04" + b"\xff\xff\xff\xff"
    result = check(tmp_path, "broken.onnx", header)

    assert result.status == "invalid"
    assert result.errors[0].startswith("onnxruntime could not load this model: ")


def test_onnx_larger_than_the_load_limit_is_checked_but_not_loaded(tmp_path, iris_onnx_bytes, settings):
    settings.MODEL_FILE_ONNX_MAX_LOAD_BYTES = 100

    result = check(tmp_path, "iris.onnx", iris_onnx_bytes)

    assert (result.status, result.file_format) == ("download_only", "onnx")
    assert "larger than the 100 bytes we load" in result.warnings[0]
    assert "inputs" not in result.details["onnx"]
    assert {"domain": "ai.onnx", "version": 15} in result.details["onnx"]["opsets"]


def test_safetensors_header_is_parsed_without_the_safetensors_package(tmp_path, safetensors_bytes):
    result = check(tmp_path, "model.safetensors", safetensors_bytes)

    assert (result.status, result.file_format, result.errors) == ("valid", "safetensors", [])
    details = result.details["safetensors"]
    assert details["tensor_count"] == 3
    assert details["parameter_count"] == 12 + 3 + 2
    assert details["dtypes"] == {"F32": 2, "I64": 1}
    assert details["metadata"] == {"format": "np"}


def safetensors_with(header: dict, data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


@pytest.mark.parametrize(
    ("header", "data", "error"),
    [
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4, "truncated?"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 12, "file holds 12 bytes"),
        ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8, "do not match its shape"),
        ({"a": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8, "unknown dtype 'Q7'"),
        (
            {
                "a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]},
            },
            b"\0" * 6,
            "overlaps another tensor",
        ),
        ({"a": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}}, b"\0" * 6, "leaves a gap before it"),
    ],
)
def test_safetensors_whose_offsets_do_not_tile_the_data_exactly_are_invalid(tmp_path, header, data, error):
    result = check(tmp_path, "model.safetensors", safetensors_with(header, data))

    assert result.status == "invalid"
    assert error in result.errors[0]


def test_pickle_is_download_only_with_a_warning_and_is_never_unpickled(tmp_path):
    sentinel = tmp_path / "pwned"
    payload = pickle.dumps({"weights": [1, 2, 3], "hook": RunsACommand(str(sentinel))}, protocol=4)

    result = check(tmp_path, "model.pkl", payload)

    assert (result.status, result.file_format) == ("download_only", "pickle")
    assert "never loads or runs it" in result.warnings[0]
    assert result.details["pickle"]["protocol"] == 4
    assert result.details["pickle"]["dangerous_imports"] == ["posix.system"]
    assert "Treat it as malicious" in result.warnings[1]
    assert not sentinel.exists()


def test_pytorch_zip_checkpoint_is_recognised_as_pickle_whatever_its_extension(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"layer": 1}, protocol=2))
        archive.writestr("archive/data/0", b"\0" * 16)

    result = check(tmp_path, "pytorch_model.bin", buffer.getvalue())

    assert (result.status, result.file_format) == ("download_only", "pickle")
    assert result.details["pickle"]["container"] == "PyTorch zip checkpoint"


def test_protocol_0_pickle_named_pkl_is_still_a_pickle(tmp_path):
    result = check(tmp_path, "old.pkl", pickle.dumps([1, 2, "three"], protocol=0))

    assert (result.status, result.file_format) == ("download_only", "pickle")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "model.onnx",
            b"PK\x05\x06" + b"\0" * 18,
            "says this is an ONNX model, but its content is a ZIP archive",
        ),
        ("model.onnx", b"just some text\n", "says this is an ONNX model, but its content is text"),
        ("model.safetensors", pickle.dumps([1], protocol=4), "but its content is a pickle"),
        (
            "weights.pkl",
            b"hello, I am not a pickle\n",
            "says this is a pickle (which can run code when loaded)",
        ),
        ("config.json", pickle.dumps({}, protocol=3), "says this is JSON, but its content is a pickle"),
    ],
)
def test_a_name_that_lies_about_the_content_makes_the_file_invalid(tmp_path, name, content, message):
    result = check(tmp_path, name, content)

    assert result.status == "invalid"
    assert message in result.errors[0]


def test_onnx_content_under_another_name_is_validated_as_onnx_with_a_note(tmp_path, iris_onnx_bytes):
    result = check(tmp_path, "weights.bin", iris_onnx_bytes)

    assert (result.status, result.file_format) == ("valid", "onnx")
    assert result.warnings == [
        "The content is ONNX model (protobuf), although the name does not end in .onnx."
    ]


def test_empty_file_is_invalid(tmp_path):
    result = check(tmp_path, "model.onnx", b"")

    assert result.status == "invalid"
    assert result.errors == ["The file is empty."]


def test_config_json_is_valid_and_broken_json_is_invalid(tmp_path):
    assert check(tmp_path, "config.json", b'{"hidden_size": 8}').status == "valid"
    broken = check(tmp_path, "config.json", b'{"hidden_size": ')
    assert broken.status == "invalid"
    assert "does not parse" in broken.errors[0]


def test_unknown_binary_is_download_only(tmp_path):
    result = check(tmp_path, "tokenizer.model", bytes(range(256)) * 4)

    assert (result.status, result.file_format) == ("download_only", "other")

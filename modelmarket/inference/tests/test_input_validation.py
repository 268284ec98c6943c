"""input_validate: a native call's input against the version's JSON Schema, compiled once per version."""

from __future__ import annotations

import copy
import urllib.request
from typing import Any

import fastjsonschema
import pytest

from modelmarket.catalog.demo import runnable
from modelmarket.inference.providers import validation
from modelmarket.inference.providers.base import InvalidInput, Target
from modelmarket.inference.providers.validation import InvalidModelSchema, input_validate

IRIS = next(model for model in runnable.RUNNABLE_MODELS if model.slug.startswith("iris"))
IRIS_ROW = {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}


def target(schema: dict[str, Any], *, version_id: int = 1) -> Target:
    return Target(
        model_id=1,
        slug="a-model",
        creator_id=1,
        task="tabular-classification",
        version_id=version_id,
        version="1.0.0",
        provider="local_onnx",
        runtime={},
        input_schema=schema,
    )


@pytest.fixture(autouse=True)
def _fresh_validators() -> None:
    validation.validator_cache_clear()


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The schemas fastjsonschema compiled, in order."""
    compiled: list[dict[str, Any]] = []
    compile_schema = fastjsonschema.compile

    def spy(schema: dict[str, Any], **options: Any) -> Any:
        compiled.append(schema)
        return compile_schema(schema, **options)

    monkeypatch.setattr(fastjsonschema, "compile", spy)
    return compiled


def invalid(schema: dict[str, Any], value: Any) -> dict[str, Any]:
    with pytest.raises(InvalidInput) as raised:
        input_validate(target(schema), value)
    assert raised.value.status == 422
    assert raised.value.code == "invalid_input"
    assert raised.value.message == raised.value.details["message"]
    return raised.value.details


@pytest.mark.parametrize("value", [None, 1, "text", [1, 2], {"any": {"thing": True}}])
def test_an_empty_schema_accepts_anything(value):
    input_validate(target({}), value)


def test_a_demo_row_fits_the_demo_schema():
    input_validate(target(runnable.input_schema(IRIS)), dict(IRIS_ROW))


def test_a_wrong_type_names_the_field():
    details = invalid(runnable.input_schema(IRIS), IRIS_ROW | {"sepal_length_cm": "5.1"})

    assert details == {"path": "input.sepal_length_cm", "message": "input.sepal_length_cm must be number."}


def test_a_boolean_is_not_a_number():
    details = invalid(runnable.input_schema(IRIS), IRIS_ROW | {"petal_width_cm": True})

    assert details["path"] == "input.petal_width_cm"


def test_missing_fields_point_at_the_first_and_list_all():
    row = {"sepal_length_cm": 5.1, "petal_length_cm": 1.4}

    details = invalid(runnable.input_schema(IRIS), row)

    assert details == {
        "path": "input.sepal_width_cm",
        "message": "input.sepal_width_cm is required (missing: sepal_width_cm, petal_width_cm).",
    }


def test_an_unknown_field_is_named():
    details = invalid(runnable.input_schema(IRIS), IRIS_ROW | {"colour": "blue", "age": 3})

    assert details == {
        "path": "input.age",
        "message": "input.age is not an accepted field (unknown: age, colour).",
    }


def test_a_value_below_the_minimum_names_the_field_and_the_bound():
    details = invalid(runnable.input_schema(IRIS), IRIS_ROW | {"sepal_width_cm": -1})

    assert details == {
        "path": "input.sepal_width_cm",
        "message": "input.sepal_width_cm must be bigger than or equal to 0.",
    }


def test_not_an_object_at_all():
    details = invalid(runnable.input_schema(IRIS), [5.1, 3.5, 1.4, 0.2])

    assert details == {"path": "input", "message": "input must be object."}


def test_a_nested_path_keeps_array_indexes():
    schema = {
        "type": "object",
        "properties": {
            "rows": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "number"}}}}
        },
    }

    details = invalid(schema, {"rows": [{"x": 1}, {"x": "one"}]})

    assert details == {"path": "input.rows[1].x", "message": "input.rows[1].x must be number."}


def test_schema_defaults_are_not_written_into_the_input():
    schema = {"type": "object", "properties": {"top_k": {"type": "integer", "default": 5}}}
    value: dict[str, Any] = {}

    input_validate(target(schema), value)

    assert value == {}


def test_a_version_compiles_once(compiles):
    schema = runnable.input_schema(IRIS)

    for _ in range(3):
        input_validate(target(schema, version_id=7), dict(IRIS_ROW))
    input_validate(target(copy.deepcopy(schema), version_id=7), dict(IRIS_ROW))  # an equal schema, rebuilt

    assert len(compiles) == 1


def test_a_changed_schema_on_the_same_version_is_recompiled(compiles):
    """A draft's schema may still be edited; a published one never is."""
    input_validate(target({"type": "object"}, version_id=7), {})

    with pytest.raises(InvalidInput):
        input_validate(target({"type": "array"}, version_id=7), {})

    assert compiles == [{"type": "object"}, {"type": "array"}]


def test_the_cache_is_bounded(compiles, monkeypatch):
    monkeypatch.setattr(validation, "_validators", validation._ValidatorCache(2))

    for version_id in (1, 2, 3, 1):
        input_validate(target({"type": "object"}, version_id=version_id), {})

    assert len(validation._validators) == 2
    assert len(compiles) == 4  # version 1 was evicted by 3, so compiled again


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "nonsense"},
        {"type": "string", "pattern": "(unclosed"},
        {"type": "object", "properties": {"a": {"$ref": "#/definitions/missing"}}},
        {"minimum": "zero"},
    ],
    ids=["unknown-type", "bad-pattern", "dangling-ref", "non-number-bound"],
)
def test_a_broken_schema_answers_invalid_model_schema_not_a_crash(schema):
    with pytest.raises(InvalidModelSchema) as raised:
        input_validate(target(schema), {"a": 1})

    assert raised.value.status == 502
    assert raised.value.code == "invalid_model_schema"
    assert not raised.value.retryable
    assert raised.value.details["reason"]


def test_a_broken_schema_is_compiled_once_and_refused_every_time(compiles):
    for _ in range(3):
        with pytest.raises(InvalidModelSchema):
            input_validate(target({"type": "nonsense"}, version_id=9), {})

    assert len(compiles) == 1


@pytest.mark.parametrize(
    "reference", ["http://127.0.0.1:9/schema.json", "https://example.com/s.json", "file:///etc/passwd"]
)
def test_a_remote_reference_is_refused_without_fetching_it(reference, monkeypatch):
    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"fetched {args}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    schema = {"type": "object", "properties": {"a": {"$ref": reference}}}

    with pytest.raises(InvalidModelSchema) as raised:
        input_validate(target(schema), {"a": 1})

    assert "remote references are not allowed" in raised.value.details["reason"]


def test_a_local_reference_works():
    schema = {
        "$defs": {"length": {"type": "number", "minimum": 0}},
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/length"}},
    }

    details = invalid(schema, {"a": -2})

    assert details["path"] == "input.a"

"""Checking a native call's `input` against the version's input schema (JSON Schema), for every provider.

Validators are compiled once per version (a published version's schema never changes) and kept in a bounded LRU;
a draft whose schema was edited is recompiled because the cached schema is compared with the target's. Schemas are
the creator's, so compiling must neither reach the network (`$ref` to a URL is refused) nor crash the gateway: a
schema that does not compile answers `InvalidModelSchema`, and that answer is cached too."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fastjsonschema

from modelmarket.inference.providers.base import InvalidInput, ProviderError, Target

VALIDATOR_CACHE_SIZE = 1024
ROOT_NAME = "input"  # how paths in error details name the call's input (the request body's `input` field)


class InvalidModelSchema(ProviderError):
    """The version's input schema is not a JSON Schema we can compile. 502: the request is fine and so is our code;
    the listing is misconfigured, as with an upstream that refuses the listing's credentials. Not retryable."""

    status = 502
    code = "invalid_model_schema"


def input_validate(target: Target, value: Any) -> None:
    """Raise InvalidInput (details `{"path", "message"}`) when `value` does not fit `target.input_schema`;
    InvalidModelSchema when the schema itself is broken. An empty schema accepts anything. Never changes `value`
    (schema defaults are not filled in)."""
    schema = target.input_schema
    if not schema:
        return
    validate = _validators.get(target.version_id, schema)
    try:
        validate(value)
    except fastjsonschema.JsonSchemaValueException as error:
        path, message = _describe(error)
        raise InvalidInput(message, details={"path": path, "message": message}) from None


def validator_cache_clear() -> None:
    """Forget every compiled validator (tests)."""
    _validators.clear()


# --- Compiling ----------------------------------------------------------------------------------------------------
def _refuse_remote_reference(uri: str) -> Any:
    raise fastjsonschema.JsonSchemaDefinitionException(f"remote references are not allowed ({uri[:200]})")


class _NoRemoteReferences(dict[str, Callable[[str], Any]]):
    """fastjsonschema fetches any `$ref` URI whose scheme has no handler with urllib (http, file, ...): this
    mapping claims every scheme and refuses it."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> Callable[[str], Any]:
        return _refuse_remote_reference


@dataclass(frozen=True, slots=True)
class _Compiled:
    schema: dict[str, Any]
    validate: Callable[[Any], Any]


def _compile(schema: dict[str, Any]) -> Callable[[Any], Any]:
    try:
        validate: Callable[[Any], Any] = fastjsonschema.compile(
            schema, handlers=_NoRemoteReferences(), use_default=False
        )
    except Exception as error:  # a creator's schema can break the generator in many ways
        reason = f"{type(error).__name__}: {error}"[:300]

        def refuse(
            value: Any,
        ) -> Any:  # a fresh exception per call: a re-raised one keeps growing its traceback
            raise InvalidModelSchema(
                "This model's input schema is not valid JSON Schema; its creator must fix it.",
                details={"reason": reason},
            )

        return refuse
    return validate


class _ValidatorCache:
    """Bounded LRU of compiled validators by version id. Compiling happens outside the lock (two threads may
    compile the same schema once each; both results are equal)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[int, _Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version_id: int, schema: dict[str, Any]) -> Callable[[Any], Any]:
        with self._lock:
            entry = self._entries.get(version_id)
            if entry is not None and (entry.schema is schema or entry.schema == schema):
                self._entries.move_to_end(version_id)
                return entry.validate
        validate = _compile(schema)
        with self._lock:
            self._entries[version_id] = _Compiled(schema, validate)
            self._entries.move_to_end(version_id)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return validate

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_validators = _ValidatorCache(VALIDATOR_CACHE_SIZE)


# --- Describing a failure -----------------------------------------------------------------------------------------
def _path(name: str | None) -> str:
    """fastjsonschema names the value `data.field[0].other`; ours is the call's `input`."""
    name = name or "data"
    return ROOT_NAME + name.removeprefix("data")


def _describe(error: fastjsonschema.JsonSchemaValueException) -> tuple[str, str]:
    path = _path(error.name)
    value, definition = error.value, error.definition if isinstance(error.definition, dict) else {}
    if error.rule == "required" and isinstance(value, dict):
        missing = [key for key in error.rule_definition or [] if key not in value]
        if missing:
            listed = ", ".join(missing)
            return f"{path}.{missing[0]}", f"{path}.{missing[0]} is required (missing: {listed})."
    if error.rule == "additionalProperties" and isinstance(value, dict):
        known = definition.get("properties") or {}
        unknown = sorted(str(key) for key in value if key not in known)
        if unknown and not definition.get("patternProperties"):
            listed = ", ".join(unknown)
            return (
                f"{path}.{unknown[0]}",
                f"{path}.{unknown[0]} is not an accepted field (unknown: {listed}).",
            )
    message = error.message
    if message.startswith("data"):
        message = ROOT_NAME + message.removeprefix("data")
    return path, message.rstrip(".") + "."

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from modelmarket.ops.context import request_id_var, user_id_var

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_STANDARD_ATTRIBUTES = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "created_in_request_id",
    "created_in_request_user_id",
}
# A field is secret when its name contains one of these, or is (or ends in) "key": `api_key`, `raw_key`.
_SECRET_FRAGMENTS = ("password", "passwd", "secret", "token", "authorization", "cookie", "credential", "dsn")
# ...unless it only counts or identifies one: `api_key_id`, `key_prefix`, `prompt_tokens`.
_HARMLESS_SUFFIXES = ("_id", "_ids", "_prefix", "_tokens", "_count")
REDACTED = "[redacted]"


def is_secret_field(name: str) -> bool:
    lowered = name.lower().replace("-", "_")
    if lowered.endswith(_HARMLESS_SUFFIXES):
        return False
    return (
        any(fragment in lowered for fragment in _SECRET_FRAGMENTS)
        or lowered == "key"
        or lowered.endswith("_key")
    )


def redact(value: Any) -> Any:
    """`value` with every secret-named entry of every nested mapping replaced, e.g. a headers dict."""
    if isinstance(value, dict):
        return {key: REDACTED if is_secret_field(str(key)) else redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


# Where `install_request_context_on_records` keeps the context seen when a record was created. Not `request_id`
# itself: a record's attributes cannot be given again through `extra=`, and the request log passes `user_id`.
_CREATED_REQUEST_ID = "created_in_request_id"
_CREATED_USER_ID = "created_in_request_user_id"


def _request_id(record: logging.LogRecord) -> Any:
    return (
        getattr(record, "request_id", None)
        or getattr(record, _CREATED_REQUEST_ID, None)
        or request_id_var.get()
    )


def _user_id(record: logging.LogRecord) -> Any:
    explicit = getattr(record, "user_id", None)
    if explicit is not None:
        return explicit
    return getattr(record, _CREATED_USER_ID, None) or user_id_var.get()


class RequestContextFilter(logging.Filter):
    """Gives `%(request_id)s` and `%(user_id)s` to text formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id(record)
        record.user_id = _user_id(record)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Fields whose names suggest a secret (at any depth) are never written out."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id(record),
            "user_id": _user_id(record),
        }
        for name, value in record.__dict__.items():
            if name in _STANDARD_ATTRIBUTES or name in entry:
                continue
            entry[name] = REDACTED if is_secret_field(name) else redact(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def install_request_context_on_records() -> None:
    """Stamp request id and user id on every LogRecord when it is created, inside the request, so that every
    handler (pytest's caplog, Sentry, a file) sees them, not only handlers configured with RequestContextFilter."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_request_context", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        setattr(record, _CREATED_REQUEST_ID, request_id_var.get())
        setattr(record, _CREATED_USER_ID, user_id_var.get())
        return record

    factory.adds_request_context = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)

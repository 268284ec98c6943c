from __future__ import annotations

import json
import logging

import pytest

from modelmarket.ops.logging import JsonFormatter, RequestContextFilter, is_secret_field

pytestmark = pytest.mark.django_db


def request_log_lines(caplog) -> list[dict]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "modelmarket.request"
    ]


def test_each_request_logs_one_json_line_with_request_id_user_and_latency(client, buyer, caplog):
    client.force_login(buyer)
    with caplog.at_level(logging.INFO, logger="modelmarket.request"):
        response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})

    [line] = request_log_lines(caplog)
    assert response["X-Request-ID"] == "abc-123"
    assert line["request_id"] == "abc-123"
    assert line["user_id"] == buyer.pk
    assert line["method"] == "GET"
    assert line["path"] == "/healthz"
    assert line["route"] == "healthz"
    assert line["status"] == 200
    assert isinstance(line["latency_ms"], float)
    assert line["latency_ms"] >= 0


def test_anonymous_request_logs_a_null_user(client, caplog):
    with caplog.at_level(logging.INFO, logger="modelmarket.request"):
        client.get("/healthz")

    [line] = request_log_lines(caplog)
    assert line["user_id"] is None


@pytest.mark.parametrize("incoming", [None, "", "has spaces", "x" * 129, "semi;colon"])
def test_a_missing_or_invalid_request_id_is_replaced_by_a_generated_one(client, caplog, incoming):
    headers = {"X-Request-ID": incoming} if incoming is not None else {}
    with caplog.at_level(logging.INFO, logger="modelmarket.request"):
        response = client.get("/healthz", headers=headers)

    generated = response["X-Request-ID"]
    assert generated != incoming
    assert len(generated) == 32
    assert int(generated, 16) >= 0
    [line] = request_log_lines(caplog)
    assert line["request_id"] == generated


def test_log_lines_inside_a_request_carry_its_request_id(client, caplog, monkeypatch):
    from modelmarket.ops import views

    def failing_check():
        raise RuntimeError("down")

    monkeypatch.setattr(views, "_check_jobs", failing_check)
    with caplog.at_level(logging.INFO):
        client.get("/readyz", headers={"X-Request-ID": "trace-me"})

    context_filter = RequestContextFilter()
    warnings = [record for record in caplog.records if record.getMessage() == "readiness check failed"]
    assert len(warnings) == 1
    context_filter.filter(warnings[0])
    assert json.loads(JsonFormatter().format(warnings[0]))["request_id"] == "trace-me"


def test_secret_fields_are_redacted_at_any_depth():
    record = logging.LogRecord("modelmarket.test", logging.INFO, __file__, 1, "login", (), None)
    record.authorization = "Bearer mm_supersecret"
    record.password = "hunter2hunter2"
    record.api_key = "mm_rawkey"
    record.headers = {
        "Authorization": "Bearer mm_nested",
        "Accept": "application/json",
        "Cookie": "sessionid=1",
    }
    record.api_key_id = 42
    record.prompt_tokens = 17

    line = JsonFormatter().format(record)
    entry = json.loads(line)

    for secret in ("mm_supersecret", "hunter2hunter2", "mm_rawkey", "mm_nested", "sessionid=1"):
        assert secret not in line
    assert entry["authorization"] == entry["password"] == entry["api_key"] == "[redacted]"
    assert entry["headers"] == {
        "Authorization": "[redacted]",
        "Accept": "application/json",
        "Cookie": "[redacted]",
    }
    assert (entry["api_key_id"], entry["prompt_tokens"]) == (42, 17)


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("new_password1", True),
        ("client_secret", True),
        ("access_token", True),
        ("X-API-Key", True),
        ("raw_key", True),
        ("sentry_dsn", True),
        ("api_key_id", False),
        ("key_prefix", False),
        ("completion_tokens", False),
        ("latency_ms", False),
        ("email", False),
    ],
)
def test_is_secret_field(name, secret):
    assert is_secret_field(name) is secret

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample line of the Prometheus text format, 0 when absent."""
    wanted = "{" + ",".join(f'{key}="{value}"' for key, value in labels.items()) + "}"
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    assert wanted  # keeps the label string for a readable failure when debugging
    return 0.0


def test_metrics_count_requests_by_method_route_and_status_for_a_local_scraper(client):
    before = sample(
        client.get("/metrics").content.decode(), "modelmarket_http_requests_total", route="healthz"
    )

    client.get("/healthz")
    client.get("/healthz")
    response = client.get("/metrics")

    text = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    labels = {"method": "GET", "route": "healthz", "status": "200"}
    assert sample(text, "modelmarket_http_requests_total", **labels) == before + 2
    assert sample(text, "modelmarket_http_request_duration_seconds_count", **labels) == before + 2
    assert 'le="0.005"' in text


def test_unmatched_paths_share_one_route_label(client):
    client.get("/no/such/page/12345")
    text = client.get("/metrics").content.decode()
    assert "/no/such/page" not in text
    assert sample(text, "modelmarket_http_requests_total", route="unmatched", status="404") >= 1


def test_metrics_are_hidden_from_remote_anonymous_callers():
    response = Client(REMOTE_ADDR="203.0.113.7").get("/metrics")
    assert response.status_code == 404
    assert b"modelmarket_http_requests" not in response.content


def test_metrics_are_hidden_from_requests_relayed_by_a_local_proxy():
    response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.status_code == 404


def test_metrics_are_hidden_from_remote_buyers(buyer):
    client = Client(REMOTE_ADDR="203.0.113.7")
    client.force_login(buyer)
    assert client.get("/metrics").status_code == 404


def test_metrics_are_shown_to_remote_staff(admin_user):
    client = Client(REMOTE_ADDR="203.0.113.7")
    client.force_login(admin_user)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"modelmarket_http_requests_total" in response.content

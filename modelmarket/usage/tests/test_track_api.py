from __future__ import annotations

from datetime import timedelta
from datetime import timezone as dt_timezone

import pytest
from django.test import Client
from django.utils import timezone

from modelmarket.accounts.tests.factories import make_user
from modelmarket.catalog.vocabulary import ModelStatus
from modelmarket.usage.models import ModelBuyerDays, ModelUsageDaily, UsageDaily, UsageEvent
from modelmarket.usage.tests.factories import AIModelFactory, ModelVersionFactory

pytestmark = pytest.mark.django_db
JSON = "application/json"
URL = "/api/v1/usage/track"


def _event(event_id: str = "call-1", **fields):
    return {
        "event_id": event_id,
        "status": "succeeded",
        "started_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        "latency_ms": 250,
        "input_tokens": 12,
        "output_tokens": 34,
        **fields,
    }


def _post(client, model_slug, events):
    return client.post(URL, {"model": model_slug, "events": events}, content_type=JSON)


def test_a_creator_reports_calls_of_their_listing(creator, api_client_for):
    model = AIModelFactory(creator=creator)
    version = ModelVersionFactory(model=model, version="2.0.0")
    client = api_client_for(creator, scopes=("inference",))

    response = _post(client, model.slug, [_event("a"), _event("b", status="timeout", version="2.0.0")])

    assert response.status_code == 200, response.content
    assert response.json() == {"model": model.slug, "received": 2, "recorded": 2, "duplicates": 0}
    events = {event.event_id: event for event in UsageEvent.objects.all()}
    assert set(events) == {"a", "b"}
    assert events["a"].source == "track"
    assert events["a"].user_id is None
    assert events["a"].tokens_reported is True
    assert events["a"].http_status == 200
    assert (events["b"].version_id, events["b"].http_status) == (version.pk, 504)
    daily = ModelUsageDaily.objects.get()
    assert (daily.requests, daily.succeeded, daily.errors, daily.input_tokens) == (2, 1, 1, 24)
    assert not UsageDaily.objects.exists()  # no buyer: nobody's own usage
    assert not ModelBuyerDays.objects.exists()
    model.refresh_from_db()
    assert model.call_count == 0


def test_resending_the_same_events_counts_them_once(creator, api_client_for):
    model = AIModelFactory(creator=creator)
    client = api_client_for(creator, scopes=("inference",))
    a, b = _event("a"), _event("b")
    assert _post(client, model.slug, [a]).json()["recorded"] == 1

    response = _post(client, model.slug, [a, b, b])

    assert response.json() == {"model": model.slug, "received": 3, "recorded": 1, "duplicates": 2}
    assert ModelUsageDaily.objects.get().requests == 2


def test_an_event_is_its_id_with_its_start_time(creator, api_client_for):
    model = AIModelFactory(creator=creator)
    client = api_client_for(creator, scopes=("inference",))
    at = timezone.now() - timedelta(hours=1)
    same_instant_elsewhere = at.astimezone(dt_timezone(timedelta(hours=2))).isoformat()
    first = _post(client, model.slug, [_event("a", started_at=at.isoformat())])
    resent = _post(client, model.slug, [_event("a", started_at=same_instant_elsewhere)])
    later = _post(client, model.slug, [_event("a", started_at=(at + timedelta(seconds=1)).isoformat())])
    assert [r.json()["recorded"] for r in (first, resent, later)] == [1, 0, 1]


def test_two_creators_may_use_the_same_event_ids(api_client_for):
    first, second = make_user("creator"), make_user("creator")
    for owner in (first, second):
        model = AIModelFactory(creator=owner)
        response = _post(api_client_for(owner, scopes=("inference",)), model.slug, [_event("shared-id")])
        assert response.json()["recorded"] == 1
    assert UsageEvent.objects.count() == 2


def test_drafts_can_be_tracked_by_their_creator(creator, api_client_for):
    model = AIModelFactory(creator=creator, status=ModelStatus.DRAFT, published_at=None)
    assert _post(api_client_for(creator, scopes=("inference",)), model.slug, [_event()]).status_code == 200


def test_catalog_staff_may_report_for_any_listing(admin_user, api_client_for):
    model = AIModelFactory()
    assert _post(api_client_for(admin_user, scopes=("inference",)), model.slug, [_event()]).status_code == 200


@pytest.mark.parametrize(
    ("whose", "status", "code"),
    [
        ("someone_elses_public", 403, "not_model_owner"),
        ("someone_elses_draft", 404, "model_not_found"),
        ("missing", 404, "model_not_found"),
        ("own_deleted", 404, "model_not_found"),
    ],
)
def test_only_the_listings_creator_may_report(creator, api_client_for, whose, status, code):
    slug = {
        "someone_elses_public": lambda: AIModelFactory().slug,
        "someone_elses_draft": lambda: AIModelFactory(status=ModelStatus.DRAFT, published_at=None).slug,
        "missing": lambda: "no-such-model",
        "own_deleted": lambda: AIModelFactory(creator=creator, deleted_at=timezone.now()).slug,
    }[whose]()

    response = _post(api_client_for(creator, scopes=("inference",)), slug, [_event()])

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not UsageEvent.objects.exists()


def test_a_key_without_the_inference_scope_is_refused(creator, api_client_for):
    model = AIModelFactory(creator=creator)
    response = _post(api_client_for(creator, scopes=("read", "manage")), model.slug, [_event()])
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert not UsageEvent.objects.exists()


def test_the_browser_session_cannot_report(creator):
    model = AIModelFactory(creator=creator)
    client = Client()
    client.force_login(creator)
    response = _post(client, model.slug, [_event()])
    assert response.status_code == 401
    assert not UsageEvent.objects.exists()


def _in(**delta):
    return (timezone.now() + timedelta(**delta)).isoformat()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"event_id": ""}, "invalid_event_id"),
        ({"event_id": "x" * 101}, "invalid_event_id"),
        ({"event_id": "line\nbreak"}, "invalid_event_id"),
        ({"status": "exploded"}, "invalid_status"),
        ({"input_tokens": -1}, "invalid_tokens"),
        ({"output_tokens": 10**12}, "invalid_tokens"),
        ({"latency_ms": -1}, "invalid_latency"),
        ({"latency_ms": 3_600_001}, "invalid_latency"),
        ({"compute_ms": -5}, "invalid_latency"),
        ({"latency_ms": 100, "ttfb_ms": 200}, "invalid_latency"),
        ({"http_status": 42}, "invalid_http_status"),
        ({"started_at": _in(hours=1)}, "timestamp_in_future"),
        ({"started_at": _in(days=-8)}, "timestamp_too_old"),
        ({"started_at": "2026-01-01T10:00:00"}, "timestamp_without_timezone"),
        ({"version": "9.9.9"}, "unknown_version"),
        ({"started_at": "yesterday"}, "validation_error"),
        ({"latency_ms": "fast"}, "validation_error"),
        ({"colour": "blue"}, "validation_error"),
    ],
)
def test_invalid_events_are_refused_with_a_stable_code_and_nothing_is_written(
    creator, api_client_for, fields, code
):
    model = AIModelFactory(creator=creator)
    response = _post(
        api_client_for(creator, scopes=("inference",)),
        model.slug,
        [_event("fine"), {**_event("bad"), **fields}],
    )
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == code
    if code != "validation_error":
        assert error["details"]["index"] == 1
    assert not UsageEvent.objects.exists()
    assert not ModelUsageDaily.objects.exists()


@pytest.mark.parametrize("events", [[], [_event(str(n)) for n in range(1001)]])
def test_a_batch_holds_one_to_a_thousand_events(creator, api_client_for, events):
    model = AIModelFactory(creator=creator)
    response = _post(api_client_for(creator, scopes=("inference",)), model.slug, events)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert not UsageEvent.objects.exists()

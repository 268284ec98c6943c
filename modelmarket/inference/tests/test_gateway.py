"""The gateway end to end, in process: Starlette's TestClient runs the real application (lifespan, caches, limits,
metering) against the test database; the demo catalog's ONNX models run for real; OpenAI-compatible upstreams are
the loopback fakes in `upstreams.py`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from modelmarket.accounts.services import api_key_revoke
from modelmarket.catalog.demo.loader import demo_catalog_load
from modelmarket.catalog.models import AIModel
from modelmarket.catalog.services.models import model_create, model_publish, version_create, version_publish
from modelmarket.inference.gateway.app import build_app
from modelmarket.inference.tests.listings import published_listing
from modelmarket.usage.models import UsageEvent

IRIS = "iris-species-classifier"
SETOSA = {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}


@pytest.fixture
def demo(transactional_db: Any, creator: Any) -> Any:
    demo_catalog_load(uploader=creator)
    return creator


@pytest.fixture
def gateway(transactional_db: Any) -> Iterator[TestClient]:
    with TestClient(build_app(), base_url="http://testserver") as client:
        yield client


def _auth(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def test_native_call_runs_the_onnx_model_meters_it_and_says_who_served_it(demo, buyer, api_key_for):
    raw = api_key_for(buyer)
    with TestClient(build_app()) as gateway:
        response = gateway.post(
            f"/api/v1/models/{IRIS}/inference", json={"input": SETOSA}, headers=_auth(raw)
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == IRIS
    assert body["provider"] == "local_onnx"
    assert body["output"]["label"] == "setosa"
    assert body["cost"] == {"amount_minor": 0, "currency": "USD"}
    assert response.headers["X-ModelMarket-Provider"] == "local_onnx"
    assert response.headers["X-ModelMarket-Version"] == body["version"]
    assert response.headers["X-ModelMarket-Cost"] == "0 USD"
    assert response.headers["X-RateLimit-Limit"] == "120"
    assert response.headers["X-Request-ID"]
    # The worker wrote its buffered event when it shut down (the TestClient block ended).
    event = UsageEvent.objects.get()
    assert (event.status, event.provider, event.user_id, event.http_status) == (
        "succeeded",
        "local_onnx",
        buyer.pk,
        200,
    )
    assert event.event_id == body["id"]


def test_input_that_does_not_fit_the_schema_is_422_and_metered_as_such(demo, buyer, api_key_for, gateway):
    response = gateway.post(
        f"/api/v1/models/{IRIS}/inference",
        json={"input": {"sepal_length_cm": "long"}},
        headers=_auth(api_key_for(buyer)),
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        ({"inputs": {}}, "validation_error", 422),
        ({"input": {}, "version": "9.9.9"}, "version_not_found", 404),
        ("not json", "malformed_json", 400),
    ],
)
def test_bad_requests_get_clear_codes(demo, buyer, api_key_for, gateway, body, code, status):
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    response = gateway.post(f"/api/v1/models/{IRIS}/inference", headers=_auth(api_key_for(buyer)), **kwargs)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_callers_without_a_valid_key_or_scope_are_refused(demo, buyer, api_key_for, gateway):
    url = f"/api/v1/models/{IRIS}/inference"
    assert gateway.post(url, json={"input": SETOSA}).json()["error"]["code"] == "not_authenticated"
    assert gateway.post(url, json={"input": SETOSA}, headers=_auth("mm_nope")).status_code == 401
    read_only = api_key_for(buyer, scopes=("read",))
    response = gateway.post(url, json={"input": SETOSA}, headers=_auth(read_only))
    assert (response.status_code, response.json()["error"]["code"]) == (403, "insufficient_scope")
    missing = gateway.post(
        "/api/v1/models/no-such-model/inference", json={"input": 1}, headers=_auth(api_key_for(buyer))
    )
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "model_not_found")


def test_a_revoked_key_stops_working_within_a_second(demo, buyer, api_key_for, gateway):
    from modelmarket.accounts.models import ApiKey

    raw = api_key_for(buyer)
    url = f"/api/v1/models/{IRIS}/inference"
    assert gateway.post(url, json={"input": SETOSA}, headers=_auth(raw)).status_code == 200  # now cached
    api_key_revoke(user=buyer, key_id=ApiKey.objects.get(user=buyer).pk)
    revoked_at = time.monotonic()
    while True:
        response = gateway.post(url, json={"input": SETOSA}, headers=_auth(raw))
        if response.status_code == 401:
            break
        assert time.monotonic() - revoked_at < 1.0, "the revoked key still worked after a second"
        time.sleep(0.05)
    assert response.json()["error"]["code"] == "api_key_revoked"


def test_paid_listings_need_an_entitlement(demo, buyer, api_key_for, gateway):
    AIModel.objects.filter(slug=IRIS).update(pricing="paid")
    response = gateway.post(
        f"/api/v1/models/{IRIS}/inference", json={"input": SETOSA}, headers=_auth(api_key_for(buyer))
    )
    assert (response.status_code, response.json()["error"]["code"]) == (402, "entitlement_required")


def test_the_free_tier_quota_answers_402_once_used_up(demo, buyer, api_key_for, settings):
    settings.GATEWAY_FREE_REQUESTS_PER_DAY = 3
    raw = api_key_for(buyer)
    with TestClient(build_app()) as gateway:
        statuses = [
            gateway.post(f"/api/v1/models/{IRIS}/inference", json={"input": SETOSA}, headers=_auth(raw))
            for _ in range(5)
        ]
    assert [response.status_code for response in statuses] == [200, 200, 200, 402, 402]
    assert statuses[-1].json()["error"]["code"] == "request_quota_exhausted"
    assert sorted(UsageEvent.objects.values_list("status", flat=True)) == ["rejected"] * 2 + ["succeeded"] * 3


def test_unknown_gateway_paths_answer_in_the_envelope(gateway):
    response = gateway.get("/api/v1/inference/not-a-uuid/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert gateway.get("/v1/chat/completions").json()["error"]["type"] == "invalid_request_error"


# --- OpenAI-compatible --------------------------------------------------------------------------------------------
@pytest.fixture
def chat_listing(transactional_db: Any, creator: Any, settings: Any) -> Iterator[tuple[str, Any]]:
    from modelmarket.inference.tests.upstreams import FakeUpstreamThread

    settings.GATEWAY_ALLOWED_UPSTREAM_HOSTS = ["127.0.0.1"]
    with FakeUpstreamThread() as upstream:
        model = published_listing(
            creator,
            name="Echo chat",
            task="chat",
            source="openai_compatible",
            endpoint_url=upstream.base_url,
            runtime={"provider": "openai_compatible", "model_id": "echo-1", "base_url": upstream.base_url},
        )
        yield model.slug, upstream


def _openai_client(gateway: TestClient, raw: str) -> Any:
    import openai

    # The official package, unchanged: only its HTTP client is the in-process transport to the gateway.
    return openai.OpenAI(api_key=raw, base_url="http://testserver/v1", http_client=gateway, max_retries=0)


def test_the_official_openai_client_lists_completes_and_streams(chat_listing, buyer, api_key_for):
    slug, upstream = chat_listing
    raw = api_key_for(buyer)
    with TestClient(build_app()) as gateway:
        client = _openai_client(gateway, raw)
        assert slug in [model.id for model in client.models.list()]
        completion = client.chat.completions.create(
            model=slug, messages=[{"role": "user", "content": "Hi there"}]
        )
        assert completion.model == slug
        assert completion.choices[0].message.content
        assert (
            completion.usage.total_tokens
            == completion.usage.prompt_tokens + completion.usage.completion_tokens
        )
        chunks = list(
            client.chat.completions.create(
                model=slug,
                messages=[{"role": "user", "content": "Tell me more"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
        assert streamed
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens > 0
        without_usage = list(
            client.chat.completions.create(
                model=slug, messages=[{"role": "user", "content": "Again"}], stream=True
            )
        )
        assert all(chunk.usage is None for chunk in without_usage)
    # Every call metered, streams included, with the upstream's own token counts.
    events = list(UsageEvent.objects.order_by("id"))
    assert [event.status for event in events] == ["succeeded"] * 3
    assert [event.stream for event in events] == [False, True, True]
    assert all(event.output_tokens > 0 and event.tokens_reported for event in events)
    assert upstream.last_body["stream_options"] == {
        "include_usage": True
    }  # asked even when the client did not


def test_a_retryable_upstream_failure_is_retried(chat_listing, buyer, api_key_for):
    slug, upstream = chat_listing
    upstream.fail_next(503)
    with TestClient(build_app()) as gateway:
        response = gateway.post(
            "/v1/chat/completions",
            json={"model": slug, "messages": [{"role": "user", "content": "Hi"}]},
            headers=_auth(api_key_for(buyer)),
        )
    assert response.status_code == 200, response.text
    assert upstream.request_count == 2


def test_an_upstream_that_hangs_answers_504_in_openais_shape(chat_listing, buyer, api_key_for, settings):
    slug, upstream = chat_listing
    settings.GATEWAY_TIMEOUT_SECONDS = 1
    upstream.fail_next("hang")
    with TestClient(build_app()) as gateway:
        response = gateway.post(
            "/v1/chat/completions",
            json={"model": slug, "messages": [{"role": "user", "content": "Hi"}]},
            headers=_auth(api_key_for(buyer)),
        )
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert response.json()["error"]["type"] == "api_error"
    assert UsageEvent.objects.get().status == "timeout"


def test_openai_errors_use_openais_shape(chat_listing, buyer, api_key_for, gateway):
    slug, _ = chat_listing
    response = gateway.post(
        "/v1/chat/completions", json={"model": slug, "messages": []}, headers=_auth(api_key_for(buyer))
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "validation_error",
        "messages",
    )
    unknown = gateway.post(
        "/v1/chat/completions",
        json={"model": "nope", "messages": [{"role": "user", "content": "x"}]},
        headers=_auth(api_key_for(buyer)),
    )
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "model_not_found")


def test_a_creators_upstream_secret_is_used_for_calls_and_never_shown(
    transactional_db, creator, buyer, api_key_for, settings
):
    from conftest import ApiClient
    from modelmarket.inference.models import ListingGatewayConfig
    from modelmarket.inference.tests.upstreams import FakeUpstreamThread, fake_openai_upstream

    settings.GATEWAY_ALLOWED_UPSTREAM_HOSTS = ["127.0.0.1"]
    with FakeUpstreamThread(fake_openai_upstream, api_key="sk-creator-secret-f00d") as upstream:
        model = published_listing(
            creator,
            name="Private chat",
            task="chat",
            source="openai_compatible",
            endpoint_url=upstream.base_url,
            runtime={"provider": "openai_compatible", "model_id": "echo-1", "base_url": upstream.base_url},
        )
        chat = {"model": model.slug, "messages": [{"role": "user", "content": "Hi"}]}
        with TestClient(build_app()) as gateway:
            refused = gateway.post("/v1/chat/completions", json=chat, headers=_auth(api_key_for(buyer)))
            assert (refused.status_code, refused.json()["error"]["code"]) == (502, "upstream_rejected")

            owner = ApiClient(api_key_for(creator))
            response = owner.put(
                f"/api/v1/models/{model.slug}/gateway",
                data={"secret": "sk-creator-secret-f00d", "timeout_seconds": 30},
                content_type="application/json",
            )
            assert response.status_code == 200, response.content
            assert response.json() == {
                "model": model.slug,
                "secret_set": True,
                "secret_hint": "…f00d",
                "fallback_version": None,
                "timeout_seconds": 30,
            }
            assert b"sk-creator-secret" not in owner.get(f"/api/v1/models/{model.slug}/gateway").content
            assert b"sk-creator-secret" not in bytes(ListingGatewayConfig.objects.get().secret_encrypted)
            someone_else = ApiClient(api_key_for(buyer)).put(
                f"/api/v1/models/{model.slug}/gateway",
                data={"clear_secret": True},
                content_type="application/json",
            )
            assert someone_else.status_code == 403

            deadline = time.monotonic() + 2  # the change reaches the worker's cache through the generation
            while (
                answer := gateway.post("/v1/chat/completions", json=chat, headers=_auth(api_key_for(buyer)))
            ).status_code != 200:
                assert time.monotonic() < deadline, answer.text
                time.sleep(0.05)
        assert upstream.last_headers["Authorization"] == "Bearer sk-creator-secret-f00d"


# --- A client that leaves mid-stream --------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_a_client_leaving_mid_stream_cancels_upstream_and_pays_for_what_it_got(
    chat_listing, buyer, api_key_for
):
    import asyncio
    import json

    from asgiref.sync import sync_to_async

    slug, upstream = chat_listing
    upstream.fail_next("stall", after_chunks=3)  # three chunks, then keep-alives until the client leaves
    raw = await sync_to_async(api_key_for)(buyer)
    body = json.dumps(
        {"model": slug, "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    ).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {raw}".encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    request_sent, leave = False, asyncio.Event()
    frames: list[bytes] = []

    async def receive() -> dict:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await leave.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            frames.append(message["body"])
            if sum(frame.count(b'"content"') for frame in frames) >= 2:
                leave.set()  # the client goes away after two pieces of the answer

    app = build_app()
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app(scope, receive, send), timeout=10)
        assert await upstream.wait_for_disconnect(timeout=5), "the upstream request was not cancelled"
    event = await sync_to_async(UsageEvent.objects.get)()
    assert event.status == "client_disconnected"
    assert event.stream is True
    assert event.output_tokens > 0  # what was delivered is metered (and would be charged)
    assert b"[DONE]" not in b"".join(frames)


# --- Long jobs (Replicate) ------------------------------------------------------------------------------------------


def test_a_long_job_answers_202_and_is_polled_to_its_end(replicate_listing, buyer, api_key_for):
    slug, _ = replicate_listing
    headers = _auth(api_key_for(buyer))
    with TestClient(build_app()) as gateway:
        accepted = gateway.post(
            f"/api/v1/models/{slug}/inference", json={"input": {"prompt": "a fox"}}, headers=headers
        )
        assert accepted.status_code == 202, accepted.text
        job = accepted.json()
        assert job["status"] in ("starting", "processing")
        assert job["urls"]["get"] == f"/api/v1/inference/{job['id']}"
        deadline = time.monotonic() + 10
        while (state := gateway.get(job["urls"]["get"], headers=headers).json())["status"] != "succeeded":
            assert state["status"] in ("starting", "processing"), state
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert state["output"] == {"images": ["https://example.com/out.png"]}  # the text-to-image task shape
        # Someone else's job does not exist for them.
        other = gateway.get(job["urls"]["get"], headers=_auth(api_key_for(_other_user())))
        assert other.status_code == 404
    # One usage event for the call, recorded when the job ended, with the provider's compute time.
    event = UsageEvent.objects.get()
    assert (event.event_id, event.status, event.provider) == (
        job["id"] and event.event_id,
        "succeeded",
        "replicate",
    )
    assert event.compute_ms > 0


def test_unfinished_jobs_are_followed_by_the_poll_job_and_expired_ones_cancelled(
    replicate_listing, buyer, api_key_for, settings
):
    from modelmarket.inference.models import InferenceJob
    from modelmarket.inference.tasks import inference_jobs_poll

    slug, fake = replicate_listing
    headers = _auth(api_key_for(buyer))
    with TestClient(build_app()) as gateway:
        first = gateway.post(
            f"/api/v1/models/{slug}/inference", json={"input": {"prompt": "a"}}, headers=headers
        )
        time.sleep(1.6)  # the first prediction finishes upstream; nobody asks
        second = gateway.post(
            f"/api/v1/models/{slug}/inference", json={"input": {"prompt": "b"}}, headers=headers
        )
    assert (first.status_code, second.status_code) == (202, 202)
    InferenceJob.objects.filter(public_id=second.json()["id"]).update(
        created_at=InferenceJob.objects.get(public_id=second.json()["id"]).created_at
        - timedelta(seconds=settings.GATEWAY_JOB_MAX_SECONDS + 1)
    )
    inference_jobs_poll.call_local()
    statuses = dict(InferenceJob.objects.values_list("public_id", "status"))
    assert statuses[uuid.UUID(first.json()["id"])] == "succeeded"
    assert statuses[uuid.UUID(second.json()["id"])] == "canceled"
    assert len(fake.canceled) == 1
    assert sorted(UsageEvent.objects.values_list("status", flat=True)) == ["client_disconnected", "succeeded"]
    inference_jobs_poll.call_local()  # nothing left to do, nothing recorded twice
    assert UsageEvent.objects.count() == 2


def test_a_long_job_can_be_cancelled(replicate_listing, buyer, api_key_for):
    slug, fake = replicate_listing
    headers = _auth(api_key_for(buyer))
    with TestClient(build_app()) as gateway:
        job = gateway.post(
            f"/api/v1/models/{slug}/inference", json={"input": {"prompt": "a fox"}}, headers=headers
        ).json()
        cancelled = gateway.post(job["urls"]["cancel"], headers=headers)
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "canceled"
        assert gateway.get(job["urls"]["get"], headers=headers).json()["status"] == "canceled"
    assert len(fake.canceled) == 1


def _other_user() -> Any:
    from modelmarket.accounts.tests.factories import make_user

    return make_user("buyer")


def test_a_failing_version_falls_back_to_the_listings_fallback_and_says_so(
    transactional_db, creator, buyer, api_key_for, settings
):
    from modelmarket.catalog.services.models import version_set_default
    from modelmarket.inference.services import listing_gateway_config_set
    from modelmarket.inference.tests.upstreams import FakeUpstreamThread

    settings.GATEWAY_ALLOWED_UPSTREAM_HOSTS = ["127.0.0.1"]
    with FakeUpstreamThread() as broken, FakeUpstreamThread(reply="from the fallback") as healthy:
        broken.fail_next(503, times=10)
        model = model_create(
            actor=creator,
            name="Two servers",
            task="chat",
            license="mit",
            source="openai_compatible",
            endpoint_url=healthy.base_url,
        )
        old = version_create(
            actor=creator,
            model=model,
            version="1.0.0",
            runtime={"provider": "openai_compatible", "model_id": "echo-1", "base_url": healthy.base_url},
        )
        new = version_create(
            actor=creator,
            model=model,
            version="2.0.0",
            runtime={"provider": "openai_compatible", "model_id": "echo-2", "base_url": broken.base_url},
        )
        old = version_publish(actor=creator, version=old)
        new = version_publish(actor=creator, version=new)
        version_set_default(actor=creator, version=new)
        model_publish(actor=creator, model=model)
        listing_gateway_config_set(model=model, fallback_version="1.0.0")
        with TestClient(build_app()) as gateway:
            response = gateway.post(
                "/v1/chat/completions",
                json={"model": model.slug, "messages": [{"role": "user", "content": "Hi"}]},
                headers=_auth(api_key_for(buyer)),
            )
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "from the fallback"
        assert response.headers["X-ModelMarket-Fallback"] == "true"
        assert response.headers["X-ModelMarket-Version"] == "1.0.0"
        assert broken.request_count == 3  # the default version was tried (and retried) first
    event = UsageEvent.objects.get()
    assert (event.status, event.version_id) == ("succeeded", old.pk)


def test_a_hugging_face_task_model_answers_in_the_tasks_shape(
    transactional_db, creator, buyer, api_key_for, settings
):
    from modelmarket.inference.tests.upstreams import FakeUpstreamThread, fake_huggingface_upstream

    answer = [[{"label": "NEGATIVE", "score": 0.02}, {"label": "POSITIVE", "score": 0.98}]]
    settings.GATEWAY_ALLOWED_UPSTREAM_HOSTS = ["127.0.0.1"]
    with FakeUpstreamThread(fake_huggingface_upstream, task_answers={"acme/sentiment": answer}) as hub:
        settings.HUGGINGFACE_INFERENCE_BASE = hub.url
        settings.HUGGINGFACE_TOKEN = "hf_platform"
        model = published_listing(
            creator,
            name="Sentiment",
            task="text-classification",
            source="huggingface",
            external_id="acme/sentiment",
            input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
            runtime={"provider": "huggingface", "model_id": "acme/sentiment"},
        )
        with TestClient(build_app()) as gateway:
            response = gateway.post(
                f"/api/v1/models/{model.slug}/inference",
                json={"input": {"text": "What a lovely day"}},
                headers=_auth(api_key_for(buyer)),
            )
        assert response.status_code == 200, response.text
        assert response.json()["output"] == {
            "labels": [{"label": "POSITIVE", "score": 0.98}, {"label": "NEGATIVE", "score": 0.02}]
        }
        assert hub.last_body == {"inputs": "What a lovely day", "parameters": {}}
        assert hub.last_headers["Authorization"] == "Bearer hf_platform"


def test_the_token_quota_counts_what_calls_used_and_then_refuses(chat_listing, buyer, api_key_for, settings):
    slug, _ = chat_listing
    settings.GATEWAY_FREE_TOKENS_PER_DAY = (
        5  # the fake answers "Hello! How can I help?" and more: one call is over
    )
    chat = {"model": slug, "messages": [{"role": "user", "content": "Hi there"}]}
    headers = _auth(api_key_for(buyer))
    with TestClient(build_app()) as gateway:
        assert gateway.post("/v1/chat/completions", json=chat, headers=headers).status_code == 200
        deadline = time.monotonic() + 2  # the call's tokens are counted right after it answered
        while (
            refused := gateway.post("/v1/chat/completions", json=chat, headers=headers)
        ).status_code == 200:
            assert time.monotonic() < deadline, "the token quota never applied"
            time.sleep(0.05)
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "token_quota_exhausted"
    assert refused.json()["error"]["type"] == "insufficient_quota"


def test_presenting_made_up_keys_is_rate_limited_per_address(transactional_db, settings):
    settings.API_ANONYMOUS_REQUESTS_PER_MINUTE = 3
    with TestClient(build_app()) as gateway:
        statuses = [
            gateway.post(
                f"/api/v1/models/{IRIS}/inference", json={"input": {}}, headers=_auth(f"mm_guess{n}")
            ).status_code
            for n in range(5)
        ]
    assert statuses == [401, 401, 401, 429, 429]


def test_a_user_disabled_in_the_admin_loses_the_gateway_within_a_second(demo, buyer, api_key_for, gateway):
    raw = api_key_for(buyer)
    url = f"/api/v1/models/{IRIS}/inference"
    assert gateway.post(url, json={"input": SETOSA}, headers=_auth(raw)).status_code == 200
    buyer.is_active = False
    buyer.save()  # as the admin does: a plain save, no service
    deadline = time.monotonic() + 1
    while (response := gateway.post(url, json={"input": SETOSA}, headers=_auth(raw))).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert response.json()["error"]["code"] == "account_disabled"

"""The Replicate provider against a fake Replicate server (upstreams_replicate.py) on loopback."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from modelmarket.inference.providers._http import UpstreamBadRequest
from modelmarket.inference.providers.base import (
    CallContext,
    InferenceCall,
    JobRef,
    ProviderError,
    Target,
    UpstreamBadResponse,
    UpstreamFailed,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    Usage,
    count_tokens,
)
from modelmarket.inference.providers.replicate import ReplicateProvider
from modelmarket.inference.tests.upstreams_replicate import (
    DEFAULT_VERSION_ID,
    REPLICATE_TEST_TOKEN,
    FakeReplicate,
    ModelScript,
    serve_in_thread,
)

pytestmark = pytest.mark.anyio
MODEL = "acme/llm"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def fake(settings):
    fake = FakeReplicate()
    async with fake.serving() as base_url:
        settings.REPLICATE_API_BASE = base_url
        yield fake


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as session:
        yield session


def make_target(*, version_id: str = "", credential: str | None = None, **target_fields) -> Target:
    runtime = {"provider": "replicate", "model_id": MODEL}
    if version_id:
        runtime["version_id"] = version_id
    return Target(
        model_id=1,
        slug="acme-llm",
        creator_id=1,
        task="text-generation",
        version_id=1,
        version="1.0",
        provider="replicate",
        runtime=runtime,
        credential=credential,
        **target_fields,
    )


def make_context(session, *, seconds: float = 10.0, token: str | None = REPLICATE_TEST_TOKEN) -> CallContext:
    return CallContext(
        session=session,
        deadline=time.monotonic() + seconds,
        request_id="req-1",
        platform_credentials={"replicate": token} if token else {},
    )


async def collect_deltas(target, call, ctx, deltas):
    async for chunk in ReplicateProvider().infer_stream(target, call, ctx):
        deltas.append(chunk.delta)


def creates(fake: FakeReplicate):
    return [request for request in fake.requests if request.path.endswith("/predictions")]


# --- infer ----------------------------------------------------------------------------------------------------------
async def test_quick_prediction_answers_output_with_reported_usage_and_compute_from_predict_time(
    fake, session
):
    fake.add_model(MODEL, ModelScript(duration_seconds=0.05, token_counts=(7, 4)))

    result = await ReplicateProvider().infer(make_target(), InferenceCall(input="Hi"), make_context(session))

    assert result.output == ["Hello", ",", " world", "!"]
    assert result.usage == Usage(input_tokens=7, output_tokens=4, compute_ms=50, reported=True)
    assert result.job is None
    assert result.upstream_request_id == fake.created[0]
    [create] = creates(fake)
    assert (create.method, create.path) == ("POST", f"/v1/models/{MODEL}/predictions")
    assert create.body == {"input": {"prompt": "Hi"}}
    assert create.headers["Prefer"] == "wait=9"
    assert create.headers["Authorization"] == f"Bearer {REPLICATE_TEST_TOKEN}"


async def test_version_id_creates_through_predictions_and_counts_tokens_without_metrics(fake, session):
    fake.add_model(MODEL, ModelScript(output=["Hello", " there"]))
    call = InferenceCall(input={"prompt": "Say hello", "max_tokens": 5}, parameters={"temperature": 0.1})

    result = await ReplicateProvider().infer(
        make_target(version_id=DEFAULT_VERSION_ID), call, make_context(session)
    )

    [create] = creates(fake)
    assert create.path == "/v1/predictions"
    assert create.body == {
        "version": DEFAULT_VERSION_ID,
        "input": {"temperature": 0.1, "prompt": "Say hello", "max_tokens": 5},
    }
    assert result.usage == Usage(
        input_tokens=count_tokens("Say hello"), output_tokens=count_tokens("Hello there"), reported=False
    )


async def test_chat_messages_as_native_input_become_prompt_and_system_prompt(fake, session):
    fake.add_model(MODEL)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]

    await ReplicateProvider().infer(make_target(), InferenceCall(input=messages), make_context(session))

    assert creates(fake)[0].body == {"input": {"prompt": "Hi", "system_prompt": "Be brief."}}


async def test_failed_prediction_raises_upstream_failed_with_its_error(fake, session):
    fake.add_model(MODEL, ModelScript(error="CUDA out of memory"))

    with pytest.raises(UpstreamFailed, match="CUDA out of memory"):
        await ReplicateProvider().infer(make_target(), InferenceCall(input="Hi"), make_context(session))


async def test_long_prediction_returns_a_job_whose_status_progresses_to_succeeded(fake, session):
    fake.wait_limit_seconds = 0.1
    fake.add_model(MODEL, ModelScript(boot_seconds=0.3, duration_seconds=0.4, token_counts=(3, 4)))
    provider, target, ctx = ReplicateProvider(), make_target(), make_context(session)

    result = await provider.infer(target, InferenceCall(input="Hi"), ctx)

    assert result.output is None
    assert result.usage == Usage()
    assert result.job == JobRef(
        provider_job_id=fake.created[0],
        status="starting",
        urls={
            "get": f"{fake.base_url}/v1/predictions/{fake.created[0]}",
            "cancel": f"{fake.base_url}/v1/predictions/{fake.created[0]}/cancel",
            "stream": f"{fake.base_url}/v1/streams/{fake.created[0]}",
        },
    )
    statuses = []
    while not statuses or statuses[-1].status in ("starting", "processing"):
        await asyncio.sleep(0.05)
        statuses.append(await provider.job_status(target, result.job, ctx))
    assert {status.status for status in statuses} >= {"processing", "succeeded"}
    assert statuses[-1].output == ["Hello", ",", " world", "!"]
    assert statuses[-1].error is None
    assert statuses[-1].usage == Usage(input_tokens=3, output_tokens=4, compute_ms=400, reported=True)
    assert fake.canceled == []


async def test_job_cancel_cancels_the_prediction(fake, session):
    fake.wait_limit_seconds = 0.1
    fake.add_model(MODEL, ModelScript(duration_seconds=30))
    provider, target, ctx = ReplicateProvider(), make_target(), make_context(session)
    result = await provider.infer(target, InferenceCall(input="Hi"), ctx)
    assert result.job is not None

    status = await provider.job_cancel(target, result.job, ctx)

    assert status.status == "canceled"
    assert fake.canceled == [result.job.provider_job_id]
    assert fake.requests[-1].path == f"/v1/predictions/{result.job.provider_job_id}/cancel"


# --- chat -----------------------------------------------------------------------------------------------------------
async def test_chat_polls_until_the_prediction_succeeds(fake, session):
    fake.wait_limit_seconds = 0.1
    fake.add_model(MODEL, ModelScript(duration_seconds=0.6, token_counts=(12, 4)))
    body = {
        "model": "acme-llm",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "max_tokens": 50,
        "temperature": 0.2,
        "stop": ["\n\n"],
    }

    completion = await ReplicateProvider().chat(make_target(), body, make_context(session))

    prediction_id = fake.created[0]
    assert completion == {
        "id": f"chatcmpl-{prediction_id}",
        "object": "chat.completion",
        "created": completion["created"],
        "model": "acme-llm",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello, world!"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16},
    }
    assert creates(fake)[0].body == {
        "input": {
            "prompt": "Hi",
            "system_prompt": "Be brief.",
            "max_tokens": 50,
            "temperature": 0.2,
            "stop_sequences": "\n\n",
        }
    }
    polls = [request for request in fake.requests if request.method == "GET"]
    assert len(polls) >= 2
    assert {request.path for request in polls} == {f"/v1/predictions/{prediction_id}"}


async def test_chat_names_inputs_as_the_version_schema_lists_them(fake, session):
    fake.add_model(MODEL)
    target = make_target(input_schema={"type": "object", "properties": {"prompt": {}, "max_new_tokens": {}}})
    body = {
        "model": "acme-llm",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": [{"type": "text", "text": "How are you?"}]},
        ],
        "max_tokens": 50,
        "temperature": 0.2,
    }

    await ReplicateProvider().chat(target, body, make_context(session))

    assert creates(fake)[0].body == {
        "input": {
            "prompt": "Be brief.\n\nUser: Hi\n\nAssistant: Hello!\n\nUser: How are you?\n\nAssistant:",
            "max_new_tokens": 50,
        }
    }


async def test_chat_past_the_deadline_cancels_the_prediction_and_times_out(fake, session):
    fake.add_model(MODEL, ModelScript(duration_seconds=30))
    body = {"model": "acme-llm", "messages": [{"role": "user", "content": "Hi"}]}

    with pytest.raises(UpstreamTimeout):
        await ReplicateProvider().chat(make_target(), body, make_context(session, seconds=1.6))

    prediction_id = fake.created[0]
    assert creates(fake)[0].headers["Prefer"] == "wait=1"
    assert fake.canceled == [prediction_id]
    assert fake.predictions[prediction_id].status() == "canceled"


# --- streams --------------------------------------------------------------------------------------------------------
async def test_chat_stream_yields_deltas_then_a_usage_chunk(fake, session):
    fake.add_model(MODEL, ModelScript(duration_seconds=0.2, token_counts=(5, 4)))
    body = {"model": "acme-llm", "messages": [{"role": "user", "content": "Hi"}], "stream": True}

    chunks = [
        chunk async for chunk in ReplicateProvider().chat_stream(make_target(), body, make_context(session))
    ]

    prediction_id = fake.created[0]
    head = {"id": f"chatcmpl-{prediction_id}", "object": "chat.completion.chunk", "model": "acme-llm"}
    assert [{key: chunk[key] for key in head} for chunk in chunks] == [head] * 6
    assert [chunk["choices"] for chunk in chunks] == [
        [{"index": 0, "delta": {"role": "assistant", "content": "Hello"}, "finish_reason": None}],
        [{"index": 0, "delta": {"content": ","}, "finish_reason": None}],
        [{"index": 0, "delta": {"content": " world"}, "finish_reason": None}],
        [{"index": 0, "delta": {"content": "!"}, "finish_reason": None}],
        [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        [],
    ]
    assert chunks[-1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
    assert creates(fake)[0].body == {"input": {"prompt": "Hi"}, "stream": True}
    [stream_request] = [request for request in fake.requests if request.path.startswith("/v1/streams/")]
    assert stream_request.headers["Accept"] == "text/event-stream"
    assert fake.canceled == []


async def test_infer_stream_keeps_multiline_pieces_and_counts_usage_without_token_metrics(fake, session):
    fake.add_model(MODEL, ModelScript(output=["line one\nline two", "!"], duration_seconds=0.1))

    chunks = [
        chunk
        async for chunk in ReplicateProvider().infer_stream(
            make_target(), InferenceCall(input="Hi", stream=True), make_context(session)
        )
    ]

    assert [chunk.delta for chunk in chunks] == ["line one\nline two", "!", ""]
    assert chunks[-1].usage == Usage(
        input_tokens=count_tokens("Hi"), output_tokens=count_tokens("line one\nline two!"), compute_ms=100
    )


async def test_client_closing_the_stream_cancels_the_prediction(fake, session):
    fake.add_model(MODEL, ModelScript(output=[f"piece {n} " for n in range(50)], duration_seconds=5))
    stream = ReplicateProvider().infer_stream(make_target(), InferenceCall(input="Hi"), make_context(session))

    first = await anext(stream)
    await stream.aclose()

    assert first.delta == "piece 0 "
    prediction_id = fake.created[0]
    assert fake.canceled == [prediction_id]
    assert fake.predictions[prediction_id].status() == "canceled"


async def test_error_event_raises_upstream_failed_after_the_delivered_deltas(fake, session):
    fake.add_model(MODEL, ModelScript(duration_seconds=0.1, error="CUDA out of memory"))
    deltas = []

    with pytest.raises(UpstreamFailed, match="CUDA out of memory") as raised:
        await collect_deltas(make_target(), InferenceCall(input="Hi"), make_context(session), deltas)

    assert "".join(deltas) == "Hello, world!"
    assert raised.value.details["usage"] == Usage(
        input_tokens=count_tokens("Hi"), output_tokens=count_tokens("Hello, world!")
    )
    assert fake.canceled == []


async def test_stream_cut_before_done_raises_bad_response_with_the_delivered_usage(fake, session):
    fake.add_model(MODEL, ModelScript(duration_seconds=0.2, cut_stream_after=2))
    deltas = []

    with pytest.raises(UpstreamBadResponse) as raised:
        await collect_deltas(make_target(), InferenceCall(input="Hi"), make_context(session), deltas)

    assert deltas == ["Hello", ","]
    assert raised.value.details["usage"] == Usage(
        input_tokens=count_tokens("Hi"), output_tokens=count_tokens("Hello,")
    )
    assert fake.canceled == [fake.created[0]]


# --- errors ---------------------------------------------------------------------------------------------------------
async def test_throttled_create_raises_rate_limited_with_retry_after(fake, session):
    fake.add_model(MODEL)
    fake.throttle_next(7)

    with pytest.raises(UpstreamRateLimited, match="Request was throttled") as raised:
        await ReplicateProvider().infer(make_target(), InferenceCall(input="Hi"), make_context(session))

    assert raised.value.retry_after == 7.0
    assert raised.value.upstream_status == 429
    assert fake.created == []


async def test_invalid_input_raises_bad_request(fake, session):
    fake.add_model(MODEL)

    with pytest.raises(UpstreamBadRequest, match="prompt is required") as raised:
        await ReplicateProvider().infer(
            make_target(), InferenceCall(input={"text": "Hi"}), make_context(session)
        )

    assert (raised.value.status, raised.value.upstream_status) == (400, 422)
    assert fake.created == []


async def test_bad_token_raises_rejected(fake, session):
    fake.add_model(MODEL)

    with pytest.raises(UpstreamRejected) as raised:
        await ReplicateProvider().infer(
            make_target(credential="r8_wrong"), InferenceCall(input="Hi"), make_context(session)
        )

    assert not isinstance(raised.value, UpstreamBadRequest)
    assert (raised.value.status, raised.value.upstream_status) == (502, 401)


async def test_no_token_raises_provider_not_configured(fake, session):
    fake.add_model(MODEL)

    with pytest.raises(ProviderError) as raised:
        await ReplicateProvider().infer(
            make_target(), InferenceCall(input="Hi"), make_context(session, token=None)
        )

    assert (raised.value.code, raised.value.status) == ("provider_not_configured", 503)
    assert "REPLICATE_API_TOKEN" in raised.value.message
    assert fake.requests == []


# --- the fake from a background thread ------------------------------------------------------------------------------
def test_fake_serves_from_a_background_thread(settings):
    fake = FakeReplicate()
    fake.add_model(MODEL, ModelScript(duration_seconds=0.05))

    async def call():
        async with aiohttp.ClientSession() as session:
            return await ReplicateProvider().infer(
                make_target(), InferenceCall(input="Hi"), make_context(session)
            )

    with serve_in_thread(fake) as base_url:
        settings.REPLICATE_API_BASE = base_url
        result = asyncio.run(call())

    assert result.output == ["Hello", ",", " world", "!"]
    assert result.usage.compute_ms == 50

from __future__ import annotations

import time
from contextlib import aclosing

import pytest

from modelmarket.inference.providers import provider_for
from modelmarket.inference.providers._http import UpstreamBadRequest
from modelmarket.inference.providers.base import (
    InferenceCall,
    InvalidInput,
    JobRef,
    NotSupported,
    ProviderError,
    ProviderUnknown,
    StreamChunk,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
    Usage,
)
from modelmarket.inference.providers.huggingface import HuggingFaceProvider
from modelmarket.inference.providers.openai_compat import OpenAICompatibleProvider
from modelmarket.inference.tests.conftest import make_target
from modelmarket.inference.tests.upstreams import FakeUpstreamThread, fake_openai_upstream

pytestmark = pytest.mark.anyio
BODY = {"model": "our-slug", "messages": [{"role": "user", "content": "Say hello to the tests"}]}
REPLY = "Hello from the fake upstream."
# What the fake reports: words of the prompt, pieces of the reply; `count_tokens` gives other numbers.
REPORTED = {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
COUNTED = {"prompt_tokens": 6, "completion_tokens": 8, "total_tokens": 14}


def target_for(upstream, **runtime):
    return make_target(runtime={"model_id": "echo-1", "base_url": upstream.url, **runtime})


async def collect(iterator):
    return [item async for item in iterator]


async def drain_into(delivered, iterator):
    async for item in iterator:
        delivered.append(item)


def reply_text(chunks):
    return "".join(
        choice["delta"].get("content") or ""
        for chunk in chunks
        for choice in chunk["choices"]
        if "delta" in choice
    )


# --- chat -----------------------------------------------------------------------------------------------------------
async def test_chat_forwards_known_fields_with_the_upstream_model_and_returns_the_completion(call_context):
    async with fake_openai_upstream(api_key="sk-creator") as upstream:
        target = make_target(base_url=upstream.url, credential="sk-creator")
        body = {**BODY, "temperature": 0.2, "max_tokens": 50, "stop": ["\n"], "logit_bias": {"1": 5}, "n": 3}
        completion = await OpenAICompatibleProvider().chat(target, body, call_context())

    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"] == {"role": "assistant", "content": REPLY}
    assert completion["usage"] == REPORTED
    assert upstream.last_body == {
        "model": "echo-1",
        "messages": BODY["messages"],
        "temperature": 0.2,
        "max_tokens": 50,
        "stop": ["\n"],
    }
    assert upstream.last_headers["Authorization"] == "Bearer sk-creator"
    assert upstream.last_headers["X-Request-ID"] == "req_test"


async def test_chat_uses_the_runtime_base_url_and_the_platform_credential(call_context):
    async with fake_openai_upstream(api_key="sk-platform") as upstream:
        ctx = call_context(credentials={"openai_compatible": "sk-platform"})
        completion = await OpenAICompatibleProvider().chat(target_for(upstream), BODY, ctx)

    assert completion["choices"][0]["message"]["content"] == REPLY
    assert upstream.requests[-1].path == "/v1/chat/completions"
    assert upstream.last_headers["Authorization"] == "Bearer sk-platform"


async def test_chat_counts_usage_when_the_upstream_sends_none(call_context):
    async with fake_openai_upstream(omit_usage=True) as upstream:
        completion = await OpenAICompatibleProvider().chat(target_for(upstream), BODY, call_context())

    assert completion["usage"] == COUNTED


async def test_chat_without_messages_is_invalid_input_and_sends_nothing(call_context):
    async with fake_openai_upstream() as upstream:
        with pytest.raises(InvalidInput):
            await OpenAICompatibleProvider().chat(target_for(upstream), {"model": "x"}, call_context())

    assert upstream.request_count == 0


async def test_a_listing_without_upstream_url_or_model_is_rejected(call_context):
    provider = OpenAICompatibleProvider()
    with pytest.raises(UpstreamRejected, match="no upstream URL"):
        await provider.chat(make_target(runtime={"model_id": "echo-1"}), BODY, call_context())
    with pytest.raises(UpstreamRejected, match="no upstream model"):
        await provider.chat(make_target(base_url="http://127.0.0.1:1/v1", runtime={}), BODY, call_context())


# --- Upstream failures --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "error_class", "retryable"),
    [
        (502, UpstreamUnavailable, True),
        (503, UpstreamUnavailable, True),
        (500, UpstreamBadResponse, False),
        (401, UpstreamRejected, False),
        (400, UpstreamBadRequest, False),
    ],
)
async def test_upstream_statuses_map_to_provider_errors(call_context, status, error_class, retryable):
    async with fake_openai_upstream() as upstream:
        upstream.fail_next(status)
        with pytest.raises(ProviderError) as raised:
            await OpenAICompatibleProvider().chat(target_for(upstream), BODY, call_context())

    assert type(raised.value) is error_class
    assert raised.value.upstream_status == status
    assert raised.value.retryable is retryable
    assert upstream.request_count == 1


async def test_a_400_is_the_callers_and_carries_the_upstreams_message(call_context):
    async with fake_openai_upstream() as upstream:
        upstream.fail_next(400)
        with pytest.raises(UpstreamBadRequest) as raised:
            await OpenAICompatibleProvider().chat(target_for(upstream), BODY, call_context())

    assert raised.value.status == 400
    assert raised.value.message == "The OpenAI-compatible server answered 400: Invalid value for 'messages'."


async def test_429_is_rate_limited_with_the_upstreams_retry_after(call_context):
    async with fake_openai_upstream() as upstream:
        upstream.fail_next(429, retry_after="7")
        with pytest.raises(UpstreamRateLimited) as raised:
            await OpenAICompatibleProvider().chat(target_for(upstream), BODY, call_context())

    assert raised.value.retry_after == 7.0
    assert raised.value.retryable is True
    assert "Rate limit reached for requests." in raised.value.message


async def test_a_wrong_key_is_401_rejected(call_context):
    async with fake_openai_upstream(api_key="sk-right") as upstream:
        target = make_target(base_url=upstream.url, credential="sk-wrong")
        with pytest.raises(UpstreamRejected) as raised:
            await OpenAICompatibleProvider().chat(target, BODY, call_context())

    assert raised.value.upstream_status == 401
    assert raised.value.status == 502


async def test_a_hanging_upstream_times_out_within_the_deadline_and_the_server_sees_us_leave(call_context):
    async with fake_openai_upstream() as upstream:
        upstream.fail_next("hang")
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            await OpenAICompatibleProvider().chat(target_for(upstream), BODY, call_context(seconds=0.4))
        elapsed = time.monotonic() - started
        assert await upstream.wait_for_disconnect()

    assert 0.35 < elapsed < 1.0


async def test_garbage_is_a_bad_response(call_context):
    async with fake_openai_upstream() as upstream:
        upstream.fail_next("garbage")
        with pytest.raises(UpstreamBadResponse, match="not JSON"):
            await OpenAICompatibleProvider().chat(target_for(upstream), BODY, call_context())


async def test_a_body_cut_short_is_a_bad_response(call_context):
    async with fake_openai_upstream() as upstream:
        upstream.fail_next("cut")
        with pytest.raises(UpstreamBadResponse):
            await OpenAICompatibleProvider().chat(target_for(upstream), BODY, call_context())


async def test_a_refused_connection_is_unavailable(call_context):
    async with fake_openai_upstream() as upstream:
        target = target_for(upstream)
    with pytest.raises(UpstreamUnavailable):
        await OpenAICompatibleProvider().chat(target, BODY, call_context())


async def test_a_large_completion_arriving_in_many_packets_is_read_whole(call_context):
    reply = "word " * 60_000  # 300 kB: many TCP segments
    async with fake_openai_upstream(reply=reply) as upstream:
        completion = await OpenAICompatibleProvider().chat(target_for(upstream), BODY, call_context())

    assert completion["choices"][0]["message"]["content"] == reply


# --- chat_stream ----------------------------------------------------------------------------------------------------
async def test_stream_always_asks_for_usage_and_ends_with_the_upstreams(call_context):
    async with fake_openai_upstream() as upstream:
        chunks = await collect(
            OpenAICompatibleProvider().chat_stream(target_for(upstream), BODY, call_context())
        )

    assert upstream.last_body["stream"] is True
    assert upstream.last_body["stream_options"] == {"include_usage": True}
    assert reply_text(chunks) == REPLY
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == REPORTED
    assert [chunk for chunk in chunks if chunk.get("usage")] == [chunks[-1]]


async def test_stream_without_upstream_usage_ends_with_a_counted_usage_chunk(call_context):
    async with fake_openai_upstream(omit_usage=True) as upstream:
        chunks = await collect(
            OpenAICompatibleProvider().chat_stream(target_for(upstream), BODY, call_context())
        )

    assert reply_text(chunks) == REPLY
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == COUNTED
    assert chunks[-1]["id"] == chunks[0]["id"]
    assert chunks[-1]["model"] == "echo-1"


async def test_stream_skips_keep_alive_comments(call_context):
    async with fake_openai_upstream(keep_alive=True) as upstream:
        chunks = await collect(
            OpenAICompatibleProvider().chat_stream(target_for(upstream), BODY, call_context())
        )

    assert reply_text(chunks) == REPLY
    assert chunks[-1]["usage"] == REPORTED


async def test_a_cut_stream_delivers_its_chunks_then_fails_with_the_counted_usage(call_context):
    async with fake_openai_upstream() as upstream:
        upstream.fail_next("cut", after_chunks=3)
        delivered = []
        with pytest.raises(UpstreamBadResponse) as raised:
            await drain_into(
                delivered, OpenAICompatibleProvider().chat_stream(target_for(upstream), BODY, call_context())
            )

    assert len(delivered) == 3
    assert reply_text(delivered) == "Hello from"
    assert raised.value.details["usage"] == Usage(input_tokens=6, output_tokens=3, reported=False)


async def test_a_stream_that_ends_without_done_fails_after_its_chunks(call_context):
    async with fake_openai_upstream() as upstream:
        upstream.fail_next("no_done", after_chunks=4)
        delivered = []
        with pytest.raises(UpstreamBadResponse, match=r"without \[DONE\]") as raised:
            await drain_into(
                delivered, OpenAICompatibleProvider().chat_stream(target_for(upstream), BODY, call_context())
            )

    assert reply_text(delivered) == "Hello from the"
    assert raised.value.details["usage"] == Usage(input_tokens=6, output_tokens=4, reported=False)


async def test_a_garbage_event_fails_the_stream_after_what_was_delivered(call_context):
    async with fake_openai_upstream() as upstream:
        upstream.fail_next("garbage", after_chunks=2)
        delivered = []
        with pytest.raises(UpstreamBadResponse, match="not JSON") as raised:
            await drain_into(
                delivered, OpenAICompatibleProvider().chat_stream(target_for(upstream), BODY, call_context())
            )

    assert reply_text(delivered) == "Hello"
    assert raised.value.details["usage"].output_tokens == 2


async def test_stream_failures_before_the_answer_carry_no_usage(call_context):
    async with fake_openai_upstream() as upstream:
        upstream.fail_next(429, retry_after="3")
        with pytest.raises(UpstreamRateLimited) as raised:
            await collect(OpenAICompatibleProvider().chat_stream(target_for(upstream), BODY, call_context()))

    assert raised.value.retry_after == 3.0
    assert "usage" not in raised.value.details


async def test_a_stalled_stream_times_out_with_the_usage_so_far(call_context):
    async with fake_openai_upstream() as upstream:
        upstream.fail_next("stall", after_chunks=2)
        with pytest.raises(UpstreamTimeout) as raised:
            await collect(
                OpenAICompatibleProvider().chat_stream(target_for(upstream), BODY, call_context(seconds=0.4))
            )

    assert raised.value.details["usage"] == Usage(input_tokens=6, output_tokens=2, reported=False)


async def test_closing_the_stream_early_closes_the_upstream_connection(call_context):
    async with fake_openai_upstream() as upstream:
        upstream.fail_next("stall", after_chunks=2)
        stream = OpenAICompatibleProvider().chat_stream(target_for(upstream), BODY, call_context())
        first = await anext(stream)
        assert upstream.disconnects == 0
        await stream.aclose()

        assert first["choices"][0]["delta"]["role"] == "assistant"
        assert await upstream.wait_for_disconnect()
        assert upstream.disconnects == 1


# --- Native calls ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "native_input",
    [
        "Say hello to the tests",
        [{"role": "user", "content": "Say hello to the tests"}],
        {"messages": [{"role": "user", "content": "Say hello to the tests"}]},
        {"prompt": "Say hello to the tests"},
    ],
)
async def test_infer_takes_a_prompt_or_messages_and_answers_text(call_context, native_input):
    async with fake_openai_upstream() as upstream:
        call = InferenceCall(
            input=native_input, parameters={"max_tokens": 20, "temperature": 0.5, "top_p": 0.9, "seed": 1}
        )
        result = await OpenAICompatibleProvider().infer(target_for(upstream), call, call_context())

    assert result.output == {"text": REPLY, "finish_reason": "stop"}
    assert result.usage == Usage(input_tokens=5, output_tokens=5, reported=True)
    assert result.upstream_request_id == "req_fake_1"
    assert upstream.last_body == {
        "model": "echo-1",
        "messages": [{"role": "user", "content": "Say hello to the tests"}],
        "max_tokens": 20,
        "temperature": 0.5,
        "top_p": 0.9,
    }


async def test_infer_counts_usage_when_the_upstream_sends_none(call_context):
    async with fake_openai_upstream(omit_usage=True) as upstream:
        result = await OpenAICompatibleProvider().infer(
            target_for(upstream), InferenceCall(input="Say hello to the tests"), call_context()
        )

    assert result.usage == Usage(input_tokens=6, output_tokens=8, reported=False)


@pytest.mark.parametrize("native_input", ["", [], 42, {"text": "hi"}, ["not a message"]])
async def test_infer_refuses_other_inputs_without_calling(call_context, native_input):
    async with fake_openai_upstream() as upstream:
        with pytest.raises(InvalidInput):
            await OpenAICompatibleProvider().infer(
                target_for(upstream), InferenceCall(input=native_input), call_context()
            )

    assert upstream.request_count == 0


async def test_infer_stream_yields_deltas_then_usage(call_context):
    async with fake_openai_upstream() as upstream:
        chunks = await collect(
            OpenAICompatibleProvider().infer_stream(
                target_for(upstream),
                InferenceCall(input="Say hello to the tests", stream=True),
                call_context(),
            )
        )

    assert "".join(chunk.delta for chunk in chunks) == REPLY
    assert chunks[-1] == StreamChunk(usage=Usage(input_tokens=5, output_tokens=5, reported=True))
    assert all(chunk.usage is None for chunk in chunks[:-1])


async def test_infer_stream_counts_usage_without_upstream_usage(call_context):
    async with fake_openai_upstream(omit_usage=True) as upstream:
        chunks = await collect(
            OpenAICompatibleProvider().infer_stream(
                target_for(upstream), InferenceCall(input="Say hello to the tests"), call_context()
            )
        )

    assert chunks[-1] == StreamChunk(usage=Usage(input_tokens=6, output_tokens=8, reported=False))


async def test_closing_the_native_stream_early_closes_the_upstream_connection(call_context):
    async with fake_openai_upstream() as upstream:
        upstream.fail_next("stall", after_chunks=3)
        stream = OpenAICompatibleProvider().infer_stream(
            target_for(upstream), InferenceCall(input="Hi"), call_context()
        )
        async with aclosing(stream):
            assert (await anext(stream)).delta == "Hello"

        assert await upstream.wait_for_disconnect()


async def test_jobs_are_not_supported(call_context):
    job = JobRef(provider_job_id="x", status="processing")
    with pytest.raises(NotSupported):
        await OpenAICompatibleProvider().job_status(make_target(), job, call_context())
    with pytest.raises(NotSupported):
        await OpenAICompatibleProvider().job_cancel(make_target(), job, call_context())


# --- The registry and the thread runner -------------------------------------------------------------------------
def test_the_registry_gives_one_instance_per_provider():
    assert isinstance(provider_for("openai_compatible"), OpenAICompatibleProvider)
    assert isinstance(provider_for("huggingface"), HuggingFaceProvider)
    assert provider_for("openai_compatible") is provider_for("openai_compatible")
    with pytest.raises(ProviderUnknown) as raised:
        provider_for("carrier-pigeon")
    assert raised.value.code == "provider_unknown"


def test_the_fake_upstream_runs_in_a_thread_for_sync_code():
    import httpx

    with FakeUpstreamThread(fake_openai_upstream, reply="Hi there") as upstream:
        upstream.fail_next(503)
        failed = httpx.post(f"{upstream.url}/chat/completions", json=BODY, timeout=5)
        answered = httpx.post(f"{upstream.url}/chat/completions", json=BODY, timeout=5)

    assert failed.status_code == 503
    assert failed.json()["error"]["type"] == "server_error"
    assert answered.json()["choices"][0]["message"]["content"] == "Hi there"
    assert upstream.request_count == 2

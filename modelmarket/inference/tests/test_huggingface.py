from __future__ import annotations

import pytest

from modelmarket.inference.providers.base import (
    InferenceCall,
    NotSupported,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
    Usage,
)
from modelmarket.inference.providers.huggingface import HuggingFaceProvider
from modelmarket.inference.tests.conftest import make_target
from modelmarket.inference.tests.upstreams import TEXT_CLASSIFICATION_ANSWER, fake_huggingface_upstream

pytestmark = pytest.mark.anyio
BODY = {"model": "our-slug", "messages": [{"role": "user", "content": "Say hello to the tests"}]}
REPLY = "Hello from the fake upstream."
HF_TOKEN = "hf_platform_token"


async def drain_into(delivered, iterator):
    async for item in iterator:
        delivered.append(item)


def hf_target(task: str = "chat", model_id: str = "meta-llama/Llama-3.1-8B-Instruct", **fields):
    return make_target(
        provider="huggingface", task=task, runtime={"provider": "huggingface", "model_id": model_id}, **fields
    )


@pytest.fixture
async def hf(settings):
    async with fake_huggingface_upstream(api_key=HF_TOKEN) as upstream:
        settings.HUGGINGFACE_INFERENCE_BASE = upstream.url
        yield upstream


@pytest.fixture
def hf_context(call_context):
    def make(seconds: float = 5.0):
        return call_context(seconds=seconds, credentials={"huggingface": HF_TOKEN})

    return make


# --- Chat through the router ----------------------------------------------------------------------------------------
async def test_chat_goes_through_the_openai_compatible_router_with_the_platform_token(hf, hf_context):
    completion = await HuggingFaceProvider().chat(hf_target(), BODY, hf_context())

    assert completion["choices"][0]["message"]["content"] == REPLY
    assert completion["usage"] == {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
    assert hf.requests[-1].path == "/v1/chat/completions"
    assert hf.last_body["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert hf.last_headers["Authorization"] == f"Bearer {HF_TOKEN}"


async def test_the_listings_own_token_wins_over_the_platforms(hf, hf_context):
    with pytest.raises(UpstreamRejected) as raised:
        await HuggingFaceProvider().chat(hf_target(credential="hf_creator"), BODY, hf_context())

    assert raised.value.upstream_status == 401
    assert hf.last_headers["Authorization"] == "Bearer hf_creator"


async def test_text_generation_models_stream_through_the_router(hf, hf_context):
    chunks = [
        chunk
        async for chunk in HuggingFaceProvider().infer_stream(
            hf_target(task="text-generation"), InferenceCall(input="Say hello to the tests"), hf_context()
        )
    ]

    assert "".join(chunk.delta for chunk in chunks) == REPLY
    assert chunks[-1].usage == Usage(input_tokens=5, output_tokens=5, reported=True)
    assert hf.last_body["stream_options"] == {"include_usage": True}


async def test_chat_streams_end_with_usage(hf, hf_context):
    chunks = [chunk async for chunk in HuggingFaceProvider().chat_stream(hf_target(), BODY, hf_context())]

    assert chunks[-1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}


async def test_a_cut_router_stream_fails_after_its_chunks_with_counted_usage(hf, hf_context):
    hf.fail_next("cut", after_chunks=2)
    delivered = []
    with pytest.raises(UpstreamBadResponse) as raised:
        await drain_into(delivered, HuggingFaceProvider().chat_stream(hf_target(), BODY, hf_context()))

    assert len(delivered) == 2
    assert raised.value.details["usage"] == Usage(input_tokens=6, output_tokens=2, reported=False)


# --- Task models ----------------------------------------------------------------------------------------------------
async def test_task_models_post_inputs_and_parameters_and_return_the_json(hf, hf_context):
    target = hf_target(task="text-classification", model_id="distilbert/sst2")
    call = InferenceCall(input="I love this", parameters={"top_k": 2})
    result = await HuggingFaceProvider().infer(target, call, hf_context())

    assert result.output == TEXT_CLASSIFICATION_ANSWER
    assert result.usage.input_tokens == 3
    assert result.usage.output_tokens == 0
    assert result.usage.reported is False
    assert result.upstream_request_id == "req_fake_1"
    assert hf.requests[-1].path == "/hf-inference/models/distilbert/sst2"
    assert hf.last_body == {"inputs": "I love this", "parameters": {"top_k": 2}}
    assert hf.last_headers["Authorization"] == f"Bearer {HF_TOKEN}"


async def test_task_answers_are_the_models_own(settings, hf_context):
    answer = [[{"label": "LABEL_1", "score": 0.7}, {"label": "LABEL_0", "score": 0.3}]]
    async with fake_huggingface_upstream(task_answers={"owner/name": answer}) as upstream:
        settings.HUGGINGFACE_INFERENCE_BASE = upstream.url
        result = await HuggingFaceProvider().infer(
            hf_target(task="text-classification", model_id="owner/name"),
            InferenceCall(input="x"),
            hf_context(),
        )

    assert result.output == answer


async def test_a_loading_model_is_unavailable_with_its_estimated_time(hf, hf_context):
    hf.fail_next("loading", estimated_time=20.0)
    with pytest.raises(UpstreamUnavailable) as raised:
        await HuggingFaceProvider().infer(
            hf_target(task="text-classification", model_id="distilbert/sst2"),
            InferenceCall(input="I love this"),
            hf_context(),
        )

    assert raised.value.retry_after == 20.0
    assert raised.value.retryable is True
    assert raised.value.message == "Hugging Face answered 503: Model distilbert/sst2 is currently loading"


@pytest.mark.parametrize(
    ("fault", "error_class"),
    [
        (429, UpstreamRateLimited),
        (502, UpstreamUnavailable),
        (500, UpstreamBadResponse),
        (404, UpstreamRejected),
        ("garbage", UpstreamBadResponse),
    ],
)
async def test_task_failures_map_to_provider_errors(hf, hf_context, fault, error_class):
    hf.fail_next(fault)
    with pytest.raises(error_class):
        await HuggingFaceProvider().infer(
            hf_target(task="text-classification", model_id="distilbert/sst2"),
            InferenceCall(input="x"),
            hf_context(),
        )


async def test_a_hanging_task_model_times_out(hf, hf_context):
    hf.fail_next("hang")
    with pytest.raises(UpstreamTimeout):
        await HuggingFaceProvider().infer(
            hf_target(task="text-classification", model_id="distilbert/sst2"),
            InferenceCall(input="x"),
            hf_context(seconds=0.3),
        )


@pytest.mark.parametrize("model_id", ["../../v1/chat/completions", "owner/name/extra", "owner/..", "/owner"])
async def test_model_ids_that_would_leave_the_models_path_are_refused(hf, hf_context, model_id):
    with pytest.raises(UpstreamRejected, match="not an owner/name id"):
        await HuggingFaceProvider().infer(
            hf_target(task="text-classification", model_id=model_id), InferenceCall(input="x"), hf_context()
        )

    assert hf.request_count == 0


async def test_task_models_neither_stream_nor_chat(hf, hf_context):
    target = hf_target(task="text-classification", model_id="distilbert/sst2")
    with pytest.raises(NotSupported):
        async for _ in HuggingFaceProvider().infer_stream(target, InferenceCall(input="x"), hf_context()):
            pass
    with pytest.raises(NotSupported):
        await HuggingFaceProvider().chat(target, BODY, hf_context())
    with pytest.raises(NotSupported):
        async for _ in HuggingFaceProvider().chat_stream(target, BODY, hf_context()):
            pass

    assert hf.request_count == 0

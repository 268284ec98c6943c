from __future__ import annotations

import pytest

from modelmarket.inference import adapters
from modelmarket.inference.providers.base import NotSupported, Target, UpstreamBadResponse


def _target(provider: str, task: str) -> Target:
    return Target(
        model_id=1,
        slug="m",
        creator_id=1,
        task=task,
        version_id=1,
        version="1.0.0",
        provider=provider,
        runtime={"provider": provider, "model_id": "owner/name"},
    )


@pytest.mark.parametrize(
    ("task", "native", "sent"),
    [
        ("text-classification", {"text": "great"}, "great"),
        ("embeddings", {"input": ["a", "b"]}, ["a", "b"]),
        ("speech-to-text", {"audio": "https://example.com/a.flac"}, "https://example.com/a.flac"),
    ],
)
def test_hugging_face_task_endpoints_get_the_bare_input(task, native, sent):
    assert adapters.provider_input(_target("huggingface", task), native) == sent


def test_replicate_and_chat_inputs_pass_through():
    value = {"prompt": "a fox", "num_outputs": 2}
    assert adapters.provider_input(_target("replicate", "text-to-image"), value) == value
    assert adapters.provider_input(_target("huggingface", "chat"), {"messages": []}) == {"messages": []}


def test_hugging_face_file_answers_are_refused_clearly():
    with pytest.raises(NotSupported):
        adapters.provider_input(_target("huggingface", "text-to-image"), {"prompt": "a fox"})


@pytest.mark.parametrize(
    ("provider", "task", "raw", "shaped"),
    [
        (
            "huggingface",
            "text-classification",
            [[{"label": "NEGATIVE", "score": 0.1}, {"label": "POSITIVE", "score": 0.9}]],
            {"labels": [{"label": "POSITIVE", "score": 0.9}, {"label": "NEGATIVE", "score": 0.1}]},
        ),
        ("huggingface", "embeddings", [0.5, 1], {"embeddings": [[0.5, 1.0]]}),
        ("huggingface", "embeddings", [[1, 2], [3, 4]], {"embeddings": [[1.0, 2.0], [3.0, 4.0]]}),
        ("huggingface", "summarization", [{"summary_text": "short"}], {"summary": "short"}),
        ("huggingface", "translation", [{"translation_text": "Bonjour"}], {"translation": "Bonjour"}),
        ("huggingface", "speech-to-text", {"text": "hello"}, {"text": "hello"}),
        ("replicate", "text-to-image", ["https://x/1.png"], {"images": ["https://x/1.png"]}),
        ("replicate", "speech-to-text", {"transcription": "hi"}, {"text": "hi"}),
    ],
)
def test_answers_take_the_tasks_output_shape(provider, task, raw, shaped):
    assert adapters.task_output(_target(provider, task), raw) == shaped


def test_an_answer_in_an_unexpected_shape_is_a_bad_upstream_response():
    with pytest.raises(UpstreamBadResponse):
        adapters.task_output(_target("huggingface", "text-classification"), [{"no": "label"}])


def test_uploaded_and_chat_models_are_not_adapted():
    raw = {"label": "setosa"}
    assert adapters.task_output(_target("local_onnx", "tabular-classification"), raw) is raw
    assert adapters.task_output(_target("openai_compatible", "chat"), raw) is raw

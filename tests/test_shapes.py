"""Every provider body shape x every operation: written by the generator, read back by the parser."""

from __future__ import annotations

import random

import pytest

from llmdrift.bedrock.shapes import ShapeError, normalize_stop_reason, parse_request, parse_response
from llmdrift.generate.bodies import FAMILIES, OPERATIONS, Exchange, bodies
from llmdrift.generate.text import Turn

# Families whose request has no separate system field: the system text is folded into the prompt
# (Cohere Command: one prompt string) or into the first user turn (Mistral [INST] format).
SYSTEM_IN_PROMPT = {"cohere_command"}
SYSTEM_IN_FIRST_TURN = {"mistral_text"}
# Families whose native body carries its own usage.
BODY_USAGE = {
    "anthropic_messages",
    "titan_text",
    "nova",
    "llama3",
    "llama2",
    "jamba",
    "openai_chat",
    "cohere_chat",
}
EXPECTED_SHAPE = {
    "llama3": "llama",
    "llama2": "llama",
    "jamba": "chat_choices",
    "openai_chat": "chat_choices",
    "mistral_chat": "chat_choices",
}
EXPECTED_REQUEST_SHAPE = {
    "llama3": "llama",
    "llama2": "llama",
    "jamba": "chat_messages",
    "openai_chat": "chat_messages",
    "mistral_chat": "chat_messages",
}


def exchange(stop: str = "end_turn") -> Exchange:
    return Exchange(
        system="You are a careful assistant for Example Corp.",
        history=(
            Turn("user", "What is our refund window?"),
            Turn("assistant", "It is 30 days from delivery."),
        ),
        prompt="And for items bought on sale, is it the same?",
        completion="Sale items follow the same 30-day window, but final-sale items cannot be returned.",
        stop=stop,
        input_tokens=57,
        output_tokens=19,
        latency_ms=812,
        first_byte_ms=233,
        extra={"msg_id": "abc", "tool_id": "def", "model_name": "claude-x"},
    )


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("family", FAMILIES)
def test_round_trip(family: str, operation: str) -> None:
    ex = exchange()
    request_body, response_body = bodies(family, operation, ex, random.Random(3))
    request = parse_request(request_body, operation)
    response = parse_response(response_body, operation)

    converse = operation.startswith("Converse")
    assert request.shape == ("converse" if converse else EXPECTED_REQUEST_SHAPE.get(family, family))
    assert response.shape == ("converse" if converse else EXPECTED_SHAPE.get(family, family))
    if family in SYSTEM_IN_PROMPT and not converse:
        assert request.prompt == f"{ex.system}\n\n{ex.prompt}"
        assert request.prior_turns == 0
    else:
        assert request.prompt == ex.prompt
        assert request.system == (None if family in SYSTEM_IN_FIRST_TURN and not converse else ex.system)
        assert request.prior_turns == 2
    assert (response.text or "").strip() == ex.completion
    assert response.completion_type == "text"
    assert normalize_stop_reason(response.stop_reason_raw) in ("end_turn", "stop_sequence")
    if operation == "InvokeModelWithResponseStream":
        assert isinstance(response_body, list)
        assert len(response_body) > 3
        assert (response.input_tokens, response.output_tokens) == (57, 19)
        assert (response.latency_ms, response.first_byte_latency_ms) == (812, 233)
    elif converse:
        assert (response.input_tokens, response.output_tokens, response.latency_ms) == (57, 19, 812)
    elif family in BODY_USAGE:
        assert (response.input_tokens, response.output_tokens) == (57, 19)


@pytest.mark.parametrize("family", ["anthropic_messages", "nova", "mistral_chat", "openai_chat"])
@pytest.mark.parametrize("operation", ["Converse", "InvokeModel"])
def test_tool_use_without_text(family: str, operation: str) -> None:
    ex = exchange("tool_use")
    ex.tool_name, ex.completion = "search_orders", ""
    _, response_body = bodies(family, operation, ex, random.Random(1))
    response = parse_response(response_body, operation)
    assert response.completion_type == "tool_use"
    assert response.text is None
    assert normalize_stop_reason(response.stop_reason_raw) == "tool_use"


@pytest.mark.parametrize("operation", ["InvokeModel", "InvokeModelWithResponseStream"])
def test_guardrail_intervention_on_anthropic_invoke(operation: str) -> None:
    ex = exchange("guardrail_intervened")
    _, response_body = bodies("anthropic_messages", operation, ex, random.Random(1))
    assert parse_response(response_body, operation).guardrail_intervened


def test_converse_guardrail_is_a_stop_reason() -> None:
    ex = exchange("guardrail_intervened")
    _, response_body = bodies("nova", "Converse", ex, random.Random(1))
    response = parse_response(response_body, "Converse")
    assert normalize_stop_reason(response.stop_reason_raw) == "guardrail_intervened"


def test_max_tokens_spellings() -> None:
    for family in FAMILIES:
        _, body = bodies(family, "InvokeModel", exchange("max_tokens"), random.Random(1))
        assert normalize_stop_reason(parse_response(body, "InvokeModel").stop_reason_raw) == "max_tokens", (
            family
        )


def test_ai21_j2_and_generic_prompt() -> None:
    response = parse_response(
        {"completions": [{"data": {"text": "Paris."}, "finishReason": {"reason": "endoftext"}}]}
    )
    assert (response.shape, response.text, normalize_stop_reason(response.stop_reason_raw)) == (
        "ai21_j2",
        "Paris.",
        "end_turn",
    )
    request = parse_request({"prompt": "Capital of France?", "maxTokens": 20})
    assert (request.shape, request.prompt) == ("ai21_j2", "Capital of France?")


def test_unknown_shapes_are_reported_not_guessed() -> None:
    assert parse_request({"inputs": "hello"}).shape == "unknown"
    assert parse_response({"answer": "hello"}).shape == "unknown"
    assert parse_response([{"weird": 1}]).shape == "unknown"
    assert parse_response([]).shape == "empty"


@pytest.mark.parametrize(
    ("body", "operation"),
    [
        ({"messages": "[...truncated...]"}, "Converse"),
        ({"messages": [{"role": "user", "content": 42}]}, "Converse"),
        ({"system": [{"text": "You are terse."}], "inferenceConfig": {}}, "Converse"),  # no messages
        ({"messages": None}, "ConverseStream"),
        ({"anthropic_version": "x", "messages": [17]}, "InvokeModel"),
        ({"prompt": ["not", "a", "string"]}, "InvokeModel"),
        ("just a string", "InvokeModel"),
    ],
)
def test_malformed_requests_raise(body: object, operation: str) -> None:
    with pytest.raises(ShapeError):
        parse_request(body, operation)


def test_malformed_converse_output_keeps_usage_and_latency() -> None:
    body = {
        "output": "[...truncated...]",
        "stopReason": "end_turn",
        "metrics": {"latencyMs": 3114},
        "usage": {"inputTokens": 255, "outputTokens": 113},
    }
    with pytest.raises(ShapeError) as caught:
        parse_response(body, "Converse")
    partial = caught.value.partial
    assert partial is not None
    assert (partial.latency_ms, partial.input_tokens, partial.stop_reason_raw) == (3114, 255, "end_turn")


def test_stream_with_non_object_chunk_raises() -> None:
    with pytest.raises(ShapeError, match=r"chunk \[0\]"):
        parse_response(["[...truncated stream events...]"], "InvokeModelWithResponseStream")


def test_legacy_transcripts() -> None:
    claude = parse_request(
        {
            "prompt": "Be brief.\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Weather?\n\nAssistant:",
            "max_tokens_to_sample": 10,
        }
    )
    assert (claude.system, claude.prompt, claude.prior_turns) == ("Be brief.", "Weather?", 2)
    llama2 = parse_request(
        {
            "prompt": "<s>[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nHi [/INST] Hello</s><s>[INST] More? [/INST]",
            "max_gen_len": 5,
        }
    )
    assert (llama2.shape, llama2.system, llama2.prompt, llama2.prior_turns) == (
        "llama",
        "Be kind.",
        "More?",
        2,
    )
    titan = parse_request({"inputText": "Summarise this memo."})
    assert (titan.shape, titan.prompt, titan.prior_turns) == ("titan_text", "Summarise this memo.", 0)

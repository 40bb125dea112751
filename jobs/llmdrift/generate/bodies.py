"""Request and response bodies as each provider family writes them, for every Bedrock operation.

The generator decides *what* happened (an ``Exchange``); this module writes it in the shape the log would
hold: Converse/ConverseStream as the Converse dict, InvokeModel in the provider-native dict,
InvokeModelWithResponseStream as the list of decoded chunks with Bedrock's invocation metrics on the last one.
Shapes follow ``../shared/spec/bedrock-glue-athena.md`` §1.3 and §2.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from llmdrift.generate.text import Turn

FAMILIES = (
    "anthropic_messages",
    "anthropic_text",
    "titan_text",
    "nova",
    "llama3",
    "llama2",
    "mistral_text",
    "mistral_chat",
    "cohere_command",
    "cohere_chat",
    "jamba",
    "openai_chat",
)
OPERATIONS = ("InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream")


@dataclass
class Exchange:
    """One invocation as the generator decided it, before it is written in a provider's shape."""

    system: str | None
    history: tuple[Turn, ...]
    prompt: str
    completion: str
    stop: str = "end_turn"  # end_turn | max_tokens | tool_use | guardrail_intervened | content_filtered
    tool_name: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    latency_ms: int = 0
    first_byte_ms: int = 0
    max_tokens: int = 1024
    temperature: float = 0.7
    extra: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------- stop reason spelling

_NATIVE_STOP = {
    "anthropic_messages": {
        "end_turn": "end_turn",
        "max_tokens": "max_tokens",
        "tool_use": "tool_use",
        "guardrail_intervened": "end_turn",
        "content_filtered": "refusal",
    },
    "anthropic_text": {"end_turn": "stop_sequence", "max_tokens": "max_tokens"},
    "titan_text": {"end_turn": "FINISH", "max_tokens": "LENGTH", "content_filtered": "CONTENT_FILTERED"},
    "nova": {
        "end_turn": "end_turn",
        "max_tokens": "max_tokens",
        "tool_use": "tool_use",
        "content_filtered": "content_filtered",
    },
    "llama3": {"end_turn": "stop", "max_tokens": "length"},
    "llama2": {"end_turn": "stop", "max_tokens": "length"},
    "mistral_text": {"end_turn": "stop", "max_tokens": "length"},
    "mistral_chat": {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls"},
    "cohere_command": {"end_turn": "COMPLETE", "max_tokens": "MAX_TOKENS", "content_filtered": "ERROR_TOXIC"},
    "cohere_chat": {"end_turn": "COMPLETE", "max_tokens": "MAX_TOKENS", "content_filtered": "ERROR_TOXIC"},
    "jamba": {"end_turn": "stop", "max_tokens": "length"},
    "openai_chat": {
        "end_turn": "stop",
        "max_tokens": "length",
        "tool_use": "tool_calls",
        "content_filtered": "content_filter",
    },
}


def native_stop(family: str, stop: str) -> str:
    table = _NATIVE_STOP[family]
    return table.get(stop, table["end_turn"])


def _converse_stop(stop: str) -> str:
    return (
        stop
        if stop in ("end_turn", "max_tokens", "tool_use", "guardrail_intervened", "content_filtered")
        else "end_turn"
    )


# ----------------------------------------------------------------------------------------------- requests


def _turns(ex: Exchange) -> list[Turn]:
    return [*ex.history, Turn("user", ex.prompt)]


def converse_request(ex: Exchange, rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messages": [{"role": t.role, "content": [{"text": t.text}]} for t in _turns(ex)],
        "inferenceConfig": {"maxTokens": ex.max_tokens, "temperature": ex.temperature, "topP": 0.9},
    }
    if ex.system:
        body["system"] = [{"text": ex.system}]
    if ex.tool_name:
        body["toolConfig"] = {
            "tools": [
                {
                    "toolSpec": {
                        "name": ex.tool_name,
                        "inputSchema": {
                            "json": {"type": "object", "properties": {"query": {"type": "string"}}}
                        },
                    }
                }
            ]
        }
    if rng.random() < 0.3:
        body["additionalModelRequestFields"] = {}
    return body


def _llama3_prompt(ex: Exchange) -> str:
    parts = ["<|begin_of_text|>"]
    if ex.system:
        parts.append(f"<|start_header_id|>system<|end_header_id|>\n\n{ex.system}<|eot_id|>")
    for t in _turns(ex):
        parts.append(f"<|start_header_id|>{t.role}<|end_header_id|>\n\n{t.text}<|eot_id|>")
    parts.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
    return "".join(parts)


def _inst_prompt(ex: Exchange, with_sys: bool) -> str:
    turns = _turns(ex)
    out: list[str] = []
    for i in range(0, len(turns), 2):
        user = turns[i].text
        if i == 0 and with_sys and ex.system:
            user = f"<<SYS>>\n{ex.system}\n<</SYS>>\n\n{user}"
        elif i == 0 and ex.system:
            user = f"{ex.system}\n\n{user}"
        answer = turns[i + 1].text if i + 1 < len(turns) else None
        out.append(f"<s>[INST] {user} [/INST]" + (f" {answer}</s>" if answer is not None else ""))
    return "".join(out)


def native_request(family: str, ex: Exchange, rng: random.Random) -> dict[str, Any]:
    turns = _turns(ex)
    if family == "anthropic_messages":
        use_blocks = rng.random() < 0.5
        body: dict[str, Any] = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": ex.max_tokens,
            "temperature": ex.temperature,
            "messages": [
                {"role": t.role, "content": [{"type": "text", "text": t.text}] if use_blocks else t.text}
                for t in turns
            ],
        }
        if ex.system:
            body["system"] = [{"type": "text", "text": ex.system}] if use_blocks else ex.system
        if ex.tool_name:
            body["tools"] = [
                {
                    "name": ex.tool_name,
                    "description": "",
                    "input_schema": {"type": "object", "properties": {}},
                }
            ]
            body["tool_choice"] = {"type": "tool", "name": ex.tool_name}
        return body
    if family == "anthropic_text":
        transcript = "".join(f"\n\n{'Human' if t.role == 'user' else 'Assistant'}: {t.text}" for t in turns)
        return {
            "prompt": (ex.system or "") + transcript + "\n\nAssistant:",
            "max_tokens_to_sample": ex.max_tokens,
            "temperature": ex.temperature,
            "top_k": 250,
            "top_p": 0.999,
            "stop_sequences": ["\n\nHuman:"],
            "anthropic_version": "bedrock-2023-05-31",
        }
    if family == "titan_text":
        lines = [f"{'User' if t.role == 'user' else 'Bot'}: {t.text}" for t in turns]
        text = "\n".join(lines) + "\nBot:" if ex.history or rng.random() < 0.6 else ex.prompt
        if ex.system:
            text = f"{ex.system}\n\n{text}"
        return {
            "inputText": text,
            "textGenerationConfig": {
                "maxTokenCount": ex.max_tokens,
                "temperature": ex.temperature,
                "topP": 0.9,
                "stopSequences": [],
            },
        }
    if family == "nova":
        nova: dict[str, Any] = {
            "schemaVersion": "messages-v1",
            "messages": [{"role": t.role, "content": [{"text": t.text}]} for t in turns],
            "inferenceConfig": {"max_new_tokens": ex.max_tokens, "temperature": ex.temperature},
        }
        if ex.system:
            nova["system"] = [{"text": ex.system}]
        return nova
    if family == "llama3":
        return {
            "prompt": _llama3_prompt(ex),
            "max_gen_len": ex.max_tokens,
            "temperature": ex.temperature,
            "top_p": 0.9,
        }
    if family == "llama2":
        return {
            "prompt": _inst_prompt(ex, with_sys=True),
            "max_gen_len": ex.max_tokens,
            "temperature": ex.temperature,
            "top_p": 0.9,
        }
    if family == "mistral_text":
        return {
            "prompt": _inst_prompt(ex, with_sys=False),
            "max_tokens": ex.max_tokens,
            "temperature": ex.temperature,
            "top_p": 0.9,
            "top_k": 50,
        }
    if family in ("mistral_chat", "jamba", "openai_chat"):
        messages = ([{"role": "system", "content": ex.system}] if ex.system else []) + [
            {"role": t.role, "content": t.text} for t in turns
        ]
        return {
            "messages": messages,
            "max_tokens": ex.max_tokens,
            "temperature": ex.temperature,
            "top_p": 0.9,
        }
    if family == "cohere_command":
        prompt = f"{ex.system}\n\n{ex.prompt}" if ex.system else ex.prompt
        return {
            "prompt": prompt,
            "max_tokens": ex.max_tokens,
            "temperature": ex.temperature,
            "p": 0.75,
            "k": 0,
            "stop_sequences": [],
        }
    if family == "cohere_chat":
        chat: dict[str, Any] = {
            "message": ex.prompt,
            "chat_history": [
                {"role": "USER" if t.role == "user" else "CHATBOT", "message": t.text} for t in ex.history
            ],
            "max_tokens": ex.max_tokens,
            "temperature": ex.temperature,
        }
        if ex.system:
            chat["preamble"] = ex.system
        return chat
    raise ValueError(f"unknown model family {family!r}")


# ----------------------------------------------------------------------------------------------- responses


def converse_response(ex: Exchange) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"text": ex.completion}] if ex.completion else []
    if ex.stop == "tool_use" and ex.tool_name:
        content.append(
            {
                "toolUse": {
                    "toolUseId": "tooluse_" + ex.extra.get("tool_id", "x"),
                    "name": ex.tool_name,
                    "input": {"query": ex.prompt[:40]},
                }
            }
        )
    usage: dict[str, Any] = {
        "inputTokens": ex.input_tokens,
        "outputTokens": ex.output_tokens,
        "totalTokens": ex.input_tokens + ex.output_tokens + ex.cache_read_tokens + ex.cache_write_tokens,
    }
    if ex.cache_read_tokens or ex.cache_write_tokens:
        usage["cacheReadInputTokens"] = ex.cache_read_tokens
        usage["cacheWriteInputTokens"] = ex.cache_write_tokens
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": _converse_stop(ex.stop),
        "metrics": {"latencyMs": ex.latency_ms},
        "usage": usage,
    }


def native_response(family: str, ex: Exchange) -> dict[str, Any]:
    stop = native_stop(family, ex.stop)
    text = ex.completion
    if family == "anthropic_messages":
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        if ex.stop == "tool_use" and ex.tool_name:
            content.append(
                {
                    "type": "tool_use",
                    "id": "toolu_bdrk_" + ex.extra.get("tool_id", "x"),
                    "name": ex.tool_name,
                    "input": {},
                }
            )
        usage: dict[str, Any] = {"input_tokens": ex.input_tokens, "output_tokens": ex.output_tokens}
        if ex.cache_read_tokens or ex.cache_write_tokens:
            usage["cache_read_input_tokens"] = ex.cache_read_tokens
            usage["cache_creation_input_tokens"] = ex.cache_write_tokens
        body: dict[str, Any] = {
            "id": "msg_bdrk_" + ex.extra.get("msg_id", "x"),
            "type": "message",
            "role": "assistant",
            "model": ex.extra.get("model_name", "claude"),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        if ex.stop == "guardrail_intervened":
            body["amazon-bedrock-guardrailAction"] = "INTERVENED"
            body["amazon-bedrock-trace"] = {"guardrail": {"input": {}}}
        return body
    if family == "anthropic_text":
        return {
            "completion": " " + text,
            "stop_reason": stop,
            "stop": "\n\nHuman:" if stop == "stop_sequence" else None,
        }
    if family == "titan_text":
        return {
            "inputTextTokenCount": ex.input_tokens,
            "results": [{"tokenCount": ex.output_tokens, "outputText": text, "completionReason": stop}],
        }
    if family == "nova":
        blocks: list[dict[str, Any]] = [{"text": text}] if text else []
        if ex.stop == "tool_use" and ex.tool_name:
            blocks.append(
                {
                    "toolUse": {
                        "toolUseId": "tooluse_" + ex.extra.get("tool_id", "x"),
                        "name": ex.tool_name,
                        "input": {},
                    }
                }
            )
        return {
            "output": {"message": {"role": "assistant", "content": blocks}},
            "stopReason": stop,
            "usage": {
                "inputTokens": ex.input_tokens,
                "outputTokens": ex.output_tokens,
                "totalTokens": ex.input_tokens + ex.output_tokens,
            },
        }
    if family in ("llama3", "llama2"):
        return {
            "generation": text,
            "prompt_token_count": ex.input_tokens,
            "generation_token_count": ex.output_tokens,
            "stop_reason": stop,
        }
    if family == "mistral_text":
        return {"outputs": [{"text": text, "stop_reason": stop}]}
    if family in ("mistral_chat", "jamba", "openai_chat"):
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if ex.stop == "tool_use" and ex.tool_name:
            message["tool_calls"] = [
                {
                    "id": "call_" + ex.extra.get("tool_id", "x"),
                    "type": "function",
                    "function": {"name": ex.tool_name, "arguments": "{}"},
                }
            ]
        choice: dict[str, Any] = {"index": 0, "message": message}
        choice["stop_reason" if family == "mistral_chat" else "finish_reason"] = stop
        out: dict[str, Any] = {"id": ex.extra.get("msg_id", "x"), "choices": [choice]}
        if family != "mistral_chat":
            out["usage"] = {
                "prompt_tokens": ex.input_tokens,
                "completion_tokens": ex.output_tokens,
                "total_tokens": ex.input_tokens + ex.output_tokens,
            }
        return out
    if family == "cohere_command":
        return {
            "id": ex.extra.get("msg_id", "x"),
            "prompt": None,
            "generations": [{"id": ex.extra.get("msg_id", "x"), "text": text, "finish_reason": stop}],
        }
    if family == "cohere_chat":
        return {
            "response_id": ex.extra.get("msg_id", "x"),
            "text": text,
            "generation_id": ex.extra.get("tool_id", "x"),
            "finish_reason": stop,
            "chat_history": [],
            "meta": {"billed_units": {"input_tokens": ex.input_tokens, "output_tokens": ex.output_tokens}},
        }
    raise ValueError(f"unknown model family {family!r}")


def _pieces(text: str, rng: random.Random) -> list[str]:
    """Split a completion into stream deltas of a few words each (joined back they give the text)."""
    out: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + rng.randint(8, 40))
        space = text.find(" ", end)
        end = len(text) if space < 0 or space - end > 20 else space
        out.append(text[start:end])
        start = end
    return out


def _metrics(ex: Exchange) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "inputTokenCount": ex.input_tokens,
        "outputTokenCount": ex.output_tokens,
        "invocationLatency": ex.latency_ms,
        "firstByteLatency": ex.first_byte_ms,
    }
    if ex.cache_read_tokens or ex.cache_write_tokens:
        metrics["cacheReadInputTokenCount"] = ex.cache_read_tokens
        metrics["cacheWriteInputTokenCount"] = ex.cache_write_tokens
    return metrics


def stream_chunks(family: str, ex: Exchange, rng: random.Random) -> list[dict[str, Any]]:
    """The decoded chunk list of InvokeModelWithResponseStream."""
    stop = native_stop(family, ex.stop)
    pieces = _pieces(ex.completion, rng)
    chunks: list[dict[str, Any]]
    if family == "anthropic_messages":
        chunks = [
            {
                "type": "message_start",
                "message": {
                    "id": "msg_bdrk_" + ex.extra.get("msg_id", "x"),
                    "type": "message",
                    "role": "assistant",
                    "model": ex.extra.get("model_name", "claude"),
                    "content": [],
                    "stop_reason": None,
                    "usage": {
                        "input_tokens": ex.input_tokens,
                        "output_tokens": 1,
                        "cache_read_input_tokens": ex.cache_read_tokens,
                        "cache_creation_input_tokens": ex.cache_write_tokens,
                    },
                },
            }
        ]
        chunks.append(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        )
        chunks += [
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
            for p in pieces
        ]
        chunks.append({"type": "content_block_stop", "index": 0})
        chunks.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": ex.output_tokens},
            }
        )
        chunks.append({"type": "message_stop"})
    elif family == "anthropic_text":
        chunks = [{"completion": p, "stop_reason": None, "stop": None} for p in pieces]
        chunks.append({"completion": "", "stop_reason": stop, "stop": "\n\nHuman:"})
    elif family == "titan_text":
        chunks = [
            {
                "outputText": p,
                "index": 0,
                "totalOutputTextTokenCount": None,
                "completionReason": None,
                "inputTextTokenCount": ex.input_tokens if i == 0 else None,
            }
            for i, p in enumerate(pieces)
        ]
        chunks.append(
            {
                "outputText": "",
                "index": 0,
                "totalOutputTextTokenCount": ex.output_tokens,
                "completionReason": stop,
            }
        )
    elif family == "nova":
        chunks = [{"messageStart": {"role": "assistant"}}]
        chunks += [{"contentBlockDelta": {"delta": {"text": p}, "contentBlockIndex": 0}} for p in pieces]
        chunks += [
            {"contentBlockStop": {"contentBlockIndex": 0}},
            {"messageStop": {"stopReason": stop}},
            {"metadata": {"usage": {"inputTokens": ex.input_tokens, "outputTokens": ex.output_tokens}}},
        ]
    elif family in ("llama3", "llama2"):
        chunks = [
            {
                "generation": p,
                "prompt_token_count": ex.input_tokens if i == 0 else None,
                "generation_token_count": i + 1,
                "stop_reason": None,
            }
            for i, p in enumerate(pieces)
        ]
        chunks.append(
            {
                "generation": "",
                "prompt_token_count": None,
                "generation_token_count": ex.output_tokens,
                "stop_reason": stop,
            }
        )
    elif family == "mistral_text":
        chunks = [{"outputs": [{"text": p, "stop_reason": None}]} for p in pieces]
        chunks.append({"outputs": [{"text": "", "stop_reason": stop}]})
    elif family in ("mistral_chat", "jamba", "openai_chat"):
        # Response keys of these streams are not verified (spec §9.8): OpenAI-style deltas.
        chunks = [{"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
        chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": stop}]})
    elif family == "cohere_command":
        chunks = [{"text": p, "is_finished": False} for p in pieces]
        chunks.append({"is_finished": True, "finish_reason": stop, "response": {"generations": []}})
    elif family == "cohere_chat":
        chunks = [
            {"event_type": "stream-start", "is_finished": False, "generation_id": ex.extra.get("msg_id", "x")}
        ]
        chunks += [{"event_type": "text-generation", "is_finished": False, "text": p} for p in pieces]
        chunks.append({"event_type": "stream-end", "is_finished": True, "finish_reason": stop})
    else:
        raise ValueError(f"unknown model family {family!r}")
    chunks[-1]["amazon-bedrock-invocationMetrics"] = _metrics(ex)
    if ex.stop == "guardrail_intervened":
        chunks[-1]["amazon-bedrock-guardrailAction"] = "INTERVENED"
    return chunks


def bodies(family: str, operation: str, ex: Exchange, rng: random.Random) -> tuple[dict[str, Any], Any]:
    """(inputBodyJson, outputBodyJson) for one invocation."""
    if operation in ("Converse", "ConverseStream"):
        return converse_request(ex, rng), converse_response(ex)
    if operation == "InvokeModel":
        return native_request(family, ex, rng), native_response(family, ex)
    if operation == "InvokeModelWithResponseStream":
        return native_request(family, ex, rng), stream_chunks(family, ex, rng)
    raise ValueError(f"unknown operation {operation!r}")

"""Request and response bodies of Bedrock invocation logs, by provider shape.

Shapes are recognised from the keys of the body, never from ``modelId`` (application profiles and
provisioned models hide the model). A body that is recognised but holds the wrong types raises
``ShapeError`` (the caller quarantines it and keeps the rest of the record); a dict nobody recognises gives
shape ``unknown``. Streamed responses (InvokeModelWithResponseStream) are a list of decoded chunks that
are reassembled into one completion.

Shape names: converse, nova, anthropic_messages, anthropic_text, titan_text, llama, mistral_text,
chat_messages (requests) / chat_choices (responses: Mistral chat, AI21 Jamba, OpenAI-style), cohere_command,
cohere_chat, ai21_j2, text_prompt, unknown, empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

CONVERSE_OPERATIONS = frozenset({"Converse", "ConverseStream"})


class ShapeError(ValueError):
    """A recognised body with the wrong structure; ``partial`` keeps what could be read around it."""

    def __init__(self, message: str, partial: ResponseInfo | None = None) -> None:
        super().__init__(message)
        self.partial = partial


@dataclass
class RequestInfo:
    shape: str
    system: str | None = None
    prompt: str | None = None
    prior_turns: int | None = None


@dataclass
class ResponseInfo:
    shape: str
    text_parts: list[str] = field(default_factory=list)
    tool_use: bool = False
    stop_reason_raw: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    latency_ms: int | None = None
    first_byte_latency_ms: int | None = None
    guardrail_intervened: bool = False

    @property
    def text(self) -> str | None:
        parts = [p for p in self.text_parts if p]
        return "\n".join(parts) if parts else None

    @property
    def completion_type(self) -> str:
        has_text = any(p.strip() for p in self.text_parts)
        if has_text and self.tool_use:
            return "mixed"
        if self.tool_use:
            return "tool_use"
        return "text" if has_text else "empty"


# --------------------------------------------------------------------------------------------------- helpers


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _list(body: dict[str, Any], key: str, what: str) -> list[Any]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ShapeError(f"{what}: {key!r} is a {type(value).__name__}, expected a list")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ShapeError(f"{what} is a {type(value).__name__}, expected an object")
    return value


def _text_of_content(content: Any, what: str) -> tuple[list[str], bool]:
    """Text pieces and whether a tool call is present, from a string or a list of content blocks."""
    if content is None:
        return [], False
    if isinstance(content, str):
        return [content], False
    if not isinstance(content, list):
        raise ShapeError(f"{what} is a {type(content).__name__}, expected a string or a list of blocks")
    texts: list[str] = []
    tool = False
    for block in content:
        if isinstance(block, str):
            texts.append(block)
            continue
        if not isinstance(block, dict):
            raise ShapeError(f"{what} holds a {type(block).__name__}, expected content blocks")
        kind = block.get("type")
        text = block.get("text")
        if isinstance(text, str) and kind in (None, "text"):
            texts.append(text)
        elif kind in ("tool_use", "tool_call", "function") or "toolUse" in block:
            tool = True
        elif "toolResult" in block:
            result = _dict(block["toolResult"], f"{what} toolResult")
            inner, _ = _text_of_content(result.get("content"), f"{what} toolResult.content")
            texts.extend(inner)
        elif kind == "tool_result":
            inner, _ = _text_of_content(block.get("content"), f"{what} tool_result.content")
            texts.extend(inner)
    return texts, tool


def _join(parts: list[str]) -> str | None:
    return "\n".join(parts) if parts else None


# --------------------------------------------------------------------------------------------------- requests


def _messages_request(body: dict[str, Any], shape: str) -> RequestInfo:
    if shape == "converse" and body.get("messages") is None:  # the Converse API requires it
        raise ShapeError("converse request has no 'messages'")
    messages = _list(body, "messages", f"{shape} request")
    system_parts: list[str] = []
    system = body.get("system", body.get("preamble"))
    if system is not None:
        system_parts, _ = _text_of_content(system, f"{shape} request system")
    turns: list[tuple[str, list[str]]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ShapeError(f"{shape} request messages[{i}] is a {type(message).__name__}")
        role = str(message.get("role", "")).lower()
        texts, _ = _text_of_content(message.get("content"), f"{shape} request messages[{i}].content")
        if role == "system":
            system_parts.extend(texts)
        else:
            turns.append((role, texts))
    last_user = max((i for i, (role, _) in enumerate(turns) if role == "user"), default=None)
    if last_user is None:
        return RequestInfo(shape, _join(system_parts), None, len(turns))
    return RequestInfo(shape, _join(system_parts), _join(turns[last_user][1]), last_user)


_HUMAN_TURNS = re.compile(r"(?:^|\n\n)(Human|Assistant):")
_LLAMA3_TURN = re.compile(r"<\|start_header_id\|>(\w+)<\|end_header_id\|>\s*(.*?)(?:<\|eot_id\|>|$)", re.S)
_INST = re.compile(r"\[INST\](.*?)\[/INST\]([^\[]*)", re.S)
_LLAMA2_SYS = re.compile(r"<<SYS>>(.*?)<</SYS>>", re.S)
_TITAN_TURNS = re.compile(r"(?:^|\n)(User|Bot):")


def _split_marked(prompt: str, pattern: re.Pattern[str], user: str) -> RequestInfo | None:
    """Split 'Role: text' transcripts (Claude legacy, Titan chat); None when no markers are present."""
    pieces = pattern.split(prompt)
    if len(pieces) < 3:
        return None
    preamble = pieces[0].strip()
    turns = [(pieces[i], pieces[i + 1].strip()) for i in range(1, len(pieces) - 1, 2)]
    if turns and not turns[-1][1] and turns[-1][0] != user:
        turns.pop()  # the open "Assistant:" / "Bot:" cue the model completes
    users = [i for i, (role, _) in enumerate(turns) if role == user]
    if not users:
        return RequestInfo("", preamble or None, None, len(turns))
    return RequestInfo("", preamble or None, turns[users[-1]][1], users[-1])


def _llama3(prompt: str) -> RequestInfo:
    system: list[str] = []
    turns: list[tuple[str, str]] = []
    for role, text in _LLAMA3_TURN.findall(prompt):
        if role == "system":
            system.append(text.strip())
        elif text.strip() or role != "assistant":
            turns.append((role, text.strip()))
    users = [i for i, (role, _) in enumerate(turns) if role == "user"]
    last = users[-1] if users else None
    return RequestInfo(
        "llama", _join(system), turns[last][1] if last is not None else None, last if last is not None else 0
    )


def _inst(prompt: str, shape: str) -> RequestInfo:
    exchanges = _INST.findall(prompt)
    system = None
    if exchanges:
        first = exchanges[0][0]
        sys_match = _LLAMA2_SYS.search(first)
        if sys_match:
            system = sys_match.group(1).strip()
            exchanges[0] = (_LLAMA2_SYS.sub("", first), exchanges[0][1])
    if not exchanges:
        return RequestInfo(shape, None, prompt.replace("<s>", "").strip() or None, 0)
    prompt_text = exchanges[-1][0].strip()
    return RequestInfo(shape, system, prompt_text or None, 2 * (len(exchanges) - 1))


def _prompt_request(body: dict[str, Any]) -> RequestInfo:
    prompt = body["prompt"]
    if not isinstance(prompt, str):
        raise ShapeError(f"request 'prompt' is a {type(prompt).__name__}, expected a string")
    if "max_tokens_to_sample" in body or "\n\nHuman:" in prompt:
        info = _split_marked(prompt, _HUMAN_TURNS, "Human")
        if info is not None:
            info.shape = "anthropic_text"
            return info
        return RequestInfo("anthropic_text", None, prompt.strip() or None, 0)
    if "<|start_header_id|>" in prompt:
        return _llama3(prompt)
    if "[INST]" in prompt:
        shape = "llama" if ("max_gen_len" in body or "<<SYS>>" in prompt) else "mistral_text"
        return _inst(prompt, shape)
    if "max_gen_len" in body:
        shape = "llama"
    elif "maxTokens" in body or "numResults" in body:
        shape = "ai21_j2"
    elif {"p", "k", "num_generations", "return_likelihoods"} & body.keys():
        shape = "cohere_command"
    else:
        shape = "text_prompt"
    return RequestInfo(shape, None, prompt.replace("<|begin_of_text|>", "").strip() or None, 0)


def _titan_request(body: dict[str, Any]) -> RequestInfo:
    text = body["inputText"]
    if not isinstance(text, str):
        raise ShapeError(f"titan request 'inputText' is a {type(text).__name__}, expected a string")
    info = _split_marked(text, _TITAN_TURNS, "User")
    if info is None:
        return RequestInfo("titan_text", None, text.strip() or None, 0)
    info.shape = "titan_text"
    return info


def _cohere_chat_request(body: dict[str, Any]) -> RequestInfo:
    message = body["message"]
    if not isinstance(message, str):
        raise ShapeError(f"cohere chat request 'message' is a {type(message).__name__}, expected a string")
    history = _list(body, "chat_history", "cohere chat request")
    preamble = body.get("preamble")
    if preamble is not None and not isinstance(preamble, str):
        raise ShapeError("cohere chat request 'preamble' is not a string")
    return RequestInfo("cohere_chat", preamble, message, len(history))


def _is_converse_content(messages: list[Any]) -> bool:
    for message in messages:
        if isinstance(message, dict) and isinstance(message.get("content"), list):
            for block in message["content"]:
                if isinstance(block, dict):
                    return "type" not in block
    return False


def parse_request(body: Any, operation: str | None = None) -> RequestInfo:
    """Prompt, system text and earlier turns from a request body (``inputBodyJson``)."""
    if not isinstance(body, dict):
        raise ShapeError(f"request body is a {type(body).__name__}, expected an object")
    if operation in CONVERSE_OPERATIONS:
        return _messages_request(body, "converse")
    if "messages" in body:
        messages = body["messages"]
        if "anthropic_version" in body:
            return _messages_request(body, "anthropic_messages")
        if isinstance(messages, list) and (
            body.get("schemaVersion") == "messages-v1" or _is_converse_content(messages)
        ):
            return _messages_request(body, "nova")
        return _messages_request(body, "chat_messages")
    if "prompt" in body:
        return _prompt_request(body)
    if "inputText" in body:
        return _titan_request(body)
    if "message" in body:
        return _cohere_chat_request(body)
    return RequestInfo("unknown")


# --------------------------------------------------------------------------------------------------- responses

_METRICS_KEY = "amazon-bedrock-invocationMetrics"


def _apply_invocation_metrics(info: ResponseInfo, chunk: dict[str, Any]) -> None:
    metrics = chunk.get(_METRICS_KEY)
    if not isinstance(metrics, dict):
        return
    info.input_tokens = _as_int(metrics.get("inputTokenCount"))
    info.output_tokens = _as_int(metrics.get("outputTokenCount"))
    info.cache_read_tokens = _as_int(metrics.get("cacheReadInputTokenCount"))
    info.cache_write_tokens = _as_int(metrics.get("cacheWriteInputTokenCount"))
    info.latency_ms = _as_int(metrics.get("invocationLatency"))
    info.first_byte_latency_ms = _as_int(metrics.get("firstByteLatency"))


def _guardrail(info: ResponseInfo, body: dict[str, Any]) -> None:
    action = body.get("amazon-bedrock-guardrailAction")
    if isinstance(action, str) and action.upper() == "INTERVENED":
        info.guardrail_intervened = True


def _converse_usage(info: ResponseInfo, usage: dict[str, Any]) -> None:
    info.input_tokens = _as_int(usage.get("inputTokens"))
    info.output_tokens = _as_int(usage.get("outputTokens"))
    info.cache_read_tokens = _as_int(usage.get("cacheReadInputTokens", usage.get("cacheReadInputTokenCount")))
    info.cache_write_tokens = _as_int(
        usage.get("cacheWriteInputTokens", usage.get("cacheWriteInputTokenCount"))
    )


def _anthropic_usage(info: ResponseInfo, usage: dict[str, Any]) -> None:
    info.input_tokens = _as_int(usage.get("input_tokens"))
    info.output_tokens = _as_int(usage.get("output_tokens"))
    info.cache_read_tokens = _as_int(usage.get("cache_read_input_tokens"))
    info.cache_write_tokens = _as_int(usage.get("cache_creation_input_tokens"))


def _first(items: list[Any], what: str) -> dict[str, Any]:
    return _dict(items[0], f"{what}[0]") if items else {}


def _response_dict(body: dict[str, Any], operation: str | None) -> ResponseInfo:
    if "output" in body and (operation in CONVERSE_OPERATIONS or isinstance(body["output"], dict)):
        shape = "converse" if operation in CONVERSE_OPERATIONS else "nova"
        info = ResponseInfo(shape)
        info.stop_reason_raw = body.get("stopReason")
        _converse_usage(info, _dict(body.get("usage"), f"{shape} response usage"))
        info.latency_ms = _as_int(_dict(body.get("metrics"), f"{shape} response metrics").get("latencyMs"))
        try:
            output = _dict(body["output"], f"{shape} response 'output'")
            message = _dict(output.get("message"), f"{shape} response output.message")
            info.text_parts, info.tool_use = _text_of_content(
                message.get("content"), f"{shape} response output.message.content"
            )
        except ShapeError as exc:
            raise ShapeError(str(exc), partial=info) from None
        return info
    if body.get("type") == "message" or ("content" in body and "stop_reason" in body):
        info = ResponseInfo("anthropic_messages")
        info.stop_reason_raw = body.get("stop_reason")
        _anthropic_usage(info, _dict(body.get("usage"), "anthropic response usage"))
        try:
            info.text_parts, info.tool_use = _text_of_content(
                body.get("content"), "anthropic response content"
            )
        except ShapeError as exc:
            raise ShapeError(str(exc), partial=info) from None
        return info
    if "completion" in body:
        completion = body["completion"]
        if not isinstance(completion, str):
            raise ShapeError("anthropic legacy response 'completion' is not a string")
        return ResponseInfo("anthropic_text", [completion], stop_reason_raw=body.get("stop_reason"))
    if "results" in body:
        results = _list(body, "results", "titan response")
        first = _first(results, "titan response results")
        info = ResponseInfo("titan_text", stop_reason_raw=first.get("completionReason"))
        for i, result in enumerate(results):
            text = _dict(result, f"titan response results[{i}]").get("outputText")
            if isinstance(text, str):
                info.text_parts.append(text)
        info.input_tokens = _as_int(body.get("inputTextTokenCount"))
        counts = [_as_int(_dict(r, "titan result").get("tokenCount")) for r in results]
        info.output_tokens = (
            sum(c for c in counts if c is not None) if any(c is not None for c in counts) else None
        )
        return info
    if "generation" in body:
        generation = body["generation"]
        if not isinstance(generation, str):
            raise ShapeError("llama response 'generation' is not a string")
        info = ResponseInfo("llama", [generation], stop_reason_raw=body.get("stop_reason"))
        info.input_tokens = _as_int(body.get("prompt_token_count"))
        info.output_tokens = _as_int(body.get("generation_token_count"))
        return info
    if "outputs" in body:
        first = _first(_list(body, "outputs", "mistral response"), "mistral response outputs")
        text = first.get("text")
        return ResponseInfo(
            "mistral_text", [text] if isinstance(text, str) else [], stop_reason_raw=first.get("stop_reason")
        )
    if "choices" in body:
        first = _first(_list(body, "choices", "chat response"), "chat response choices")
        message = _dict(first.get("message"), "chat response choices[0].message")
        info = ResponseInfo("chat_choices")
        info.text_parts, info.tool_use = _text_of_content(
            message.get("content"), "chat response choices[0].message.content"
        )
        info.tool_use = info.tool_use or bool(message.get("tool_calls"))
        info.stop_reason_raw = first.get("finish_reason", first.get("stop_reason"))
        usage = _dict(body.get("usage"), "chat response usage")
        info.input_tokens = _as_int(usage.get("prompt_tokens"))
        info.output_tokens = _as_int(usage.get("completion_tokens"))
        return info
    if "generations" in body:
        first = _first(_list(body, "generations", "cohere response"), "cohere response generations")
        text = first.get("text")
        return ResponseInfo(
            "cohere_command",
            [text] if isinstance(text, str) else [],
            stop_reason_raw=first.get("finish_reason"),
        )
    if "text" in body and ({"response_id", "generation_id", "finish_reason"} & body.keys()):
        text = body["text"]
        if not isinstance(text, str):
            raise ShapeError("cohere chat response 'text' is not a string")
        info = ResponseInfo("cohere_chat", [text] if text else [], stop_reason_raw=body.get("finish_reason"))
        info.tool_use = bool(body.get("tool_calls"))
        units = _dict(_dict(body.get("meta"), "cohere meta").get("billed_units"), "cohere billed_units")
        info.input_tokens = _as_int(units.get("input_tokens"))
        info.output_tokens = _as_int(units.get("output_tokens"))
        return info
    if "completions" in body:
        first = _first(_list(body, "completions", "ai21 response"), "ai21 response completions")
        text = _dict(first.get("data"), "ai21 completions[0].data").get("text")
        reason = _dict(first.get("finishReason"), "ai21 finishReason").get("reason")
        return ResponseInfo("ai21_j2", [text] if isinstance(text, str) else [], stop_reason_raw=reason)
    return ResponseInfo("unknown")


def _stream_family(chunks: list[dict[str, Any]]) -> str:
    for chunk in chunks:
        kind = chunk.get("type")
        if isinstance(kind, str) and kind.startswith(("message_", "content_block_")):
            return "anthropic_messages"
        if {"messageStart", "contentBlockDelta", "messageStop", "contentBlockStart"} & chunk.keys():
            return "nova"
        if "completion" in chunk:
            return "anthropic_text"
        if "outputText" in chunk:
            return "titan_text"
        if "generation" in chunk:
            return "llama"
        if "outputs" in chunk:
            return "mistral_text"
        if "choices" in chunk:
            return "chat_choices"
        if "event_type" in chunk:
            return "cohere_chat"
        if "is_finished" in chunk or "generations" in chunk:
            return "cohere_command"
    return "unknown"


def _stream_anthropic(info: ResponseInfo, chunks: list[dict[str, Any]]) -> None:
    blocks: dict[int, list[str]] = {}
    for chunk in chunks:
        kind = chunk.get("type")
        index = _as_int(chunk.get("index")) or 0
        if kind == "message_start":
            _anthropic_usage(
                info, _dict(_dict(chunk.get("message"), "message_start.message").get("usage"), "usage")
            )
        elif kind == "content_block_start":
            block = _dict(chunk.get("content_block"), "content_block_start.content_block")
            if block.get("type") == "tool_use":
                info.tool_use = True
            elif isinstance(block.get("text"), str) and block["text"]:
                blocks.setdefault(index, []).append(block["text"])
        elif kind == "content_block_delta":
            delta = _dict(chunk.get("delta"), "content_block_delta.delta")
            if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                blocks.setdefault(index, []).append(delta["text"])
            elif delta.get("type") == "input_json_delta":
                info.tool_use = True
        elif kind == "message_delta":
            delta = _dict(chunk.get("delta"), "message_delta.delta")
            info.stop_reason_raw = delta.get("stop_reason", info.stop_reason_raw)
            out = _as_int(_dict(chunk.get("usage"), "message_delta.usage").get("output_tokens"))
            info.output_tokens = out if out is not None else info.output_tokens
    info.text_parts = ["".join(blocks[i]) for i in sorted(blocks)]


def _stream_text(info: ResponseInfo, chunks: list[dict[str, Any]], family: str) -> None:
    parts: list[str] = []
    for chunk in chunks:
        text: Any = None
        reason: Any = None
        if family == "anthropic_text":
            text, reason = chunk.get("completion"), chunk.get("stop_reason")
        elif family == "titan_text":
            text, reason = chunk.get("outputText"), chunk.get("completionReason")
        elif family == "llama":
            text, reason = chunk.get("generation"), chunk.get("stop_reason")
        elif family == "mistral_text":
            first = _first(_list(chunk, "outputs", "mistral stream chunk"), "mistral chunk outputs")
            text, reason = first.get("text"), first.get("stop_reason")
        elif family == "chat_choices":
            first = _first(_list(chunk, "choices", "chat stream chunk"), "chat chunk choices")
            delta = _dict(first.get("delta", first.get("message")), "chat chunk delta")
            text, reason = delta.get("content"), first.get("finish_reason", first.get("stop_reason"))
            info.tool_use = info.tool_use or bool(delta.get("tool_calls"))
        elif family == "cohere_command":
            text, reason = chunk.get("text"), chunk.get("finish_reason")
        elif family == "cohere_chat":
            event = chunk.get("event_type")
            if event == "text-generation":
                text = chunk.get("text")
            elif event == "stream-end":
                reason = chunk.get("finish_reason")
            elif event == "tool-calls-generation":
                info.tool_use = True
        elif family == "nova":
            delta = _dict(_dict(chunk.get("contentBlockDelta"), "contentBlockDelta").get("delta"), "delta")
            text = delta.get("text")
            info.tool_use = info.tool_use or "toolUse" in delta
            reason = _dict(chunk.get("messageStop"), "messageStop").get("stopReason")
            usage = (
                chunk.get("metadata", {}).get("usage") if isinstance(chunk.get("metadata"), dict) else None
            )
            if isinstance(usage, dict):
                _converse_usage(info, usage)
        if isinstance(text, str):
            parts.append(text)
        if isinstance(reason, str):
            info.stop_reason_raw = reason
    joined = "".join(parts)
    info.text_parts = [joined] if joined else []


def _response_stream(chunks: list[Any]) -> ResponseInfo:
    if not chunks:
        return ResponseInfo("empty")
    for i, chunk in enumerate(chunks):
        if not isinstance(chunk, dict):
            raise ShapeError(f"stream chunk [{i}] is a {type(chunk).__name__}, expected an object")
    dict_chunks: list[dict[str, Any]] = chunks
    family = _stream_family(dict_chunks)
    info = ResponseInfo(family)
    if family == "anthropic_messages":
        _stream_anthropic(info, dict_chunks)
    elif family != "unknown":
        _stream_text(info, dict_chunks, family)
    # Bedrock's own metrics may sit on any chunk (usually the last) and are authoritative for the stream.
    for chunk in dict_chunks:
        if _METRICS_KEY in chunk:
            usage_out = info.output_tokens
            _apply_invocation_metrics(info, chunk)
            if info.output_tokens is None:
                info.output_tokens = usage_out
        _guardrail(info, chunk)
    return info


def parse_response(body: Any, operation: str | None = None) -> ResponseInfo:
    """Completion, stop reason, usage and latency from ``outputBodyJson`` (a dict, or a list of chunks)."""
    if isinstance(body, list):
        return _response_stream(body)
    if not isinstance(body, dict):
        raise ShapeError(f"response body is a {type(body).__name__}, expected an object or a list of chunks")
    info = _response_dict(body, operation)
    _guardrail(info, body)
    return info


# --------------------------------------------------------------------------------------------------- stop reasons

_STOP_REASONS = {
    "end_turn": "end_turn",
    "stop": "end_turn",
    "complete": "end_turn",
    "finished": "end_turn",
    "finish": "end_turn",
    "endoftext": "end_turn",
    "eos": "end_turn",
    "stop_sequence": "stop_sequence",
    "stop_criteria_met": "stop_sequence",
    "max_tokens": "max_tokens",
    "length": "max_tokens",
    "model_context_window_exceeded": "max_tokens",
    "tool_use": "tool_use",
    "tool_calls": "tool_use",
    "guardrail_intervened": "guardrail_intervened",
    "content_filtered": "content_filtered",
    "error_toxic": "content_filtered",
    "refusal": "refusal",
    "error": "error",
    "malformed_model_output": "error",
    "malformed_tool_use": "error",
}


def normalize_stop_reason(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    return _STOP_REASONS.get(raw.lower(), "other")

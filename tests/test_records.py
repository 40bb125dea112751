"""Record parsing: the six published records, and every kind of bad line with its reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from llmdrift.bedrock.records import OffloadError, parse_caller, parse_line
from llmdrift.core import schemas

FOLDER = datetime(2026, 4, 20, 0, tzinfo=UTC)


def parse(record: Any, fetch: Any = None) -> Any:
    raw = record if isinstance(record, bytes) else json.dumps(record).encode()
    return parse_line(raw, FOLDER, fetch)


def codes(result: Any) -> list[str]:
    return [issue.code for issue in result.issues]


def minimal(**extra: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": "2026-04-20T00:10:00Z",
        "requestId": "r-1",
        "operation": "Converse",
        "modelId": "amazon.nova-micro-v1:0",
    }
    rec.update(extra)
    return rec


def test_row_has_exactly_the_invocations_columns(real_sample_lines: list[bytes]) -> None:
    row = parse(real_sample_lines[0]).row
    expected = set(schemas.load("invocations").names) - {"source_file", "source_line"}
    assert set(row) == expected


def test_s1_converse_stream_nova(real_sample_lines: list[bytes]) -> None:
    result = parse(real_sample_lines[0])
    row = result.row
    assert result.issues == []
    assert row["event_ts"] == datetime(2025, 3, 11, 0, 38, 2, tzinfo=UTC)
    assert row["dt"] == "2025-03-11"
    assert (row["caller_type"], row["caller_name"]) == ("user", "dheeraj")
    assert (row["operation"], row["base_model_id"], row["provider"], row["endpoint_scope"]) == (
        "ConverseStream",
        "amazon.nova-lite-v1:0",
        "amazon",
        "in_region",
    )
    assert (row["prompt_text"], row["prior_turns"], row["system_text"]) == ("hello how are you", 0, None)
    assert row["completion_text"].startswith("Hello! I'm doing well")
    assert row["completion_type"] == "text"
    assert (row["stop_reason"], row["input_tokens"], row["output_tokens"], row["latency_ms"]) == (
        "end_turn",
        4,
        38,
        302,
    )
    assert (row["cache_read_tokens"], row["cache_write_tokens"], row["tokens_from_body"]) == (0, 0, False)
    assert (row["input_body_shape"], row["output_body_shape"]) == ("converse", "converse")


def test_s2_stream_chunks_with_masked_fields(real_sample_lines: list[bytes]) -> None:
    result = parse(real_sample_lines[1])
    row = result.row
    # The masked timestamp cannot be read: the hour folder stands in, and the row says so.
    assert codes(result) == ["invalid_timestamp"]
    assert (row["event_ts"], row["event_ts_source"]) == (FOLDER, "hour_folder")
    assert row["request_id"] == "xxxxxxxxxxxxxxxxxxxxxxx"
    assert row["caller_type"] == "unknown"
    assert (row["prompt_text"], row["completion_text"]) == ("Hello", " Hello!")
    assert (row["stop_reason"], row["stop_reason_raw"]) == ("stop_sequence", "stop_sequence")
    assert (row["latency_ms"], row["first_byte_latency_ms"], row["output_tokens"]) == (765, 690, 6)
    assert row["output_body_shape"] == "anthropic_text"


def test_s3_invoke_model_forced_tool_call(real_sample_lines: list[bytes]) -> None:
    row = parse(real_sample_lines[2]).row
    assert row["system_text"] == "(system prompt elided in the published sample)"
    assert row["prompt_text"] == "(long user prompt elided in the published sample)"
    assert (row["completion_text"], row["completion_type"], row["stop_reason"]) == (
        None,
        "tool_use",
        "max_tokens",
    )
    assert (row["input_tokens"], row["output_tokens"], row["body_input_tokens"]) == (5143, 3997, 5143)
    assert row["latency_ms"] is None  # InvokeModel logs no latency


def test_s4_global_profile_with_truncated_bodies(real_sample_lines: list[bytes]) -> None:
    result = parse(real_sample_lines[3])
    row = result.row
    assert sorted(codes(result)) == ["malformed_input_body", "malformed_output_body"]
    assert all(issue.field for issue in result.issues)
    assert (row["base_model_id"], row["endpoint_scope"], row["inference_region"]) == (
        "anthropic.claude-opus-4-5-20251101-v1:0",
        "global",
        "us-east-2",
    )
    assert (row["input_body_shape"], row["output_body_shape"], row["prompt_text"]) == (
        "malformed",
        "malformed",
        None,
    )
    # What surrounds the damage is kept: stop reason, latency and usage.
    assert (row["stop_reason"], row["latency_ms"], row["input_tokens"], row["output_tokens"]) == (
        "end_turn",
        3114,
        255,
        113,
    )


def test_s5_profile_arn_offloaded_input(real_sample_lines: list[bytes]) -> None:
    fetched: list[str] = []

    def fetch(path: str) -> Any:
        fetched.append(path)
        return {
            "anthropic_version": "bedrock-2023-05-31",
            "messages": [{"role": "user", "content": "Fix the build"}],
        }

    result = parse(real_sample_lines[4], fetch)
    row = result.row
    assert fetched == [json.loads(real_sample_lines[4])["input"]["inputBodyS3Path"]]
    assert (row["input_body_status"], row["prompt_text"]) == ("offloaded", "Fix the build")
    assert (row["base_model_id"], row["endpoint_scope"]) == ("anthropic.claude-opus-4-7", "global")
    assert (row["input_tokens"], row["cache_write_tokens"], row["output_tokens"]) == (6, 225913, 167)
    assert codes(result) == ["malformed_output_body"]


def test_s5_offloaded_body_missing(real_sample_lines: list[bytes]) -> None:
    def fetch(path: str) -> Any:
        raise OffloadError("offloaded_body_missing", "not found")

    result = parse(real_sample_lines[4], fetch)
    assert result.row["input_body_status"] == "offloaded_missing"
    assert "offloaded_body_missing" in codes(result)


def test_s6_metadata_only(real_sample_lines: list[bytes]) -> None:
    result = parse(real_sample_lines[5])
    row = result.row
    assert result.issues == []
    assert (row["input_body_status"], row["output_body_status"]) == ("absent", "absent")
    assert (row["prompt_text"], row["completion_text"], row["completion_type"]) == (None, None, None)
    assert (row["base_model_id"], row["endpoint_scope"], row["caller_type"]) == (
        "amazon.nova-micro-v1:0",
        "geo",
        "assumed_role",
    )
    assert (row["input_tokens"], row["output_tokens"]) == (1, 8)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"requestId": "r-1", "timestamp": ', "invalid_json"),
        (b"[1, 2, 3]", "not_an_object"),
        (b'"a string"', "not_an_object"),
        (b"42", "not_an_object"),
        (b'{"timestamp": "2026-04-20T00:10:00Z"}', "missing_request_id"),
        (b'{"requestId": 17}', "missing_request_id"),
        (b'{"requestId": "r", "schemaType": "SomethingElse"}', "unsupported_schema_type"),
    ],
)
def test_rejected_lines(raw: bytes, code: str) -> None:
    result = parse(raw)
    assert result.row is None
    assert codes(result) == [code]
    assert result.issues[0].excerpt  # a bounded excerpt of the line is kept


def test_line_too_long_is_rejected() -> None:
    result = parse_line(b'{"requestId": "' + b"x" * 2000 + b'"}', FOLDER, None, max_line_bytes=1000)
    assert result.row is None
    assert codes(result) == ["line_too_long"]
    assert len(result.issues[0].excerpt or "") < 400


def test_wrong_types_are_ignored_field_by_field() -> None:
    result = parse(
        minimal(
            identity="arn-as-a-string",
            region=5,
            input={"inputTokenCount": "many"},
            output={"outputTokenCount": -3},
            requestMetadata=["a"],
        )
    )
    row = result.row
    assert row is not None
    fields = sorted(issue.field or "" for issue in result.issues if issue.code == "wrong_type")
    assert fields == [
        "identity",
        "input.inputTokenCount",
        "output.outputTokenCount",
        "region",
        "requestMetadata",
    ]
    assert (
        row["caller_arn"],
        row["region"],
        row["input_tokens"],
        row["output_tokens"],
        row["request_metadata"],
    ) == (None, None, None, None, None)


def test_unknown_body_shapes_keep_the_row() -> None:
    result = parse(
        minimal(
            operation="InvokeModel",
            input={"inputBodyJson": {"inputs": "hi"}},
            output={"outputBodyJson": {"answer": "hello"}, "outputTokenCount": 2},
        )
    )
    assert codes(result) == ["unknown_input_shape", "unknown_output_shape"]
    assert (result.row["input_body_shape"], result.row["output_body_shape"], result.row["output_tokens"]) == (
        "unknown",
        "unknown",
        2,
    )


def test_invalid_utf8_is_replaced_and_kept() -> None:
    raw = json.dumps(
        minimal(input={"inputBodyJson": {"messages": [{"role": "user", "content": [{"text": "caf_"}]}]}})
    ).encode()
    raw = raw.replace(b"caf_", b"caf\xe9")
    result = parse(raw)
    assert codes(result) == ["invalid_utf8"]
    assert result.row["prompt_text"] == "caf\ufffd"


def test_error_record() -> None:
    result = parse(minimal(errorCode="ThrottlingException", input={}, output={}))
    row = result.row
    assert result.issues == []
    assert (row["error_code"], row["completion_type"], row["input_tokens"], row["stop_reason"]) == (
        "ThrottlingException",
        None,
        None,
        None,
    )


def test_token_fallback_to_body_usage() -> None:
    body = {"generation": "ok", "prompt_token_count": 12, "generation_token_count": 3, "stop_reason": "stop"}
    row = parse(minimal(operation="InvokeModel", output={"outputBodyJson": body})).row
    assert (row["input_tokens"], row["output_tokens"], row["tokens_from_body"]) == (12, 3, True)


def test_request_metadata_is_a_string_map() -> None:
    row = parse(minimal(requestMetadata={"team": "cx", "n": 3})).row
    assert row["request_metadata"] == [("team", "cx"), ("n", "3")]


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ("arn:aws:iam::123456789012:user/dev/alice", ("user", "alice", None)),
        (
            "arn:aws:sts::123456789012:assumed-role/support-bot/i-0abc",
            ("assumed_role", "support-bot", "i-0abc"),
        ),
        ("arn:aws:iam::123456789012:root", ("root", "root", None)),
        ("arn:aws:sts::123456789012:federated-user/bob", ("federated_user", "bob", None)),
        ("not-an-arn", ("unknown", "not-an-arn", None)),
        (None, (None, None, None)),
    ],
)
def test_parse_caller(arn: str | None, expected: tuple[str | None, ...]) -> None:
    assert parse_caller(arn) == expected

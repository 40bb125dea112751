"""One line of a Bedrock invocation log -> one ``invocations`` row and/or quarantine issues.

Every field is read by key and type-checked; nothing is positional. A line that cannot become a row
(not JSON, not an object, another schemaType, no requestId) is *rejected*: it yields one issue and no row.
A record that can be read in part yields the row with what could be read plus one issue per problem
(``row_kept``): a wrong type in a field, an unreadable timestamp (the hour folder stands in), a body of
unknown or malformed shape, an offloaded body that could not be fetched.

Token counts come from the record (``input.inputTokenCount`` ...), falling back to the body's usage;
``inputTokenCount`` excludes cache reads and writes (spec §0.5).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from llmdrift.bedrock.models import resolve_model_id
from llmdrift.bedrock.shapes import (
    RequestInfo,
    ResponseInfo,
    ShapeError,
    normalize_stop_reason,
    parse_request,
    parse_response,
)

EXCERPT_CHARS = 300
RECORD_SCHEMA_TYPE = "ModelInvocationLog"

# Reason codes, with the readable text used when no more specific message exists.
REASONS: dict[str, str] = {
    # rejected lines
    "invalid_json": "line is not valid JSON",
    "not_an_object": "line is valid JSON but not an object",
    "unsupported_schema_type": "record schemaType is not ModelInvocationLog",
    "missing_request_id": "record has no usable requestId",
    "line_too_long": "line exceeds the maximum line size",
    # problems with a whole object
    "empty_file": "object is empty",
    "not_gzip": "object is not gzip data",
    "gzip_corrupt": "gzip data is corrupt",
    "gzip_truncated": "gzip data ends early; the lines before the damage were read",
    "read_error": "object could not be read",
    # rows kept with a warning
    "invalid_utf8": "line is not valid UTF-8; undecodable bytes were replaced",
    "invalid_timestamp": "timestamp is missing or unreadable; the hour folder time is used",
    "wrong_type": "field has the wrong type and was ignored",
    "unknown_input_shape": "request body shape is not recognised",
    "unknown_output_shape": "response body shape is not recognised",
    "malformed_input_body": "request body does not have the structure of its shape",
    "malformed_output_body": "response body does not have the structure of its shape",
    "offloaded_body_missing": "offloaded body object was not found",
    "offloaded_body_too_large": "offloaded body object is larger than the limit",
    "offloaded_body_invalid": "offloaded body object is not gzip JSON",
    # scoring (llmdrift.score): the row is kept, its text metrics are limited
    "text_binary": "text looks binary; its model metrics are null",
    "text_truncated": "text is very long; it was scored on its first characters",
}


class OffloadError(Exception):
    """Raised by a body fetcher: ``code`` is one of the offloaded_body_* reason codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


BodyFetcher = Callable[[str], Any]


@dataclass
class Issue:
    code: str
    reason: str
    field: str | None = None
    excerpt: str | None = None


@dataclass
class LineResult:
    row: dict[str, Any] | None
    issues: list[Issue] = field(default_factory=list)
    request_id: str | None = None


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    if isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def reject(code: str, raw: Any, reason: str | None = None, request_id: str | None = None) -> LineResult:
    return LineResult(None, [Issue(code, reason or REASONS[code], excerpt=excerpt(raw))], request_id)


class _Fields:
    """Typed access to a JSON object, collecting wrong-type issues instead of failing."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues

    def wrong(self, path: str, value: Any, expected: str) -> None:
        self.issues.append(
            Issue(
                "wrong_type", f"{path} is a {type(value).__name__}, expected {expected}", path, excerpt(value)
            )
        )

    def object(self, parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
        value = parent.get(key)
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        self.wrong(path, value, "an object")
        return {}

    def string(self, parent: dict[str, Any], key: str, path: str) -> str | None:
        value = parent.get(key)
        if value is None or isinstance(value, str):
            return value
        self.wrong(path, value, "a string")
        return None

    def integer(self, parent: dict[str, Any], key: str, path: str) -> int | None:
        value = parent.get(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            if value >= 0:
                return value
        elif isinstance(value, float) and value.is_integer() and value >= 0:
            return int(value)
        self.wrong(path, value, "a non-negative integer")
        return None


def parse_caller(arn: str | None) -> tuple[str | None, str | None, str | None]:
    """(caller_type, caller_name, caller_session) from an identity ARN."""
    if not arn:
        return None, None, None
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return "unknown", arn, None
    resource = parts[5]
    if resource == "root":
        return "root", "root", None
    kind, _, rest = resource.partition("/")
    if kind == "user":
        return "user", rest.rsplit("/", 1)[-1] or None, None
    if kind == "assumed-role":
        role, _, session = rest.partition("/")
        return "assumed_role", role or None, session or None
    if kind == "federated-user":
        return "federated_user", rest or None, None
    if kind == "role":
        return "role", rest.rsplit("/", 1)[-1] or None, None
    return "unknown", arn, None


def _parse_timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _body(
    section: dict[str, Any],
    inline_key: str,
    path_key: str,
    side: str,
    fields: _Fields,
    fetch: BodyFetcher | None,
) -> tuple[Any, str]:
    """The body (parsed JSON or None) and its status."""
    s3_path = fields.string(section, path_key, f"{side}.{path_key}")
    inline = section.get(inline_key)
    if inline is not None:
        if isinstance(inline, str):
            # Defensive: a body logged as a JSON string (seen only in third-party tests).
            with contextlib.suppress(ValueError):
                inline = json.loads(inline)
        return inline, "inline"
    if not s3_path:
        return None, "absent"
    if fetch is None:
        return None, "offloaded_skipped"
    try:
        return fetch(s3_path), "offloaded"
    except OffloadError as exc:
        fields.issues.append(Issue(exc.code, f"{side} body {s3_path}: {exc}", f"{side}.{path_key}", s3_path))
        status = {
            "offloaded_body_missing": "offloaded_missing",
            "offloaded_body_too_large": "offloaded_too_large",
        }.get(exc.code, "offloaded_invalid")
        return None, status


def _first_not_none(*values: int | None) -> int | None:
    for value in values:
        if value is not None:
            return value
    return None


def parse_record(
    rec: Any,
    raw: bytes | str,
    folder_time: datetime,
    fetch: BodyFetcher | None = None,
) -> LineResult:
    """Parse one decoded JSON record. ``folder_time`` is the start of the hour folder it was delivered to."""
    if not isinstance(rec, dict):
        return reject("not_an_object", raw, f"line is a JSON {type(rec).__name__}, expected an object")
    issues: list[Issue] = []
    f = _Fields(issues)
    request_id = rec.get("requestId")
    if not isinstance(request_id, str) or not request_id.strip():
        return reject("missing_request_id", raw)
    schema_type = rec.get("schemaType")
    if schema_type is not None and schema_type != RECORD_SCHEMA_TYPE:
        return reject(
            "unsupported_schema_type", raw, f"schemaType is {excerpt(schema_type, 60)!r}", request_id
        )

    ts = _parse_timestamp(rec.get("timestamp"))
    ts_source = "record"
    if ts is None:
        issues.append(
            Issue(
                "invalid_timestamp", REASONS["invalid_timestamp"], "timestamp", excerpt(rec.get("timestamp"))
            )
        )
        ts, ts_source = folder_time, "hour_folder"

    operation = f.string(rec, "operation", "operation")
    model_id = f.string(rec, "modelId", "modelId")
    identity = f.object(rec, "identity", "identity")
    caller_arn = f.string(identity, "arn", "identity.arn")
    caller_type, caller_name, caller_session = parse_caller(caller_arn)
    model = resolve_model_id(model_id)

    inp = f.object(rec, "input", "input")
    out = f.object(rec, "output", "output")
    in_body, in_status = _body(inp, "inputBodyJson", "inputBodyS3Path", "input", f, fetch)
    out_body, out_status = _body(out, "outputBodyJson", "outputBodyS3Path", "output", f, fetch)

    request = RequestInfo("none")
    if in_body is not None:
        try:
            request = parse_request(in_body, operation)
        except ShapeError as exc:
            request = RequestInfo("malformed")
            issues.append(Issue("malformed_input_body", str(exc), "input.inputBodyJson", excerpt(in_body)))
        if request.shape == "unknown":
            issues.append(
                Issue(
                    "unknown_input_shape",
                    REASONS["unknown_input_shape"],
                    "input.inputBodyJson",
                    excerpt(in_body),
                )
            )
    response = ResponseInfo("none")
    if out_body is not None:
        try:
            response = parse_response(out_body, operation)
        except ShapeError as exc:
            response = exc.partial or ResponseInfo("malformed")
            response.shape = "malformed"
            issues.append(
                Issue("malformed_output_body", str(exc), "output.outputBodyJson", excerpt(out_body))
            )
        if response.shape == "unknown":
            issues.append(
                Issue(
                    "unknown_output_shape",
                    REASONS["unknown_output_shape"],
                    "output.outputBodyJson",
                    excerpt(out_body),
                )
            )

    rec_in = f.integer(inp, "inputTokenCount", "input.inputTokenCount")
    rec_out = f.integer(out, "outputTokenCount", "output.outputTokenCount")
    rec_cr = f.integer(inp, "cacheReadInputTokenCount", "input.cacheReadInputTokenCount")
    rec_cw = f.integer(inp, "cacheWriteInputTokenCount", "input.cacheWriteInputTokenCount")
    input_tokens = _first_not_none(rec_in, response.input_tokens)
    output_tokens = _first_not_none(rec_out, response.output_tokens)
    cache_read = _first_not_none(rec_cr, response.cache_read_tokens)
    cache_write = _first_not_none(rec_cw, response.cache_write_tokens)
    from_body = (
        (rec_in is None and response.input_tokens is not None)
        or (rec_out is None and response.output_tokens is not None)
        or (rec_cr is None and response.cache_read_tokens is not None)
        or (rec_cw is None and response.cache_write_tokens is not None)
    )

    metadata_raw = rec.get("requestMetadata")
    metadata: list[tuple[str, str]] | None = None
    if isinstance(metadata_raw, dict):
        metadata = [
            (str(k), v if isinstance(v, str) else json.dumps(v, default=str)) for k, v in metadata_raw.items()
        ]
    elif metadata_raw is not None:
        f.wrong("requestMetadata", metadata_raw, "an object")

    error_code = f.string(rec, "errorCode", "errorCode")
    stop_raw = response.stop_reason_raw if isinstance(response.stop_reason_raw, str) else None
    guardrail = response.guardrail_intervened or normalize_stop_reason(stop_raw) == "guardrail_intervened"
    has_response = response.shape != "none" and (response.shape != "malformed" or bool(response.text_parts))

    row: dict[str, Any] = {
        "request_id": request_id,
        "event_ts": ts,
        "event_ts_source": ts_source,
        "account_id": f.string(rec, "accountId", "accountId"),
        "region": f.string(rec, "region", "region"),
        "inference_region": f.string(rec, "inferenceRegion", "inferenceRegion"),
        "caller_arn": caller_arn,
        "caller_type": caller_type,
        "caller_name": caller_name,
        "caller_session": caller_session,
        "operation": operation,
        "model_id": model_id,
        "base_model_id": model.base_model_id,
        "provider": model.provider,
        "endpoint_scope": model.endpoint_scope,
        "system_text": request.system,
        "prompt_text": request.prompt,
        "prior_turns": request.prior_turns,
        "completion_text": response.text,
        "completion_type": response.completion_type if has_response else None,
        "stop_reason": normalize_stop_reason(stop_raw),
        "stop_reason_raw": stop_raw,
        "error_code": error_code or None,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read,
        "cache_write_tokens": cache_write,
        "tokens_from_body": from_body,
        "body_input_tokens": response.input_tokens,
        "body_output_tokens": response.output_tokens,
        "latency_ms": response.latency_ms,
        "first_byte_latency_ms": response.first_byte_latency_ms,
        "guardrail_intervened": guardrail,
        "request_metadata": metadata,
        "input_body_status": in_status,
        "output_body_status": out_status,
        "input_body_shape": request.shape,
        "output_body_shape": response.shape,
        "schema_version": f.string(rec, "schemaVersion", "schemaVersion"),
        "dt": ts.strftime("%Y-%m-%d"),
        "hour": ts.hour,
    }
    return LineResult(row, issues, request_id)


def parse_line(
    raw: bytes, folder_time: datetime, fetch: BodyFetcher | None = None, max_line_bytes: int = 64 << 20
) -> LineResult:
    """Decode and parse one line of a log object (without its newline)."""
    if len(raw) > max_line_bytes:
        return reject(
            "line_too_long", raw[:EXCERPT_CHARS], f"line is {len(raw)} bytes, limit {max_line_bytes}"
        )
    utf8_issue: Issue | None = None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", errors="replace")
        utf8_issue = Issue(
            "invalid_utf8", f"{REASONS['invalid_utf8']} (first at byte {exc.start})", None, excerpt(text)
        )
    try:
        rec = json.loads(text)
    except ValueError as exc:
        return reject("invalid_json", text, f"line is not valid JSON: {exc}")
    result = parse_record(rec, text, folder_time, fetch)
    if utf8_issue is not None:
        if result.row is None:
            result.issues.append(utf8_issue)
        else:
            result.issues.insert(0, utf8_issue)
    return result

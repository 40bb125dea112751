"""Property tests: whatever a line holds, parsing ends in a row or a quarantine reason, never an exception."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmdrift.bedrock.records import REASONS, parse_line
from llmdrift.bedrock.shapes import ShapeError, parse_request, parse_response

FOLDER = datetime(2026, 11, 2, 10, tzinfo=UTC)
KEYS = [
    "requestId",
    "timestamp",
    "operation",
    "modelId",
    "identity",
    "input",
    "output",
    "requestMetadata",
    "errorCode",
    "schemaType",
    "region",
    "accountId",
    "inputBodyJson",
    "outputBodyJson",
    "messages",
    "content",
    "text",
    "output",
    "message",
    "choices",
    "generation",
    "completion",
    "results",
    "type",
    "usage",
    "prompt",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


def check(result: Any) -> None:
    assert result.row is not None or result.issues
    for issue in result.issues:
        assert issue.code in REASONS
        assert issue.reason


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_any_bytes(raw: bytes) -> None:
    check(parse_line(raw, FOLDER))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), json_values, max_size=10), st.text(min_size=1, max_size=12))
def test_any_record_shape(fields: dict[str, Any], request_id: str) -> None:
    fields["requestId"] = request_id
    result = parse_line(json.dumps(fields).encode(), FOLDER)
    check(result)
    if result.row is not None and request_id.strip():
        assert result.row["request_id"] == request_id


@settings(max_examples=300)
@given(json_values, st.sampled_from([None, "Converse", "InvokeModel", "InvokeModelWithResponseStream"]))
def test_body_parsers_raise_only_shape_errors(body: Any, operation: str | None) -> None:
    for parse in (parse_request, parse_response):
        with contextlib.suppress(ShapeError):
            parse(body, operation)

"""Reading log objects: damaged gzip, plain text under a .gz name, offloaded bodies, per-object counts."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from llmdrift.bedrock.records import OffloadError
from llmdrift.core.storage import LocalStorage
from llmdrift.ingest.reader import ReaderOptions, decompress, make_fetcher, parse_object

HOUR = datetime(2026, 11, 2, 10, tzinfo=UTC)


def record(rid: str) -> str:
    return json.dumps(
        {
            "requestId": rid,
            "timestamp": "2026-11-02T10:01:00Z",
            "operation": "Converse",
            "modelId": "amazon.nova-micro-v1:0",
            "input": {"inputTokenCount": 3},
        }
    )


def lines_blob(n: int) -> bytes:
    return ("\n".join(record(f"r{i}") for i in range(n)) + "\n").encode()


def test_intact_gzip() -> None:
    data, issue = decompress(gzip.compress(lines_blob(3)))
    assert issue is None
    assert data.count(b"\n") == 3


def test_truncated_gzip_keeps_complete_lines() -> None:
    blob = gzip.compress(lines_blob(2000))
    data, issue = decompress(blob[: len(blob) // 2])
    assert issue is not None
    assert issue.code == "gzip_truncated"
    lines = data.split(b"\n")[:-1]
    assert 0 < len(lines) < 2000
    assert all(json.loads(line)["requestId"] for line in lines)  # no half line survives


def test_corrupt_gzip_header() -> None:
    blob = bytearray(gzip.compress(lines_blob(5)))
    blob[3] = 0xFF  # reserved flag bits set
    _, issue = decompress(bytes(blob))
    assert issue is not None
    assert issue.code == "gzip_corrupt"


def test_corrupt_deflate_stream() -> None:
    blob = bytearray(gzip.compress(lines_blob(500)))
    for i in range(40, 80):
        blob[i] ^= 0x5A
    _, issue = decompress(bytes(blob))
    assert issue is not None
    assert issue.code in ("gzip_corrupt", "gzip_truncated")


def test_plain_json_lines_under_gz_name_are_read_with_a_warning() -> None:
    data, issue = decompress(lines_blob(2))
    assert issue is not None
    assert issue.code == "not_gzip"
    assert data.count(b"\n") == 2


def test_binary_that_is_not_gzip() -> None:
    data, issue = decompress(b"PK\x03\x04 this is a zip")
    assert (data, issue.code if issue else None) == (b"", "not_gzip")


def test_empty_object() -> None:
    data, issue = decompress(b"")
    assert (data, issue.code if issue else None) == (b"", "empty_file")


def test_parse_object_counts(tmp_path: Path) -> None:
    path = tmp_path / "f.json.gz"
    body = "\n".join([record("a"), "", "not json", "[1]", record("b"), "   "]) + "\n"
    path.write_bytes(gzip.compress(body.encode()))
    out = list(parse_object(LocalStorage(), str(path), HOUR, None, ReaderOptions(str(tmp_path))))
    rows = [o for o in out if o["kind"] == "row"]
    issues = [o for o in out if o["kind"] == "issue"]
    (stats,) = [o for o in out if o["kind"] == "stats"]
    assert [r["request_id"] for r in rows] == ["a", "b"]
    assert [r["source_line"] for r in rows] == [1, 5]
    assert sorted((i["source_line"], i["reason_code"], i["row_kept"]) for i in issues) == [
        (3, "invalid_json", False),
        (4, "not_an_object", False),
    ]
    assert (stats["stat_lines"], stats["stat_blank"], stats["stat_rejected"]) == (6, 2, 2)
    # lines = rows + rejected + blank
    assert stats["stat_lines"] == len(rows) + stats["stat_rejected"] + stats["stat_blank"]


def test_parse_object_missing_file(tmp_path: Path) -> None:
    out = list(
        parse_object(LocalStorage(), str(tmp_path / "gone.json.gz"), HOUR, None, ReaderOptions(str(tmp_path)))
    )
    assert [(o["kind"], o.get("reason_code")) for o in out] == [("issue", "read_error"), ("stats", None)]


@pytest.fixture
def offload_root(tmp_path: Path) -> tuple[str, str]:
    key = "AWSLogs/1/BedrockModelInvocationLogs/us-east-1/2026/11/02/10/data/r1_input.json.gz"
    target = tmp_path / key
    target.parent.mkdir(parents=True)
    target.write_bytes(gzip.compress(json.dumps({"prompt": "hi"}).encode()))
    return str(tmp_path), f"s3://some-bucket/some/prefix/{key}"


def test_fetcher_resolves_under_the_log_root(offload_root: tuple[str, str]) -> None:
    root, s3_path = offload_root
    fetch = make_fetcher(LocalStorage(), ReaderOptions(root))
    assert fetch(s3_path) == {"prompt": "hi"}
    # A root given at the region level still resolves.
    deeper = make_fetcher(
        LocalStorage(), ReaderOptions(root + "/AWSLogs/1/BedrockModelInvocationLogs/us-east-1")
    )
    assert deeper(s3_path) == {"prompt": "hi"}


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        ("missing", "offloaded_body_missing"),
        ("too_large", "offloaded_body_too_large"),
        ("not_gzip", "offloaded_body_invalid"),
    ],
)
def test_fetcher_errors(offload_root: tuple[str, str], mutate: str, code: str) -> None:
    root, s3_path = offload_root
    local = Path(root) / s3_path.split("/some/prefix/", 1)[1]
    limit = 10 << 20
    if mutate == "missing":
        local.unlink()
    elif mutate == "too_large":
        limit = 10
    else:
        local.write_bytes(b"{not gzip}")
    fetch = make_fetcher(LocalStorage(), ReaderOptions(root, max_offloaded_bytes=limit))
    with pytest.raises(OffloadError) as caught:
        fetch(s3_path)
    assert caught.value.code == code


def test_fetcher_bounds_decompressed_size(offload_root: tuple[str, str]) -> None:
    root, s3_path = offload_root
    local = Path(root) / s3_path.split("/some/prefix/", 1)[1]
    local.write_bytes(gzip.compress(json.dumps({"prompt": "x" * 100_000}).encode()))  # small gzip, big body
    fetch: Any = make_fetcher(LocalStorage(), ReaderOptions(root, max_offloaded_bytes=5_000))
    with pytest.raises(OffloadError) as caught:
        fetch(s3_path)
    assert caught.value.code == "offloaded_body_too_large"

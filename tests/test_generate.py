"""The log generator: deterministic, Bedrock's layout, realistic rhythm and mix, changes that take effect."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from llmdrift.bedrock.layout import is_record_name
from llmdrift.core.storage import LocalStorage
from llmdrift.generate.text import NOVEL_DOMAINS
from llmdrift.generate.traffic import SWAP_FROM, SWAP_TO, Change, Scenario, records_for_hour
from llmdrift.generate.writer import write_logs

BASE = Scenario(seed=5, start=date(2026, 11, 2), days=1, per_day=600)


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def day_records(scenario: Scenario) -> list[Any]:
    return [g for hour in scenario.hours() for g in records_for_hour(scenario, hour)]


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    write_logs(BASE, LocalStorage(), str(tmp_path / "a"))
    write_logs(BASE, LocalStorage(), str(tmp_path / "b"))
    write_logs(replace(BASE, seed=6), LocalStorage(), str(tmp_path / "c"))
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_longer_run_extends_shorter_one() -> None:
    two_days = replace(BASE, days=2)
    hour = datetime(2026, 11, 2, 14, tzinfo=UTC)
    assert [g.record for g in records_for_hour(BASE, hour)] == [
        g.record for g in records_for_hour(two_days, hour)
    ]


def test_layout_and_objects(small_logs: tuple[str, Any]) -> None:
    root, stats = small_logs
    files = [p for p in Path(root).rglob("*") if p.is_file()]
    records = [p for p in files if p.parent.name.isdigit() and is_record_name(p.name)]
    data = [p for p in files if p.parent.name == "data"]
    assert len(records) == stats.files
    assert len(data) == stats.data_objects > 0
    for path in data:
        request_id, side = path.name[: -len(".json.gz")].rsplit("_", 1)
        assert side in ("input", "output")
        assert len(request_id) == 36
        json.loads(gzip.decompress(path.read_bytes()))
    canaries = [p for p in files if p.name == "amazon-bedrock-logs-permission-check"]
    assert canaries
    assert all(p.stat().st_size == 0 for p in canaries)
    regions = {p.relative_to(root).parts[3] for p in records}
    assert regions == {"us-east-1", "eu-west-1"}
    line = json.loads(gzip.decompress(records[0].read_bytes()).split(b"\n")[0])
    assert line["schemaVersion"] == "1.0"
    assert line["timestamp"].endswith("Z")


def test_offloaded_paths_point_at_data_objects(small_logs: tuple[str, Any]) -> None:
    root, _ = small_logs
    paths = []
    for path in Path(root).rglob("*.json.gz"):
        if path.parent.name.isdigit():
            for line in gzip.decompress(path.read_bytes()).splitlines():
                rec = json.loads(line)
                for side in ("input", "output"):
                    s3 = (rec.get(side) or {}).get(f"{side}BodyS3Path")
                    if s3:
                        assert f"{side}BodyJson" not in rec[side]
                        paths.append(s3)
    assert paths
    for s3 in paths:
        assert s3.startswith("s3://llmdrift-demo-logs/bedrock/invocation-logs/AWSLogs/")
        assert (Path(root) / s3.split("/invocation-logs/", 1)[1]).exists()


def test_mix_of_traffic() -> None:
    records = day_records(replace(BASE, per_day=3000))
    outcomes = Counter(g.outcome for g in records)
    n = len(records)
    assert 2500 < n < 3500
    assert 0.005 < outcomes["error"] / n < 0.03
    assert outcomes["refusal"] + outcomes["partial_refusal"] + outcomes["guardrail"] > 0.015 * n
    assert outcomes["toxic"] > 0
    assert outcomes["apology"] > 0
    assert outcomes["tool_use"] > 0
    callers = Counter(g.record["identity"]["arn"].split("/")[1] for g in records)
    top = callers.most_common(1)[0][1]
    assert top > 0.25 * n
    assert min(callers.values()) < 0.03 * n
    ops = Counter(g.record["operation"] for g in records)
    assert set(ops) == {"InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream"}
    prompts = [g.record["input"].get("inputBodyJson") for g in records]
    assert len({json.dumps(p) for p in prompts if p}) > 0.95 * sum(1 for p in prompts if p)
    assert any(
        "cacheReadInputTokenCount" in g.record["input"] and g.record["input"]["cacheReadInputTokenCount"] > 0
        for g in records
    )
    assert any("requestMetadata" in g.record for g in records)
    assert any(g.record["modelId"].startswith("global.") for g in records)
    assert any(":application-inference-profile/" in g.record["modelId"] for g in records)


def test_diurnal_and_weekly_rhythm() -> None:
    week = replace(BASE, days=7, per_day=1000)  # 2026-11-02 is a Monday
    by_hour, by_day = Counter(), Counter()
    for hour in week.hours():
        n = len(records_for_hour(week, hour))
        by_hour[hour.hour] += n
        by_day[hour.weekday()] += n
    assert by_hour[15] > 3 * by_hour[3]
    assert by_day[6] < 0.6 * by_day[2]


@pytest.mark.parametrize(
    "kind", ["topic_shift", "refusal_rise", "toxicity_rise", "model_swap", "length_change"]
)
def test_changes_start_on_their_day(kind: str) -> None:
    scenario = replace(
        BASE, days=2, per_day=2500, changes=(Change.parse(kind),), change_from=date(2026, 11, 3)
    )
    before = [g for g in day_records(scenario) if g.event_time.day == 2]
    after = [g for g in day_records(scenario) if g.event_time.day == 3]

    def share(items: list[Any], test: Any) -> float:
        return sum(1 for g in items if test(g)) / len(items)

    if kind == "topic_shift":
        novel = lambda g: g.domain == NOVEL_DOMAINS[0]  # noqa: E731
        assert share(before, novel) == 0
        assert 0.25 < share(after, novel) < 0.35
    elif kind == "refusal_rise":
        refused = lambda g: g.outcome in ("refusal", "partial_refusal", "guardrail")  # noqa: E731
        assert share(before, refused) < 0.05 < 0.11 < share(after, refused)
    elif kind == "toxicity_rise":
        toxic = lambda g: g.outcome == "toxic"  # noqa: E731
        assert share(before, toxic) < 0.03 < 0.07 < share(after, toxic)
    elif kind == "model_swap":
        assert any(SWAP_FROM in g.record["modelId"] for g in before)
        assert not any(SWAP_FROM in g.record["modelId"] for g in after)
        assert sum(SWAP_TO in g.record["modelId"] for g in after) > sum(
            SWAP_TO in g.record["modelId"] for g in before
        )
    else:

        def mean_out(items: list[Any]) -> float:
            ok = [g.record["output"]["outputTokenCount"] for g in items if g.outcome == "normal"]
            return sum(ok) / len(ok)

        assert 1.5 < mean_out(after) / mean_out(before) < 2.5


@pytest.mark.parametrize("spec", ["nope", "topic_shift:2", "refusal_rise:-1", "length_change:x"])
def test_bad_change_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="change"):
        Change.parse(spec)

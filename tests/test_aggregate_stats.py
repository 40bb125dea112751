"""Hand-computed cases for the aggregate building blocks: error classes, Wilson intervals, prompt skeletons
and template ids, robust anomaly scores on planted spikes (with a weekly rhythm), alert rules, config errors,
and CloudWatch batching (Stubber: CloudWatch has no local server)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from llmdrift.aggregate import cloudwatch, stats
from llmdrift.aggregate.series import find_alerts, find_anomalies, slice_series
from llmdrift.core import intervals
from llmdrift.core.settings import AlertRule, ConfigError, DriftSettings, load
from llmdrift.text import templates


def test_error_classes() -> None:
    assert stats.error_class(None) is None
    assert stats.error_class("ThrottlingException") == "throttle"
    assert stats.error_class("ServiceQuotaExceededException") == "throttle"
    assert stats.error_class("ModelTimeoutException") == "server"
    assert stats.error_class("InternalServerException") == "server"
    assert stats.error_class("ValidationException") == "client"
    assert stats.error_class("AccessDeniedException") == "client"


def test_wilson_interval_by_hand() -> None:
    # k=5, n=100, z=1.96: centre (0.05 + 3.8416/200) / (1 + 3.8416/100) = 0.069208 / 1.038416 = 0.066648;
    # half 1.96 * sqrt(0.000475 + 3.8416/40000) / 1.038416 = 1.96 * 0.023897 / 1.038416 = 0.045105
    low, high = intervals.wilson(5, 100)
    assert low == pytest.approx(0.0215, abs=1e-4)
    assert high == pytest.approx(0.1118, abs=1e-4)
    assert intervals.wilson(0, 0) == (None, None)
    low0, high0 = intervals.wilson(0, 10)
    assert low0 == 0.0
    assert high0 == pytest.approx(0.2775, abs=1e-4)
    low1, high1 = intervals.wilson(10, 10)
    assert high1 == pytest.approx(1.0)
    assert low1 == pytest.approx(0.7225, abs=1e-4)


def test_skeletons_mask_the_variable_parts() -> None:
    a = templates.skeleton('Summarise ticket #48211 from Jane Doe: "my order never came" (2026-11-02)')
    b = templates.skeleton('Summarise ticket #90 from Bob Stone: "refund please" (2026-12-01)')
    assert a == b == "summarise ticket <num> from <name> <quote>"
    assert templates.skeleton("Fix this:\n```python\nprint(1)\n```") == "fix this <code>"
    assert templates.skeleton(None) == ""
    assert templates.skeleton("Email jane@example.com about https://x.io/a") == "email <email> about <url>"


def test_template_ids_are_stable_and_group_near_duplicates() -> None:
    system = "You are Acme Corp's support assistant. Answer in 3 sentences."
    same = templates.template_id(system, "Summarise ticket #1 from Ann Lee: hi")
    assert same == templates.template_id(
        "You are Globex Inc's support assistant. Answer in 5 sentences.",
        "Summarise ticket #77 from Raj Patel: hi",
    )
    assert same != templates.template_id(None, "Summarise ticket #1 from Ann Lee: hi")
    assert len(same) == 16
    assert same == "f" * 0 + templates.template_id(
        system, "Summarise ticket #1 from Ann Lee: hi"
    )  # deterministic


def test_robust_score_by_hand() -> None:
    # baseline 10, 12, 11, 13, 9: median 11, MAD median(1,1,0,2,2) = 1, scale 1.4826
    s = stats.robust_score(20.0, [10, 12, 11, 13, 9], floor=0.0)
    assert s is not None
    assert s.expected == 11
    assert s.scale == pytest.approx(1.4826)
    assert s.score == pytest.approx(9 / 1.4826)
    assert stats.robust_score(20.0, [10, 12], floor=0.0) is None  # too short a baseline
    flat = stats.robust_score(11.5, [11, 11, 11, 11], floor=0.5)  # MAD 0: the floor keeps it sane
    assert flat is not None
    assert flat.score == pytest.approx(1.0)


def _usage(
    day: str, invocations: int, refusals: int = 0, model: str = "m1", hour: int | None = None
) -> dict[str, Any]:
    row = {
        "dt": day,
        "base_model_id": model,
        "caller_name": "c1",
        "invocations": invocations,
        "errors": 0,
        "cost_usd": invocations * 0.01,
        "unpriced": 0,
        "scored": invocations,
        "refusals": refusals,
        "toxic_rate": 0.0,
        "pii_prompts": 0,
        "completion_sentiment_sum": 0.4 * invocations,
        "completion_sentiment_n": invocations,
        "similarity_sum": 0.5 * invocations,
        "similarity_n": invocations,
        "latency_n": invocations,
        "latency_p90_ms": 800.0,
    }
    if hour is not None:
        row["hour"] = hour
    return row


def _weekly_series(weeks: int, spike_day: date | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Weekdays around 1,000 invocations, weekends around 300, refusals 3%; a spike on ``spike_day``."""
    start = date(2026, 10, 5)  # a Monday
    rows = []
    for i in range(weeks * 7):
        d = start + timedelta(days=i)
        n = (300 if d.weekday() >= 5 else 1000) + (i * 7) % 23
        refusals = round(n * 0.03)
        if d == spike_day:
            refusals = round(n * 0.12)
        rows.append(_usage(d.isoformat(), n, refusals))
    return rows, [r["dt"] for r in rows[-7:]]


def test_a_planted_refusal_spike_is_found_and_weekends_are_not_anomalies() -> None:
    spike = date(2026, 11, 4)  # a Wednesday in the last week
    rows, last_week = _weekly_series(5, spike)
    found = find_anomalies(rows, [], last_week, z=4.0)
    hits = {(a["dt"], a["slice_type"], a["metric"]) for a in found}
    assert (spike.isoformat(), "all", "refusal_ratio") in hits
    assert (spike.isoformat(), "model", "refusal_ratio") in hits
    spike_row = next(
        a
        for a in found
        if a["dt"] == spike.isoformat() and a["slice_type"] == "all" and a["metric"] == "refusal_ratio"
    )
    assert spike_row["direction"] == "up"
    assert spike_row["baseline_kind"] == "same_weekday"
    assert spike_row["expected"] == pytest.approx(0.03, abs=0.002)
    # weekend volume is 70% below weekdays, but not below other weekends: no volume anomaly
    assert not [a for a in found if a["metric"] == "invocations"]
    assert {a["dt"] for a in found} == {spike.isoformat()}


def test_a_short_history_uses_the_prior_days() -> None:
    days = [f"2026-11-0{d}" for d in range(2, 6)]
    rows = [_usage(d, 1500, r) for d, r in zip(days, (30, 60, 42, 170), strict=True)]
    found = find_anomalies(rows, [], days, z=4.0)
    assert [(a["dt"], a["metric"], a["baseline_kind"]) for a in found if a["slice_type"] == "all"] == [
        ("2026-11-05", "refusal_ratio", "recent")
    ]


def test_hourly_points_compare_with_the_same_hour() -> None:
    rows = [_usage(f"2026-11-0{d}", 200, 6, hour=h) for d in range(1, 5) for h in (3, 15)]
    rows.append(_usage("2026-11-05", 200, 6, hour=3))
    rows.append(_usage("2026-11-05", 200, 40, hour=15))
    found = find_anomalies([], rows, ["2026-11-05"], z=4.0)
    assert {(a["hour"], a["metric"]) for a in found if a["slice_type"] == "all"} == {(15, "refusal_ratio")}


def test_slices_sum_their_groups() -> None:
    rows = [_usage("2026-11-02", 100, 3, "m1"), _usage("2026-11-02", 300, 30, "m2")]
    series = slice_series(rows, hourly=False)
    everything = series[("2026-11-02", "all", "*", -1)]
    assert everything["invocations"] == 400
    assert everything["refusal_ratio"] == pytest.approx(33 / 400)
    assert series[("2026-11-02", "model", "m2", -1)]["refusal_ratio"] == pytest.approx(0.1)
    assert everything["cost_usd"] == pytest.approx(4.0)


def test_alert_rules_fire_on_their_slice() -> None:
    rows = [_usage("2026-11-02", 100, 12, "anthropic.x"), _usage("2026-11-02", 100, 1, "amazon.y")]
    rules = (
        AlertRule("claude-refusals", "refusal_ratio", 0.08, "above", model="anthropic.*"),
        AlertRule("all-refusals", "refusal_ratio", 0.08, "above"),
        AlertRule("tiny", "refusal_ratio", 0.01, "above", min_invocations=1000),
        AlertRule("budget", "cost_usd", 1.5, "above"),
    )
    fired = {a["rule"]: a for a in find_alerts(rules, rows, [])}
    assert set(fired) == {"claude-refusals", "budget"}  # all-refusals: 13/200 = 0.065 is below 0.08
    assert fired["claude-refusals"]["value"] == pytest.approx(0.12)
    assert "anthropic.*" in fired["claude-refusals"]["message"]
    assert fired["budget"]["value"] == pytest.approx(2.0)


def test_config_loads_and_names_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "ok.toml"
    good.write_text('[anomalies]\nz = 3.5\n[[alerts]]\nname = "r"\nmetric = "refusal_ratio"\nabove = 0.1\n')
    settings = load(good)
    assert settings.anomaly_z == 3.5
    assert settings.alerts == (AlertRule("r", "refusal_ratio", 0.1, "above"),)
    assert settings.drift == DriftSettings()  # no [drift]: the job's defaults
    good.write_text("[drift]\nreference_days = 28\nmin_samples = 200\nalpha = 0.01\n")
    assert load(good).drift == DriftSettings(reference_days=28, min_samples=200, alpha=0.01)
    cases = {
        '[[alerts]]\nname = "r"\nmetric = "nope"\nabove = 1\n': "alerts\\[0\\].metric",
        '[[alerts]]\nname = "r"\nmetric = "cost_usd"\nabove = 1\nbelow = 2\n': "exactly one of above or below",
        '[pricing]\noverride = "missing.csv"\n': "pricing.override: file not found",
        "[anomalies]\nz = -1\n": "anomalies.z",
        "[surprise]\n": "unknown sections",
        "not toml [": "not valid TOML",
        '[cloudwatch]\nenabled = "false"\n': "cloudwatch.enabled must be true or false",
        '[pricing]\noveride = "x.csv"\n': "unknown keys in \\[pricing\\]",
        "anomalies = 3\n": "\\[anomalies\\] must be a table",
        "[anomalies]\nz = true\n": "anomalies.z",
        "[drift]\nreference_days = 0\n": "drift.reference_days must be an integer of at least 1",
        '[drift]\nmin_samples = "50"\n': "drift.min_samples",
        "[drift]\nalpha = 5\n": "drift.alpha must be a number between 0 and 1",
        "[drift]\nwindow = 3\n": "unknown keys in \\[drift\\]",
    }
    for text, message in cases.items():
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load(bad)
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "absent.toml")


def test_cloudwatch_values_go_in_batches_of_1000() -> None:
    rows = [
        _usage((date(2026, 1, 1) + timedelta(days=d)).isoformat(), 100, 3, f"model-{m}")
        for d in range(50)
        for m in range(9)
    ]
    data = cloudwatch.metric_data(slice_series(rows, hourly=False))
    assert len(data) == 50 * 9 * len(cloudwatch.METRICS)  # 2,700 values
    client = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    with Stubber(client) as stub:
        for _size in (1000, 1000, 700):
            stub.add_response("put_metric_data", {}, {"Namespace": "llmdrift", "MetricData": ANY})
        sent = cloudwatch.publish(client, "llmdrift", data)
        stub.assert_no_pending_responses()
    assert sent == 2700
    assert [len(b) for b in cloudwatch.batches(data)] == [1000, 1000, 700]
    first = data[0]
    assert first["Dimensions"] == [{"Name": "Model", "Value": "model-0"}]
    assert first["MetricName"] == "Invocations"

"""The HTML report from fixed small result rows: golden file, escaping of hostile text, self-containment."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmdrift.report.render import ReportData, render, render_index

GOLDEN = Path(__file__).parent / "fixtures" / "report-golden.html"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
RUN = {
    "run_id": "drift-test-1",
    "reference_start": "2026-11-02",
    "reference_end": "2026-11-05",
    "current_start": "2026-11-05",
    "current_end": "2026-11-06",
}


def _result(
    slice_type: str,
    name: str,
    feature: str,
    method: str,
    p: float | None,
    q: float | None,
    drifted: bool | None,
    **kw: Any,
) -> dict[str, Any]:
    return {
        "slice_type": slice_type,
        "slice": name,
        "feature": feature,
        "method": method,
        "statistic": 0.1,
        "p_value": p,
        "q_value": q,
        "effect_size": None if p is None else 0.2,
        "threshold": 0.05,
        "drifted": drifted,
        "reference_n": 300,
        "current_n": 100,
        "reference_total": 3000,
        "current_total": 1000,
        "note": None,
        "reference_value": kw.get("ref"),
        "current_value": kw.get("cur"),
    }


def sample_data() -> ReportData:
    results = [
        _result("all", "*", "prompt_embedding", "knn_permutation", 0.001, 0.004, True),
        _result(
            "all", "*", "completion_refusal_flag", "two_proportion", 1e-9, 1e-8, True, ref=0.03, cur=0.11
        ),
        {
            **_result("all", "*", "completion_sentiment_compound", "ks", 0.4, 0.6, False, ref=0.49, cur=0.47),
            "bin_edges": [-1.0, -0.5, 0.0, 0.5, 1.0],
            "reference_hist": [0.1, 0.2, 0.3, 0.4],
            "current_hist": [0.15, 0.2, 0.3, 0.35],
        },
        _result("caller", HOSTILE, "*", "not_tested", None, None, None),
    ]
    clusters = [
        {
            "slice_type": "all",
            "slice": "*",
            "feature": "prompt_embedding",
            "cluster": 3,
            "reference_share": 0.05,
            "current_share": 0.25,
            "change": 0.20,
            "examples": [HOSTILE, "How are crypto gains taxed?"],
            "terms": ["crypto", "taxed"],
        }
    ]
    daily = []
    for i, day in enumerate(("2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05")):
        daily.append(
            {
                "dt": day,
                "base_model_id": "amazon.nova-micro-v1:0",
                "caller_name": HOSTILE if i == 3 else "support-bot",
                "invocations": 1000 + i,
                "errors": 10,
                "cost_usd": 1.5 + i,
                "refusals": 30 if i < 3 else 110,
                "scored": 1000,
                "completion_sentiment_sum": 490.0,
                "completion_sentiment_n": 1000,
                "toxic_rate": 0.02,
                "unpriced": 5,
                "input_tokens": 400_000,
                "output_tokens": 100_000,
            }
        )
    anomalies = [
        {
            "dt": "2026-11-05",
            "grain": "daily",
            "slice_type": "all",
            "metric": "refusal_ratio",
            "expected": 0.03,
            "score": 6.8,
        }
    ]
    alerts = [
        {
            "dt": "2026-11-05",
            "metric": "refusal_ratio",
            "message": "refusals-high: refusal_ratio 0.11 is above 0.08",
        }
    ]
    ingest_runs = [
        {
            "lines_read": 4010,
            "rows_new": 4000,
            "duplicates": 5,
            "rejected": 5,
            "warnings": 3,
            "offloaded_bodies_read": 7,
            "file_errors": 0,
        }
    ]
    quarantine = [{"reason_code": "not_json", "row_kept": False, "n": 5}]
    bodies = [
        {"status": "inline", "n": 7900},
        {"status": "offloaded", "n": 80},
        {"status": "absent", "n": 20},
    ]
    check = {"run_id": "dq-test-1", "table_name": "invocation_metrics", "element_count": 4000, "error": None}
    dq = [
        {**check, "description": "request_id is unique", "severity": "critical", "success": True},
        {
            **check,
            "description": "completion_toxicity_score within [0, 1] (nulls allowed)",
            "severity": "critical",
            "success": False,
            "unexpected_count": 1,
            "failing_keys": [f"request_id={HOSTILE}"],
        },
    ]
    return ReportData(
        RUN,
        results,
        clusters,
        daily,
        anomalies,
        alerts,
        ingest_runs,
        quarantine,
        bodies,
        dq,
        generated_at="2026-12-02 10:00 UTC",
    )


def test_matches_the_golden_file() -> None:
    page = render(sample_data())
    if os.environ.get("LLMDRIFT_UPDATE_GOLDEN"):  # after an intended change: rewrite, then review the diff
        GOLDEN.write_text(page, encoding="utf-8")
    assert GOLDEN.exists(), f"{GOLDEN} is missing: run the tests once with LLMDRIFT_UPDATE_GOLDEN=1"
    assert page == GOLDEN.read_text(encoding="utf-8")


def test_hostile_text_is_escaped_and_inert() -> None:
    page = render(sample_data())
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert not re.search(r"<[^>]+\son\w+=", page)  # no event-handler attribute on any element


def test_self_contained_and_complete() -> None:
    page = render(sample_data())
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "Content-Security-Policy" in page
    for section in ("verdict", "embeddings", "metrics", "trends", "cost", "health"):
        assert f'id="{section}"' in page
    assert "2 of 3 tests show drift" in page
    assert "refusal rate" in page
    assert "changed: separation 0.200, q = 0.004" in page  # an embedding's effect is named for the reader
    assert "drifted, separation 0.20, q = 0.004" in page
    assert "0.5 to 1: reference 40.0%, current 35.0%" in page  # the sentiment histogram, by bin
    assert "anomaly: expected 0.03" in page  # the anomaly is marked on the refusal chart
    assert "Not tested" in page
    assert "invocations have no price" in page
    assert "20 bodies could not be read or were not logged" in page
    assert "amazon.nova-micro-v1:0: 500,000" in page  # tokens by model, on hover
    assert len(page.encode()) < 100_000


def test_index_lists_reports() -> None:
    page = render_index(
        [{"href": "dt=2026-11-05/drift-report-a.html", "title": "2026-11-05 drift report", "run_id": "a"}]
    )
    assert 'href="dt=2026-11-05/drift-report-a.html"' in page


def test_the_report_is_stamped_with_its_drift_run_not_the_wall_clock() -> None:
    from llmdrift.core.runs import RunContext
    from llmdrift.report.job import run_time

    context = RunContext.create("drift", datetime(2026, 11, 6, 8, 5, tzinfo=UTC))
    assert run_time(context.run_id) == "2026-11-06 08:05 UTC"
    assert run_time("my-own-run") == ""

"""llmdrift judge: the sampler, the cost cap, idempotent reruns and the tables, over a fake Bedrock Runtime
server (tests/fake_bedrock.py) reached by the real boto3 client through endpoint_url."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from fake_bedrock import FakeBedrock, Reply
from llmdrift.core import schemas, tables
from llmdrift.core.runs import RunContext
from llmdrift.core.settings import JudgeSettings
from llmdrift.core.storage import LocalStorage
from llmdrift.generate.traffic import Change, Scenario
from llmdrift.judge import sample
from llmdrift.judge.job import JudgeConfig, calibration_rows, simulated_verdict
from llmdrift.judge.job import run as judge

NOW = datetime(2026, 11, 25, 8, tzinfo=UTC)
HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"
DAY = "2026-11-03"


def verdict(refusal: str = "none", toxic: float = 0.02, helpful: int = 4) -> dict[str, Any]:
    return {
        "refusal": refusal,
        "prompt_toxicity": {"probability": toxic, "category": "harassment" if toxic >= 0.5 else "none"},
        "completion_toxicity": {"probability": 0.01, "category": "none"},
        "prompt_sentiment": "neutral",
        "completion_sentiment": "positive",
        "helpfulness": helpful,
        "relevance": 5,
        "reason": "a plain answer",
    }


@pytest.fixture(scope="module")
def warehouse(spark: Any, scored_warehouse: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    scenario = Scenario(
        seed=17,
        start=date(2026, 11, 2),
        days=2,
        per_day=150,
        changes=(Change("refusal_rise", 0.2),),
        change_from=date(2026, 11, 3),
    )
    return Path(scored_warehouse(spark, scenario, tmp_path_factory.mktemp("judge")))


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with FakeBedrock(lambda request: Reply.verdict(verdict(), input_tokens=900, output_tokens=80)) as server:
        yield server


def config(wh: Path, server: Any, **settings: Any) -> JudgeConfig:
    base = JudgeSettings(enabled=True, model=HAIKU, sample_per_day=40, max_cost_usd=5.0, max_concurrency=3)
    return JudgeConfig(str(wh), replace(base, **settings), (DAY,), endpoint_url=server.endpoint_url)


def stored(spark: Any, wh: Path, table: str) -> list[dict[str, Any]]:
    return [r.asDict() for r in tables.read(spark, LocalStorage(), str(wh), schemas.load(table)).collect()]


def test_the_sample_is_deterministic_and_stratified_by_model_and_caller(spark: Any, warehouse: Path) -> None:
    met = tables.read(spark, LocalStorage(), str(warehouse), schemas.load("invocation_metrics"), [(DAY,)])
    rows = met.select("request_id", "dt", "base_model_id", "caller_name")
    first = sample.stratified(rows, 40, seed=0).collect()
    again = sample.stratified(rows.orderBy("caller_name"), 40, seed=0).collect()
    assert sorted(r.request_id for r in first) == sorted(r.request_id for r in again)
    assert sorted(r.request_id for r in sample.stratified(rows, 40, seed=1).collect()) != sorted(
        r.request_id for r in first
    )
    strata = Counter((r.base_model_id, r.caller_name) for r in rows.collect())
    picked = Counter((r.base_model_id, r.caller_name) for r in first)
    total = sum(strata.values())
    assert set(picked) == set(strata)  # every stratum is represented, at least once
    for key, n in strata.items():  # and in proportion to its share of the day
        assert picked[key] == min(n, max(1, math.floor(40 * n / total + 0.5)))  # Spark rounds half up
    assert sorted(r.rank for r in first) == list(range(1, len(first) + 1))


def test_judging_writes_judgements_and_calibration_and_a_rerun_calls_nothing(
    spark: Any, warehouse: Path, bedrock: Any
) -> None:
    result = judge(spark, config(warehouse, bedrock), RunContext("judge-1", NOW), log=lambda _: None)
    assert result.judged == result.sampled > 0
    assert len(bedrock.requests) == result.judged
    assert all(r.model_id == HAIKU for r in bedrock.requests)
    rows = [r for r in stored(spark, warehouse, "judgements") if r["run_id"] == "judge-1"]
    assert len(rows) == result.judged
    assert {r["status"] for r in rows} == {"judged"}
    assert all(r["refusal"] == "none" and r["helpfulness"] == 4 for r in rows)
    assert all(r["cost_usd"] > 0 and r["input_tokens"] > 0 for r in rows)  # priced like any invocation
    assert result.cost_usd == pytest.approx(sum(r["cost_usd"] for r in rows))
    cal = stored(spark, warehouse, "metric_calibration")
    overall = {r["metric"]: r for r in cal if r["slice_type"] == "all"}
    assert set(overall) == {"refusal", "prompt_toxicity", "completion_toxicity", "completion_sentiment"}
    refusal = overall["refusal"]
    assert refusal["n_judged"] == sum(r["local_refusal_flag"] is not None for r in rows)  # pairs only
    assert refusal["judged_rate"] == 0.0  # the scripted judge never saw a refusal
    assert refusal["local_rate"] > 0.1  # the day has a refusal rise the local detector sees
    assert refusal["precision"] == 0.0  # so every local flag in the sample disagrees with this judge
    # A rerun judges nothing again: same sample, already judged with this rubric and judge.
    again = judge(spark, config(warehouse, bedrock), RunContext("judge-2", NOW), log=lambda _: None)
    assert (again.already, again.judged) == (result.sampled, 0)
    assert len(bedrock.requests) == result.judged
    assert len(stored(spark, warehouse, "judgements")) == len(rows)


def test_the_cost_cap_stops_before_exceeding_and_says_why(spark: Any, warehouse: Path, bedrock: Any) -> None:
    other = "anthropic.claude-3-haiku-20240307-v1:0"  # its own judgements: the first judge's do not count
    full = judge(spark, config(warehouse, bedrock, model=other, max_cost_usd=0.0), RunContext("c0", NOW))
    assert (full.judged, full.skipped) == (0, full.sampled)
    assert bedrock.requests == []
    cap = full.estimated_usd / 2
    half = judge(spark, config(warehouse, bedrock, model=other, max_cost_usd=cap), RunContext("c1", NOW))
    assert 0 < half.judged < half.sampled
    assert half.skipped == half.sampled - half.judged
    assert len(bedrock.requests) == half.judged
    skipped = [
        r for r in stored(spark, warehouse, "judgements") if r["run_id"] == "c1" and r["status"] == "skipped"
    ]
    assert len(skipped) == half.skipped
    assert all("cost cap" in r["reason"] for r in skipped)
    rest = judge(spark, config(warehouse, bedrock, model=other), RunContext("c2", NOW), log=lambda _: None)
    assert rest.judged == half.skipped  # the skipped ones are judged by a later run with room


def test_unparsed_and_failed_calls_are_recorded_not_dropped(
    spark: Any, warehouse: Path, bedrock: Any
) -> None:
    model = "amazon.nova-micro-v1:0"
    replies = iter([Reply(text="not json at all"), Reply.error("ValidationException", "bad input")])
    bedrock.responder = lambda request: next(replies, Reply.verdict(verdict(), input_tokens=900))
    result = judge(
        spark,
        config(warehouse, bedrock, model=model, max_concurrency=1),
        RunContext("p1", NOW),
        log=lambda _: None,
    )
    rows = [r for r in stored(spark, warehouse, "judgements") if r["run_id"] == "p1"]
    assert (result.unparsed, result.failed) == (1, 1)
    assert Counter(r["status"] for r in rows) == {"judged": result.sampled - 2, "unparsed": 1, "failed": 1}
    failed = next(r for r in rows if r["status"] == "failed")
    assert "ValidationException" in failed["reason"]


def test_calibration_rows_know_the_answer_on_a_hand_made_table() -> None:
    base = {"rubric": "v1-x", "judge_model": "m", "backend": "bedrock", "run_id": "r"}

    def row(judge_refusal: str, local: bool, score: float) -> dict[str, Any]:
        return {"dt": DAY, "status": "judged", "base_model_id": "m1", "caller_name": "c", "refusal": judge_refusal,
                "local_refusal_flag": local, "local_refusal_score": score}  # fmt: skip

    # 4 true positives, 1 false positive, 2 false negatives, 13 true negatives (n = 20)
    rows = [row("full", True, 0.9)] * 4 + [row("none", True, 0.6)] + [row("partial", False, 0.3)] * 2
    rows += [row("none", False, 0.1)] * 13
    population = [
        {"dt": DAY, "slice_type": "all", "slice": "*", "n": 1200, "refusal": 250, "n_refusal": 1000}
    ]
    cal = {r["metric"]: r for r in calibration_rows(rows, population, base) if r["slice_type"] == "all"}
    refusal = cal["refusal"]
    assert refusal["n_judged"] == 20
    assert refusal["judged_rate"] == pytest.approx(6 / 20)
    assert refusal["precision"] == pytest.approx(4 / 5)
    assert refusal["recall"] == pytest.approx(4 / 6)
    assert refusal["local_rate"] == pytest.approx(0.25)  # of the 1,000 the detector rated, not all 1,200
    assert refusal["population_n"] == 1000
    assert refusal["auc"] == pytest.approx(82 / 84)  # of 6 x 14 pairs, the two 0.3 refusals lose to the 0.6
    # Rogan-Gladen: Se 4/6, Sp 13/14 -> (0.25 + 13/14 - 1) / (4/6 + 13/14 - 1)
    assert refusal["corrected_rate"] == pytest.approx((0.25 + 13 / 14 - 1) / (4 / 6 + 13 / 14 - 1), abs=1e-9)
    assert "prompt_toxicity" not in cal  # no judge label for it in these rows


def test_the_simulated_judge_says_what_the_generator_knows_and_nothing_else() -> None:
    assert simulated_verdict("refusal").fields["refusal"] == "full"
    assert simulated_verdict("partial_refusal").fields["refusal"] == "partial"
    toxic = simulated_verdict("toxic").fields
    assert (toxic["refusal"], toxic["prompt_toxicity"]) == ("none", 1.0)
    answered = simulated_verdict("toxic_refused").fields
    assert (answered["refusal"], answered["prompt_toxicity"]) == ("full", 1.0)
    assert "helpfulness" not in toxic
    assert "completion_sentiment" not in toxic
    assert simulated_verdict(None).status == "failed"
    assert json.dumps(simulated_verdict("normal").fields)  # plain data


def test_the_pipeline_step_judges_and_the_report_shows_how_far_to_trust(
    spark: Any, warehouse: Path, bedrock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[judge] on: the pipeline's judge step reaches the (fake) Bedrock endpoint through the usual AWS
    environment, and the report renders the section from metric_calibration and judgements."""
    from llmdrift.core.settings import AggregateSettings
    from llmdrift.pipeline import PipelineConfig, run_pipeline

    model = "amazon.nova-lite-v1:0"
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock.endpoint_url)
    judge_settings = JudgeSettings(enabled=True, model=model, sample_per_day=30, max_cost_usd=1.0)
    config = PipelineConfig(
        str(warehouse), steps=("judge", "drift", "report"), settings=AggregateSettings(judge=judge_settings)
    )
    result = run_pipeline(spark, config, log=lambda _: None)
    judged = result.results["judge"]
    assert judged.days == [DAY]  # the last complete day
    assert judged.judged > 0
    assert {r.model_id for r in bedrock.requests} == {model}
    page = Path(result.results["report"].outputs["report"]).read_text(encoding="utf-8")
    section = page[page.index('<section id="trust">') :]
    section = section[: section.index("</section>")]
    assert model in section
    assert "No judge ran" not in section
    assert "Refusals (completion)" in section
    assert "Answer quality by model" in section  # the scripted judge rates helpfulness 4

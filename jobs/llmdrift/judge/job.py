"""``llmdrift judge``: judge a daily sample of invocations with a Bedrock model, and measure on it how far the
local text metrics hold on this traffic.

1. A deterministic sample per day, stratified by model and caller (``judge.sample``), minus the invocations
   already judged with this rubric and judge: nothing is judged twice, and a rerun makes no call.
2. The cost of judging them is estimated from their text lengths and the price table *before* any call;
   the invocations beyond ``max_cost_usd`` are recorded as ``skipped`` (a later run with room judges them).
3. Each is judged through the Converse API (``judge.client``: bounded concurrency, jittered backoff on
   throttling and 5xx) with the versioned rubric (``judge.rubric``); a reply that does not parse is stored as
   ``unparsed`` with its reason, a failed call as ``failed``; texts are never logged.
4. ``judgements`` gets one row per judged invocation (verdict, local values beside it, tokens, cost), and
   ``metric_calibration`` per day, slice and metric: the judged rate with its interval, the local rate, the
   local detector's precision, recall and AUC against the judge, and the corrected rate
   (``judge.calibration``).

The ``simulated`` backend is the demo's stand-in: the generator's ground truth (it knows which completions it
wrote as refusals, which prompts as toxic) in place of a model, labelled ``simulated`` in every row.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from llmdrift.core import schemas, tables
from llmdrift.core.errors import LlmdriftError
from llmdrift.core.runs import RunContext, complete_days, complete_until
from llmdrift.core.settings import JudgeSettings
from llmdrift.core.storage import Storage, normalize, storage_for
from llmdrift.cost.prices import ModelPrice, cost_usd
from llmdrift.judge import calibration
from llmdrift.judge.rubric import load_rubric
from llmdrift.judge.sample import NEGATIVE_COMPOUND, population, sampled_rows

Log = Callable[[str], None]
METRICS = ("refusal", "prompt_toxicity", "completion_toxicity", "completion_sentiment")
TOXIC = 0.5  # a judged toxicity probability at or above it counts as toxic (the rubric's own threshold)
# The cap is checked against a cautious estimate: 3 characters a token (code and non-Latin text run denser
# than English's ~4) and the client's reply limit (400 tokens; a verdict is ~160). Bedrock's own token counts
# and the cost they come to are recorded per row.
OUTPUT_TOKENS_ESTIMATE = 400
CHARS_PER_TOKEN = 3
TABLES = ("judgements", "metric_calibration")


class JudgeError(LlmdriftError, RuntimeError):
    """The judge cannot run (no price for the judge model, no scored invocations...)."""


@dataclass(frozen=True)
class JudgeConfig:
    warehouse: str
    settings: JudgeSettings
    days: tuple[str, ...] = ()  # default: the last complete day with scored invocations
    seed: int = 0
    endpoint_url: str | None = None  # a Bedrock Runtime endpoint (tests: the fake server)
    truth: Mapping[str, str] | None = None  # simulated backend: request id -> the generator's outcome

    def __post_init__(self) -> None:
        if self.settings.backend == "bedrock" and not self.settings.model:
            raise ValueError("the judge needs a model id ([judge] model)")
        for day in self.days:
            date.fromisoformat(day)


@dataclass
class JudgeResult:
    run_id: str
    days: list[str] = field(default_factory=list)
    sampled: int = 0
    already: int = 0
    judged: int = 0
    unparsed: int = 0
    failed: int = 0
    skipped: int = 0
    estimated_usd: float = 0.0
    cost_usd: float = 0.0
    seconds: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.sampled:,} sampled over {len(self.days)} days: {self.already:,} judged before,"
            f" {self.judged:,} judged now, {self.unparsed:,} unparsed, {self.failed:,} failed,"
            f" {self.skipped:,} skipped (cost cap); estimated ${self.estimated_usd:.4f}, recorded"
            f" ${self.cost_usd:.4f}"
        )


def judge_model_id(settings: JudgeSettings) -> str:
    return settings.model if settings.backend == "bedrock" else "simulated:generator-ground-truth"


def rubric_id() -> str:
    return load_rubric().identity


def run(spark: Any, config: JudgeConfig, context: RunContext, log: Log = print) -> JudgeResult:
    warehouse = normalize(config.warehouse)
    storage = storage_for(warehouse)
    result = JudgeResult(context.run_id, outputs={t: tables.table_uri(warehouse, t) for t in TABLES})
    t0 = time.monotonic()
    days = list(config.days) or last_complete_day(warehouse)
    if not days:
        log("nothing to judge: no complete day with scored invocations")
        return result
    result.days = days
    settings = config.settings
    model, rubric = judge_model_id(settings), rubric_id()
    log(
        f"[judge {context.run_id}] days {days[0]} .. {days[-1]}, judge {model} ({settings.backend}), rubric {rubric}"
    )
    sample = sampled_rows(spark, storage, warehouse, days, settings.sample_per_day, config.seed)
    result.sampled = len(sample)
    stored = _stored(spark, storage, warehouse, "judgements", days)
    done = {
        r["request_id"]
        for r in stored
        if r["rubric"] == rubric and r["judge_model"] == model and r["status"] in ("judged", "unparsed")
    }
    # newest day first: under the cost cap, the latest day is judged before older ones
    todo = sorted(
        (r for r in sample if r["request_id"] not in done), key=lambda r: (-_ordinal(r["dt"]), r["rank"])
    )
    result.already = result.sampled - len(todo)
    price = _price(settings) if settings.backend == "bedrock" else None
    prompt_parts = load_rubric()
    rubric_chars = len(prompt_parts.system) + len(prompt_parts.user_template)
    estimates = [_estimate(r, price, rubric_chars) for r in todo]
    result.estimated_usd = sum(estimates)
    affordable = _within_cap(estimates, settings.max_cost_usd)
    log(
        f"  sample {result.sampled:,} ({result.already:,} already judged); estimated ${result.estimated_usd:.4f}"
        f" for {len(todo):,}, cap ${settings.max_cost_usd:.2f}: {affordable:,} to judge"
        f"  [{time.monotonic() - t0:.1f}s]"
    )
    verdicts = _judge(todo[:affordable], config, log)
    base = {"rubric": rubric, "judge_model": model, "backend": settings.backend, "run_id": context.run_id}
    new_rows = [_row(r, v, base, price) for r, v in zip(todo[:affordable], verdicts, strict=True)]
    cap_note = (
        f"cost cap ${settings.max_cost_usd:.2f} reached: ${result.estimated_usd:.4f} estimated for"
        f" {len(todo):,} invocations"
    )
    new_rows += [
        _row(r, None, {**base, "status": "skipped", "reason": cap_note}, price) for r in todo[affordable:]
    ]
    for row in new_rows:
        key = {"judged": "judged", "unparsed": "unparsed", "failed": "failed", "skipped": "skipped"}[
            row["status"]
        ]
        setattr(result, key, getattr(result, key) + 1)
        result.cost_usd += row["cost_usd"] or 0.0
    replaced = {r["request_id"] for r in new_rows}
    kept = [
        r
        for r in stored
        if not (r["request_id"] in replaced and r["rubric"] == rubric and r["judge_model"] == model)
    ]
    judgements = kept + new_rows
    tables.replace_rows(spark, judgements, storage, warehouse, schemas.load("judgements"), days)
    log(f"  wrote judgements: {len(new_rows):,} rows  [{time.monotonic() - t0:.1f}s]")

    mine = [r for r in judgements if r["rubric"] == rubric and r["judge_model"] == model]
    rows = calibration_rows(mine, population(spark, storage, warehouse, days), base)
    others = [
        r
        for r in _stored(spark, storage, warehouse, "metric_calibration", days)
        if not (r["rubric"] == rubric and r["judge_model"] == model)
    ]
    tables.replace_rows(spark, others + rows, storage, warehouse, schemas.load("metric_calibration"), days)
    result.seconds = time.monotonic() - t0
    log(f"  wrote metric_calibration: {len(rows):,} rows. {result.summary()}  [{result.seconds:.1f}s]")
    return result


def _ordinal(day: Any) -> int:
    return date.fromisoformat(str(day)).toordinal()


def pending_days(spark: Any, warehouse: str, settings: JudgeSettings, lookback_days: int = 7) -> list[str]:
    """Days among the last ``lookback_days`` judged ones where this judge still owes rows (skipped by the
    cost cap, or failed): the pipeline's judge step takes them up again."""
    from pyspark.sql import functions as F

    warehouse = normalize(warehouse)
    storage = storage_for(warehouse)
    days = tables.partition_days(storage, warehouse, "judgements")[-lookback_days:]
    if not days:
        return []
    rows = tables.read(spark, storage, warehouse, schemas.load("judgements"), [(d,) for d in days])
    owed = rows.filter(
        (F.col("rubric") == rubric_id())
        & (F.col("judge_model") == judge_model_id(settings))
        & F.col("status").isin("skipped", "failed")
    )
    return sorted(str(r["dt"]) for r in owed.select("dt").distinct().collect())


def last_complete_day(warehouse: str) -> list[str]:
    """The last day with scored invocations whose every hour has been ingested (none: [])."""
    warehouse = normalize(warehouse)
    storage = storage_for(warehouse)
    days = tables.partition_days(storage, warehouse, "invocation_metrics")
    return complete_days(days, complete_until(storage, warehouse))[-1:]


def _stored(
    spark: Any, storage: Storage, warehouse: str, table: str, days: list[str]
) -> list[dict[str, Any]]:
    schema = schemas.load(table)
    return [
        r.asDict() for r in tables.read(spark, storage, warehouse, schema, [(d,) for d in days]).collect()
    ]


# ------------------------------------------------------------------------------------------- cost


def judge_region(settings: JudgeSettings) -> str:
    """The region the judge is called in (and priced for): the setting, else the AWS session's."""
    if settings.region:
        return settings.region
    import boto3

    return boto3.session.Session().region_name or "us-east-1"


def _price(settings: JudgeSettings) -> ModelPrice:
    """The judge model's on-demand price (the price table, as any invocation is priced); a model the table
    cannot price has no cost cap, so the judge refuses it."""
    from llmdrift.cost.prices import load_prices, load_profiles, price_for

    region = judge_region(settings)
    found = price_for(load_prices(), load_profiles(), settings.model, None, None, region, date.today())
    if found.status != "priced" or found.input is None or found.output is None:
        raise JudgeError(
            f"the price table has no price for judge model {settings.model!r} ({found.status}): without one the"
            " cost cap cannot be enforced; add its prices with [pricing] override"
        )
    return found


def _estimate(row: Mapping[str, Any], price: ModelPrice | None, overhead_chars: int) -> float:
    """A cautious cost of judging one invocation: its texts as the client cuts them plus the rubric."""
    if price is None:
        return 0.0
    from llmdrift.judge.client import DEFAULT_MAX_CHARS

    chars = overhead_chars
    chars += sum(min(len(row.get(k) or ""), DEFAULT_MAX_CHARS) for k in ("prompt_text", "completion_text"))
    return cost_usd(price, math.ceil(chars / CHARS_PER_TOKEN), OUTPUT_TOKENS_ESTIMATE, None, None)[0] or 0.0


def _within_cap(estimates: list[float], cap: float) -> int:
    """How many of the sample, in order, fit under the cap."""
    total = 0.0
    for i, cost in enumerate(estimates):
        if total + cost > cap:
            return i
        total += cost
    return len(estimates)


# ------------------------------------------------------------------------------------------- judging


@dataclass(frozen=True)
class Judged:
    """One outcome: the verdict fields (None where the judge said nothing), or why there is none."""

    status: str
    reason: str | None
    fields: dict[str, Any]
    input_tokens: int | None = None
    output_tokens: int | None = None
    attempts: int | None = None
    latency_ms: int | None = None


def _judge(rows: list[dict[str, Any]], config: JudgeConfig, log: Log) -> list[Judged]:
    if not rows:
        return []
    if config.settings.backend == "simulated":
        return [simulated_verdict((config.truth or {}).get(r["request_id"])) for r in rows]
    from llmdrift.judge.client import JudgeClient, JudgeRequest
    from llmdrift.text import pii

    settings = config.settings

    def text(value: str | None) -> str:
        return (pii.redact(value or "") or "") if settings.redact else (value or "")

    client = JudgeClient(
        settings.model,
        region=judge_region(settings),
        endpoint_url=config.endpoint_url,
        max_concurrency=settings.max_concurrency,
    )
    requests = [
        JudgeRequest(r["request_id"], text(r["prompt_text"]), text(r["completion_text"])) for r in rows
    ]
    log(
        f"  judging {len(requests):,} invocations with {settings.model} ({settings.max_concurrency} at a time)"
    )
    out = []
    for response in client.judge_many(requests):
        if response.verdict is not None:
            out.append(Judged("judged", None, verdict_fields(response.verdict), response.input_tokens,
                              response.output_tokens, response.attempts, response.latency_ms))  # fmt: skip
            continue
        status = response.status  # unparsed (no valid verdict in a reply: never sent again) or failed
        reason = f"{response.error_code}: {response.failure}" if response.failure else response.error_code
        out.append(Judged(status, reason, {}, response.input_tokens, response.output_tokens, response.attempts,
                          response.latency_ms))  # fmt: skip
    return out


def verdict_fields(verdict: Any) -> dict[str, Any]:
    return {
        "refusal": verdict.refusal,
        "prompt_toxicity": float(verdict.prompt_toxicity.probability),
        "prompt_toxicity_category": verdict.prompt_toxicity.category,
        "completion_toxicity": float(verdict.completion_toxicity.probability),
        "completion_toxicity_category": verdict.completion_toxicity.category,
        "prompt_sentiment": verdict.prompt_sentiment,
        "completion_sentiment": verdict.completion_sentiment,
        "helpfulness": int(verdict.helpfulness),
        "relevance": int(verdict.relevance),
        "judge_reason": verdict.reason,
    }


def simulated_verdict(outcome: str | None) -> Judged:
    """The generator's ground truth as a verdict: what it wrote as a refusal (full, partial, a guardrail
    message, or a refusal of a toxic prompt: ``toxic_refused``) and which prompts it wrote as toxic. It knows
    nothing of completion toxicity, sentiment or quality: those stay empty rather than made up."""
    if outcome is None:
        return Judged("failed", "simulated: the generator has no record of this invocation", {})
    refusals = {"refusal": "full", "guardrail": "full", "toxic_refused": "full", "partial_refusal": "partial"}
    refusal = refusals.get(outcome, "none")
    toxic = outcome in ("toxic", "toxic_refused")
    return Judged(
        "judged",
        None,
        {
            "refusal": refusal,
            "prompt_toxicity": 1.0 if toxic else 0.0,
            "prompt_toxicity_category": "harassment" if toxic else "none",
            "judge_reason": f"simulated: the generator wrote this exchange as {outcome!r}",
        },
    )


def _row(
    sampled: Mapping[str, Any], judged: Judged | None, base: dict[str, Any], price: ModelPrice | None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "dt": sampled["dt"],
        "request_id": sampled["request_id"],
        "base_model_id": sampled["base_model_id"],
        "caller_name": sampled["caller_name"],
        "scorer_version": sampled["scorer_version"],
        **{k: sampled[k] for k in sampled if k.startswith("local_")},
        **base,
    }
    if judged is not None:
        row.update(judged.fields)
        row.update(status=judged.status, reason=judged.reason, attempts=judged.attempts)
        row.update(
            input_tokens=judged.input_tokens, output_tokens=judged.output_tokens, latency_ms=judged.latency_ms
        )
        if price is not None and judged.input_tokens is not None:
            row["cost_usd"] = cost_usd(price, judged.input_tokens, judged.output_tokens, None, None)[0]
    row.setdefault("cost_usd", None)
    return row


# ------------------------------------------------------------------------------------------- calibration


def _labels(row: Mapping[str, Any], metric: str) -> tuple[bool | None, bool | None, float | None]:
    """(judge's label, local flag, local score) of one judged invocation for a metric; None where unknown."""
    if metric == "refusal":
        judge = None if row.get("refusal") is None else row["refusal"] != "none"
        return judge, row.get("local_refusal_flag"), row.get("local_refusal_score")
    if metric in ("prompt_toxicity", "completion_toxicity"):
        prob = row.get(metric)
        return (
            (None if prob is None else prob >= TOXIC),
            row.get(f"local_{metric}_flag"),
            row.get(f"local_{metric}_score"),
        )
    sentiment, compound = row.get("completion_sentiment"), row.get("local_completion_sentiment")
    judge = None if sentiment is None else sentiment == "negative"
    flag = None if compound is None else compound <= -NEGATIVE_COMPOUND
    return judge, flag, None if compound is None else -float(compound)


def calibration_rows(
    judgements: list[dict[str, Any]], population_rows: list[dict[str, Any]], base: dict[str, Any]
) -> list[dict[str, Any]]:
    """metric_calibration rows: per day, slice (all, model, caller) and metric with a judge's label."""
    pop = {(r["dt"], r["slice_type"], r["slice"]): r for r in population_rows}
    judged = [r for r in judgements if r["status"] == "judged"]
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in judged:
        for slice_type, name in (
            ("all", "*"),
            ("model", r["base_model_id"] or "(unknown)"),
            ("caller", r["caller_name"] or "(unknown)"),
        ):
            groups.setdefault((r["dt"], slice_type, name), []).append(r)
    out = []
    for (day, slice_type, name), rows in sorted(groups.items()):
        counts = pop.get((day, slice_type, name))
        for metric in METRICS:
            triples = [t for t in (_labels(r, metric) for r in rows) if t[0] is not None and t[1] is not None]
            if not triples:
                continue
            judge = [bool(t[0]) for t in triples]
            flag = [bool(t[1]) for t in triples]
            scores = [t[2] for t in triples]
            present = [float(s) for s in scores if s is not None]
            score = present if len(present) == len(scores) else None
            n_pop = int(counts[f"n_{metric}"]) if counts else 0
            rate = counts[metric] / n_pop if counts and n_pop else None
            cal = calibration.calibrate(judge, flag, score, rate, n_pop if rate is not None else None)
            out.append(
                {
                    "dt": day,
                    "slice_type": slice_type,
                    "slice": name,
                    "metric": metric,
                    **{k: base[k] for k in ("rubric", "judge_model", "backend", "run_id")},
                    "n_judged": cal.n,
                    "judged_rate": cal.judged_rate,
                    "judged_low": cal.judged_low,
                    "judged_high": cal.judged_high,
                    "population_n": n_pop,
                    "local_rate": rate,
                    **{
                        k: getattr(cal, k)
                        for k in (
                            "precision",
                            "precision_low",
                            "precision_high",
                            "recall",
                            "recall_low",
                            "recall_high",
                            "auc",
                            "auc_low",
                            "auc_high",
                            "corrected_rate",
                            "corrected_low",
                            "corrected_high",
                        )
                    },
                    "method": cal.method,
                }
            )
    return out

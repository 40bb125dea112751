"""The ``llmdrift`` command: generate demo logs, ingest them, run the demo end to end."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Batch analytics and drift detection for Amazon Bedrock model invocation logs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

MasterOpt = Annotated[str, typer.Option(help="Spark master URL.")]
EmbedderOpt = Annotated[
    str, typer.Option(help="Embedding model: static (fast, default) or minilm (slow reference).")
]
TextModelOpt = Annotated[
    str,
    typer.Option(
        "--text-model",
        help="Learned refusal, toxicity and sentiment model: fast (the default, and the only tier shipped).",
    ),
]
RedactOpt = Annotated[
    bool,
    typer.Option(
        "--redact-pii",
        help="Store prompt, system and completion texts with personal data replaced by [TYPE] placeholders.",
    ),
]
ConfOpt = Annotated[
    list[str] | None, typer.Option("--conf", help="Extra Spark setting KEY=VALUE (repeatable).")
]

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="TOML config: price override, profile mapping, alerts, CloudWatch."),
]


DEFAULT_LABELED = Path("../shared/data/labeled")  # beside the project root (the corpus's own README)


def _err(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


def _log(message: str) -> None:
    typer.echo(message, err=True)


def parse_time(value: str | None, option: str) -> datetime | None:
    """``2026-11-02``, ``2026-11-02T13``, ``2026-11-02T13:00[:00][Z|+00:00]``; naive means UTC."""
    from llmdrift.pipeline import parse_utc

    if value is None:
        return None
    try:
        return parse_utc(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def parse_day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-11-02", param_hint=option) from None


JobErrors = tuple[type[Exception], ...]


def _run_jobs(
    warehouse: str,
    master: str,
    conf: list[str] | None,
    errors: JobErrors,
    *jobs: Callable[[Any], Any],
    logs: str | None = None,
) -> list[Any]:
    """Run jobs in one Spark session; a known failure prints one line and exits 1; outputs are printed.

    The command's warehouse is locked for the duration: a second run on it at the same time refuses.
    """
    from llmdrift.core.lock import LockError, warehouse_lock
    from llmdrift.core.runs import RunContext
    from llmdrift.core.storage import StorageError

    caught: JobErrors = (*errors, LockError, StorageError)
    spark = _spark(master, conf, [warehouse, logs or ""])
    results = []
    try:
        with warehouse_lock(warehouse, RunContext.create("lock").run_id, log=_log):
            for job in jobs:
                results.append(job(spark))
    except caught as exc:
        _err(str(exc))
        raise typer.Exit(1) from None
    for result in results:
        for name, uri in result.outputs.items():
            _log(f"  {name:<18} {uri}")
    return results


def _spark(master: str, conf: list[str] | None, uris: list[str]) -> Any:
    from llmdrift.core import s3a
    from llmdrift.core.spark import get_spark, parse_conf

    try:
        settings = parse_conf(conf or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--conf") from None
    if master:
        try:
            s3a.require(uris)  # before Spark starts: a missing jar is one clear line, not a Java trace
        except s3a.S3AError as exc:
            _err(str(exc))
            raise typer.Exit(1) from None
    return get_spark(master, settings)


@app.command()
def generate(
    out: Annotated[str, typer.Option(help="Log root to write (a bucket/prefix: AWSLogs/... goes under it).")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes the same bytes.")] = 7,
    start: Annotated[str, typer.Option(help="First day, UTC (YYYY-MM-DD).")] = "2026-11-02",
    days: Annotated[int, typer.Option(min=1, help="Number of days.")] = 4,
    per_day: Annotated[int, typer.Option(min=1, help="Mean invocations per weekday.")] = 1500,
    change: Annotated[
        list[str] | None,
        typer.Option(
            help="Inject a change from --change-from: topic_shift[:share], model_swap[:share], "
            "refusal_rise[:rate], toxicity_rise[:rate], length_change[:factor]. Repeatable."
        ),
    ] = None,
    change_from: Annotated[
        str | None, typer.Option(help="Day the changes start (default: the last day).")
    ] = None,
    error_rate: Annotated[float, typer.Option(min=0, max=1, help="Share of failed invocations.")] = 0.015,
    refusal_rate: Annotated[float, typer.Option(min=0, max=1, help="Share of refused requests.")] = 0.03,
    toxic_rate: Annotated[float, typer.Option(min=0, max=1, help="Share of toxic prompts.")] = 0.015,
    duplicate_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of records delivered twice.")
    ] = 0.001,
    malformed_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of records truncated like published samples.")
    ] = 0.0,
) -> None:
    """Write realistic Bedrock invocation logs (gzipped JSON lines in Bedrock's S3 layout)."""
    from llmdrift.core.storage import normalize, storage_for
    from llmdrift.generate.traffic import Change, Scenario
    from llmdrift.generate.writer import write_logs

    first = parse_day(start, "--start")
    try:
        changes = tuple(Change.parse(c) for c in change or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--change") from None
    shift_day = parse_day(change_from, "--change-from") if change_from else None
    if changes and shift_day is None:
        shift_day = date.fromordinal(first.toordinal() + days - 1)
    scenario = Scenario(
        seed=seed,
        start=first,
        days=days,
        per_day=per_day,
        changes=changes,
        change_from=shift_day,
        error_rate=error_rate,
        refusal_rate=refusal_rate,
        toxic_rate=toxic_rate,
        duplicate_rate=duplicate_rate,
        malformed_rate=malformed_rate,
    )
    root = normalize(out)
    t0 = time.monotonic()
    _log(f"generating {days} day(s) from {first} (seed {seed}) into {root}")
    stats = write_logs(scenario, storage_for(root), root, progress=_log)
    elapsed = time.monotonic() - t0
    _log(
        f"wrote {stats.records:,} invocations in {stats.files:,} log files ({stats.bytes / 1e6:,.1f} MB gzipped),"
        f" {stats.data_objects:,} offloaded bodies, {stats.duplicates:,} redelivered records"
        f" in {elapsed:.1f}s ({stats.records / max(elapsed, 1e-9):,.0f} records/s)"
    )
    typer.echo(root)


@app.command()
def ingest(
    logs: Annotated[
        str, typer.Option(help="Log root (bucket/prefix above AWSLogs/): a local path or s3://bucket/prefix.")
    ],
    warehouse: Annotated[str, typer.Option(help="Warehouse root the tables are written under.")],
    start: Annotated[
        str | None,
        typer.Option(help="Window start, UTC (default: the watermark, else the first hour found)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Window end, exclusive, UTC (default: the last settled hour).")
    ] = None,
    lookback_hours: Annotated[
        int, typer.Option(min=0, help="Hours before the start re-read for late files.")
    ] = 2,
    settle_minutes: Annotated[
        int, typer.Option(min=0, help="Minutes an hour is left to settle before it is read by default.")
    ] = 30,
    fetch_offloaded: Annotated[bool, typer.Option(help="Read offloaded bodies from data/ objects.")] = True,
    max_offloaded_mb: Annotated[
        float, typer.Option(min=0.001, help="Largest offloaded body read, MB.")
    ] = 10.0,
    redact_pii: RedactOpt = False,
    config: ConfigOpt = None,
    master: MasterOpt = "local[*]",
    conf: ConfOpt = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the run's counts as JSON on stdout.")
    ] = False,
) -> None:
    """Ingest Bedrock invocation logs into the invocations and quarantine tables (incremental, idempotent)."""
    from llmdrift.core.runs import RunContext
    from llmdrift.core.storage import StorageError
    from llmdrift.cost.prices import PriceError
    from llmdrift.ingest.job import IngestConfig, IngestError, result_dict, run

    try:
        ingest_config = IngestConfig(
            logs,
            warehouse,
            parse_time(start, "--start"),
            parse_time(end, "--end"),
            lookback_hours,
            settle_minutes,
            fetch_offloaded,
            int(max_offloaded_mb * (1 << 20)),
            redact_pii=redact_pii,
            profiles=_settings(config).profiles,  # application profiles are stored as the model they map to
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    errors = (IngestError, StorageError, PriceError)
    (result,) = _run_jobs(
        warehouse,
        master,
        conf,
        errors,
        lambda spark: run(spark, ingest_config, RunContext.create(), log=_log),
        logs=logs,
    )
    if json_out:
        typer.echo(json.dumps(result_dict(result), indent=2))


models_app = typer.Typer(
    help="Local model files used by scoring (built once, never downloaded).", no_args_is_help=True
)
app.add_typer(models_app, name="models")


@models_app.command("build")
def models_build(force: Annotated[bool, typer.Option(help="Rebuild even if present.")] = False) -> None:
    """Distil the static embedding model from the installed MiniLM into the model cache."""
    from llmdrift.text.embedders import build_static

    typer.echo(build_static(force=force, log=_log))


@models_app.command("train")
def models_train(
    labeled: Annotated[
        Path, typer.Option(help="The third-party labeled corpus (refusal/toxicity/sentiment .jsonl.gz).")
    ] = DEFAULT_LABELED,
    out: Annotated[
        Path | None,
        typer.Option(help="Where the tiers go (default: the package's textmodels/, which the wheel ships)."),
    ] = None,
    tier: Annotated[str, typer.Option(help="A tier (fast) or all.")] = "all",
) -> None:
    """Train the refusal, toxicity and sentiment heads from the labeled corpus (byte-for-byte reproducible)."""
    from llmdrift.score.heads import TIERS, shipped_dir
    from llmdrift.score.train import TrainError, train
    from llmdrift.text.embedders import ModelError

    if tier != "all" and tier not in TIERS:
        raise typer.BadParameter(f"{tier!r} is not {', '.join(TIERS)} or all", param_hint="--tier")
    target = out or shipped_dir()
    try:
        versions = train(labeled, target, TIERS if tier == "all" else (tier,), log=_log)
    except (TrainError, ModelError) as exc:
        _err(str(exc))
        raise typer.Exit(1) from None
    for name, version in versions.items():
        typer.echo(f"{name}: {version} -> {target / name}")


@app.command("s3a-jars")
def s3a_jars(force: Annotated[bool, typer.Option(help="Fetch again even if present.")] = False) -> None:
    """Fetch the two Hadoop S3A jars local Spark needs for s3:// paths (once, from PyPI, into a cache)."""
    from llmdrift.core import s3a

    try:
        paths = s3a.fetch(force=force, log=_log)
    except s3a.S3AError as exc:
        _err(str(exc))
        raise typer.Exit(1) from None
    for path in paths:
        typer.echo(path)


@app.command()
def score(
    warehouse: Annotated[str, typer.Option(help="Warehouse root holding the invocations table.")],
    start: Annotated[
        str | None,
        typer.Option(help="Event-hour window start, UTC (default: what ingest wrote since the last score)."),
    ] = None,
    end: Annotated[str | None, typer.Option(help="Event-hour window end, exclusive, UTC.")] = None,
    embedder: EmbedderOpt = "static",
    rescore: Annotated[
        bool, typer.Option(help="Score again rows already scored by this scorer version.")
    ] = False,
    text_backend: Annotated[
        str,
        typer.Option(
            help="Sentiment and toxicity models: local (default) or comprehend (Amazon Comprehend)."
        ),
    ] = "local",
    aws_region: Annotated[
        str | None, typer.Option(help="AWS region for --text-backend comprehend (default: AWS config).")
    ] = None,
    reuse_days: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Reuse stored vectors of identical texts from this many days back; 0 turns it off"
            " (default: 0 for static, 7 for minilm).",
        ),
    ] = None,
    text_model: TextModelOpt = "fast",
    master: MasterOpt = "local[*]",
    conf: ConfOpt = None,
) -> None:
    """Score invocations: embeddings, similarity, refusal, sentiment, toxicity, PII, text statistics."""
    from llmdrift.core.runs import RunContext
    from llmdrift.score.comprehend import ComprehendError
    from llmdrift.score.job import ScoreConfig, ScoreError
    from llmdrift.score.job import run as run_score
    from llmdrift.text.embedders import ModelError

    try:
        config = ScoreConfig(
            warehouse,
            parse_time(start, "--start"),
            parse_time(end, "--end"),
            embedder,
            rescore,
            text_backend,
            aws_region,
            reuse_days,
            text_model,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _run_jobs(
        warehouse,
        master,
        conf,
        (ScoreError, ModelError, ComprehendError),
        lambda spark: run_score(spark, config, RunContext.create("score"), log=_log),
    )


@app.command()
def quality(
    labeled: Annotated[
        Path | None,
        typer.Option(
            help="The third-party labeled corpus (refusal/toxicity/sentiment .jsonl.gz); default"
            " ../shared/data/labeled when present."
        ),
    ] = None,
    devset: Annotated[
        Path | None,
        typer.Option(help="Our regression set of hard cases (default tests/devset when present)."),
    ] = None,
    split: Annotated[str, typer.Option(help="Corpus split to measure: test (default) or dev.")] = "test",
    tier: Annotated[str, typer.Option(help="Text model to measure: a tier (fast) or all.")] = "all",
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many rows per source (default: all).")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Also write all figures as JSON here.")] = None,
) -> None:
    """Text metric quality per source of the labeled corpus (ROC-AUC, PR-AUC, F1, calibration; sentiment
    polar accuracy and macro-F1) and on the regression set, for each text model."""
    from llmdrift.score import quality as q
    from llmdrift.score.heads import TIERS, TextModelError
    from llmdrift.score.train import TrainError

    if split not in ("test", "dev"):
        raise typer.BadParameter(f"{split!r} is not test or dev", param_hint="--split")
    if tier != "all" and tier not in TIERS:
        raise typer.BadParameter(f"{tier!r} is not {', '.join(TIERS)} or all", param_hint="--tier")
    if labeled is None and DEFAULT_LABELED.exists():
        labeled = DEFAULT_LABELED
    if devset is None and Path("tests/devset").exists():
        devset = Path("tests/devset")
    if labeled is None and devset is None:
        raise typer.BadParameter("give --labeled or --devset (neither default exists here)")
    try:
        figures = q.evaluate(labeled, devset, TIERS if tier == "all" else (tier,), split, limit)
    except (q.DevsetError, TrainError, TextModelError) as exc:
        _err(str(exc))
        raise typer.Exit(1) from None
    for line in q.summary(figures):
        typer.echo(line)
    if output:
        output.write_text(json.dumps(figures, indent=2))
        _log(f"figures written to {output}")


def _settings(config: Path | None) -> Any:
    from llmdrift.core.settings import ConfigError, load

    try:
        return load(config)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from None


@app.command()
def aggregate(
    warehouse: Annotated[str, typer.Option(help="Warehouse root holding invocations and their metrics.")],
    start: Annotated[
        str | None,
        typer.Option(help="First day, yyyy-MM-dd (default: the days ingest wrote since the last run)."),
    ] = None,
    end: Annotated[str | None, typer.Option(help="Day after the last, yyyy-MM-dd (exclusive).")] = None,
    config: ConfigOpt = None,
    master: MasterOpt = "local[*]",
    conf: ConfOpt = None,
) -> None:
    """Cost per invocation; usage, cost and quality per hour/day, model, caller; templates, anomalies, alerts.

    Rerunning a window with a new price table (--config with [pricing] override) re-prices it."""
    from llmdrift.aggregate.job import AggregateConfig, AggregateError
    from llmdrift.aggregate.job import run as run_aggregate
    from llmdrift.core.runs import RunContext
    from llmdrift.core.storage import StorageError
    from llmdrift.cost.prices import PriceError

    settings = _settings(config)
    try:
        cfg = AggregateConfig(
            warehouse,
            parse_day(start, "--start") if start else None,
            parse_day(end, "--end") if end else None,
            settings,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _run_jobs(
        warehouse,
        master,
        conf,
        (AggregateError, PriceError, StorageError),
        lambda spark: run_aggregate(spark, cfg, RunContext.create("aggregate"), log=_log),
    )


@app.command()
def prices(
    override: Annotated[
        Path | None, typer.Option(help="A price override CSV to validate with the table.")
    ] = None,
    profiles: Annotated[
        Path | None, typer.Option(help="An application-profile mapping CSV to validate.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Only rows of base models containing this text.")] = None,
) -> None:
    """List and validate the price table (and a user's override and profile files)."""
    from llmdrift.cost.prices import PriceError, load_prices, load_profiles

    try:
        table = load_prices(override=override)
        mapping = load_profiles(profiles)
    except PriceError as exc:
        _err(str(exc))
        raise typer.Exit(1) from None
    for line in table.summary():
        _log(line)
    _log(f"{len(mapping)} application profile mappings")
    for row in table.rows:
        if model is None or model in row.base_model_id:
            typer.echo(
                f"{row.base_model_id:<48} {row.source_region:<10} {row.endpoint_scope:<9} {row.token_class:<11}"
                f" {row.usd_per_1k:>10.6f}  {row.effective_from}..{row.effective_to or ''}  {row.status:<10} {row.origin}"
            )


@app.command()
def drift(
    warehouse: Annotated[
        str, typer.Option(help="Warehouse root holding invocations, metrics and embeddings.")
    ],
    current: Annotated[
        str | None,
        typer.Option(
            help="Current window, 2026-11-05..2026-11-06 (end exclusive) or a day (default: the last day)."
        ),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(help="Reference window (default: the --reference-days before the current one)."),
    ] = None,
    reference_days: Annotated[int, typer.Option(min=1, help="Length of the default trailing reference.")] = 7,
    min_samples: Annotated[
        int, typer.Option(min=10, help="Invocations a slice needs in each window to be tested.")
    ] = 50,
    alpha: Annotated[
        float, typer.Option(help="False discovery rate: a test drifts when its q value is below.")
    ] = 0.05,
    embedder: Annotated[
        str,
        typer.Option(help="Whose vectors are compared: the --embedder the scorer ran with (static, minilm)."),
    ] = "static",
    master: MasterOpt = "local[*]",
    conf: ConfOpt = None,
) -> None:
    """Drift between a reference and a current window: embeddings and every metric, per slice, FDR-controlled."""
    from llmdrift.core.runs import RunContext
    from llmdrift.core.windows import Window
    from llmdrift.drift.job import DriftConfig, DriftError
    from llmdrift.drift.job import run as run_drift

    try:
        cfg = DriftConfig(
            warehouse,
            Window.parse(current) if current else None,
            Window.parse(reference) if reference else None,
            reference_days,
            min_samples,
            alpha=alpha,
            embedder=embedder,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    from llmdrift.core.storage import StorageError

    errors = (DriftError, StorageError)
    _run_jobs(
        warehouse,
        master,
        conf,
        errors,
        lambda spark: run_drift(spark, cfg, RunContext.create("drift"), log=_log),
    )


@app.command()
def report(
    warehouse: Annotated[str, typer.Option(help="Warehouse root holding the drift and usage tables.")],
    run_id: Annotated[str | None, typer.Option(help="Drift run to report (default: the newest).")] = None,
    out: Annotated[
        str | None,
        typer.Option(help="Write the HTML here instead of <warehouse>/reports/ (no index update)."),
    ] = None,
    master: MasterOpt = "local[*]",
    conf: ConfOpt = None,
) -> None:
    """The HTML drift report of a drift run: one self-contained page, from stored results only."""
    from llmdrift.core.storage import StorageError
    from llmdrift.report.job import ReportConfig, ReportError
    from llmdrift.report.job import run as run_report

    cfg = ReportConfig(warehouse, run_id, out)
    _run_jobs(
        warehouse, master, conf, (ReportError, StorageError), lambda spark: run_report(spark, cfg, log=_log)
    )


@app.command()
def judge(
    warehouse: Annotated[str, typer.Option(help="Warehouse root holding the scored invocations.")],
    days: Annotated[
        str | None,
        typer.Option(
            help="Days to judge: 2026-11-02 or 2026-11-02..2026-11-05 (default: the last complete day)."
        ),
    ] = None,
    config: ConfigOpt = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Judge model: a Bedrock model id, inference-profile id or ARN (default: [judge] model)."
        ),
    ] = None,
    sample_per_day: Annotated[
        int | None, typer.Option(min=1, help="Invocations judged per day (default: [judge], else 200).")
    ] = None,
    max_cost_usd: Annotated[
        float | None,
        typer.Option(
            min=0.0, help="Cost cap of this run, USD, checked before any call (default: [judge], else 5)."
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="The judge's AWS region (default: the session's).")
    ] = None,
    redact: Annotated[
        bool, typer.Option("--redact", help="Send texts with personal data replaced by [TYPE] placeholders.")
    ] = False,
    master: MasterOpt = "local[*]",
    conf: ConfOpt = None,
) -> None:
    """Judge a daily sample of invocations with a Bedrock model (Converse): judgements and metric_calibration."""
    from dataclasses import replace

    from llmdrift.core.runs import RunContext
    from llmdrift.core.storage import StorageError
    from llmdrift.core.windows import Window
    from llmdrift.judge.job import JudgeConfig, JudgeError
    from llmdrift.judge.job import run as run_judge

    settings = _settings(config).judge
    overrides: dict[str, Any] = {"enabled": True, "backend": "bedrock", "redact": redact or settings.redact}
    for key, value in (("model", model), ("sample_per_day", sample_per_day), ("max_cost_usd", max_cost_usd)):
        if value is not None:
            overrides[key] = value
    if region:
        overrides["region"] = region
    try:
        chosen = tuple(Window.parse(days).days) if days else ()
        cfg = JudgeConfig(warehouse, replace(settings, **overrides), chosen)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _run_jobs(
        warehouse,
        master,
        conf,
        (JudgeError, StorageError),
        lambda spark: run_judge(spark, cfg, RunContext.create("judge"), log=_log),
    )


@app.command()
def dq(
    warehouse: Annotated[str, typer.Option(help="Warehouse root holding the tables to validate.")],
    days: Annotated[
        str, typer.Option(help="Days to validate: 2026-11-02, or 2026-11-02..2026-11-05 (end exclusive).")
    ],
    run_id: Annotated[
        list[str] | None, typer.Option(help="Drift run(s) to validate (default: the newest). Repeatable.")
    ] = None,
    table: Annotated[
        list[str] | None, typer.Option(help="Validate only this table (repeatable; default: all).")
    ] = None,
    policy: Annotated[
        str, typer.Option(help="What fails: fail-on-critical, fail-on-any or warn-only.")
    ] = "fail-on-critical",
    master: MasterOpt = "local[*]",
    conf: ConfOpt = None,
) -> None:
    """Data-quality gates (great-expectations) over the tables' partitions; results go to dq_results."""
    from llmdrift.core.runs import RunContext
    from llmdrift.core.storage import StorageError
    from llmdrift.core.windows import Window
    from llmdrift.dq.job import DQConfig, DQError, DQResult, judge
    from llmdrift.dq.job import run as run_dq

    try:
        dates = tuple(Window.parse(days).days)
        cfg = DQConfig(warehouse, dates, tuple(run_id or ()), policy, tuple(table) if table else None)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None

    def judged(result: DQResult) -> DQResult:
        judge(result, cfg.policy)
        return result

    _run_jobs(
        warehouse,
        master,
        conf,
        (DQError, StorageError),
        lambda spark: judged(run_dq(spark, cfg, RunContext.create("dq"), log=_log)),
    )


def _run_all(master: str, conf: list[str] | None, **options: Any) -> None:
    """Every job in order: ingest, score, aggregate, drift of the last complete day, dq, its HTML report."""
    from llmdrift.core.settings import ConfigError
    from llmdrift.pipeline import OPTIONS, PipelineConfig, pipeline_errors, run_pipeline

    by_name = {o.name: o for o in OPTIONS}
    values: dict[str, Any] = {}
    for name, value in options.items():
        option = by_name[name]
        if option.switch:
            values[name] = bool(value)
            continue
        if value is None:
            continue
        try:
            values[name] = option.convert(str(value))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=option.flag) from None
    if "ingest" in values.get("steps", by_name["steps"].default) and not values.get("logs"):
        raise typer.BadParameter("the ingest step needs the log root", param_hint="--logs")
    try:
        pipeline = PipelineConfig.from_options(values)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _run_jobs(
        pipeline.warehouse,
        master,
        conf,
        pipeline_errors(),
        lambda spark: run_pipeline(spark, pipeline, log=_log),
        logs=pipeline.logs,
    )


def _run_command() -> Callable[..., None]:
    """``llmdrift run``: one flag per pipeline option (``llmdrift.pipeline.OPTIONS``), plus the Spark ones."""
    import inspect

    from llmdrift.pipeline import OPTIONS

    params = []
    for option in OPTIONS:
        if option.switch:
            kind: Any = Annotated[bool, typer.Option(option.flag, help=option.help)]
            default: Any = bool(option.default)
        else:
            required = option.name == "warehouse"
            kind = Annotated[str | None if not required else str, typer.Option(option.flag, help=option.help)]
            default = inspect.Parameter.empty if required else None
        params.append(
            inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
        )
    params.append(
        inspect.Parameter("master", inspect.Parameter.KEYWORD_ONLY, default="local[*]", annotation=MasterOpt)
    )
    params.append(inspect.Parameter("conf", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ConfOpt))

    def run(**kwargs: Any) -> None:
        master, conf = kwargs.pop("master"), kwargs.pop("conf")
        _run_all(master, conf, **kwargs)

    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params}
    run.__doc__ = _run_all.__doc__
    return run


app.command("run")(_run_command())


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Directory for the demo logs and warehouse.")] = Path(
        "demo-output"
    ),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    days: Annotated[
        int, typer.Option(min=2, help="Days of traffic; the last one carries injected changes.")
    ] = 4,
    per_day: Annotated[int, typer.Option(min=1, help="Mean invocations per weekday.")] = 1500,
    judge: Annotated[
        str,
        typer.Option(
            help="simulated: the generator's ground truth stands in for a Bedrock judge (labelled simulated in"
            " the tables and the report); off: no judge step."
        ),
    ] = "simulated",
    master: MasterOpt = "local[*]",
) -> None:
    """Generate a few days of logs (changes injected on the last day) and run every job on them."""
    from llmdrift.demo import JUDGES, run_demo

    if judge not in JUDGES:
        raise typer.BadParameter(f"{judge!r} is not one of {', '.join(JUDGES)}", param_hint="--judge")
    try:
        run_demo(workdir, seed=seed, days=days, per_day=per_day, master=master, judge=judge, log=_log)
    except Exception as exc:  # the demo reports any failure in one line and a non-zero exit
        _err(f"demo failed: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None


# llmdrift ddl, llmdrift catalog sync, llmdrift query (Glue Data Catalog and Athena SQL)
from llmdrift.catalog.cli import register as _register_catalog  # noqa: E402

_register_catalog(app)


# llmdrift deploy (AWS Glue, CloudFormation)
from llmdrift.deploy import register as _register_deploy  # noqa: E402

_register_deploy(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point for scripts (Glue, tests): returns the exit code instead of exiting."""
    try:
        app(args=argv if argv is not None else sys.argv[1:])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0

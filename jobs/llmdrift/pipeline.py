"""The job sequence ingest -> score -> aggregate -> drift -> dq -> report (-> catalog), in one Spark session.

``llmdrift run`` and the Glue entry script (``glue/llmdrift_job.py``) both call :func:`run_pipeline`; each
step is that job's own ``run``. Every job commits its state file only after its tables are written (the
ingest watermark last of all), so a run that fails at any step leaves the next run to redo exactly the
unfinished work. That is why the Glue jobs keep job bookmarks disabled: the state files already say what
is done, they are testable locally, and a bookmark would be a second, opaque, record of the same thing.

Drift compares whole days, so an hourly schedule would compare the same day 24 times. With
``drift="daily"`` (the Glue default) the drift step runs only when the day it would compare has no drift
run yet, and the report only after a drift run of this pipeline run. ``drift="always"`` runs them every
time (``llmdrift run``).
"""

from __future__ import annotations

import hashlib
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from llmdrift.core.errors import LlmdriftError
from llmdrift.core.runs import RunContext
from llmdrift.core.settings import DQ_POLICIES, AggregateSettings

STEPS = ("ingest", "score", "aggregate", "judge", "drift", "dq", "report", "catalog")
# "judge" runs only when the config enables it ([judge]); "catalog" registers partitions in the Glue Data
# Catalog: AWS only.
DEFAULT_STEPS = STEPS[:7]
DRIFT_MODES = ("always", "daily")

Log = Callable[[str], None]
Contexts = Callable[[str], RunContext]


def parse_utc(value: str) -> datetime:
    """``2026-11-02``, ``2026-11-02T13``, ``2026-11-02T13:00[:00][Z|+00:00]`` -> an aware UTC time (naive
    means UTC); ValueError naming the value otherwise. The command line and the Glue arguments share it."""
    text = value.strip()
    if len(text) == 13 and text[10] == "T":  # 2026-11-02T13
        text += ":00"
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a UTC time like 2026-11-02 or 2026-11-02T13:00") from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def parse_steps(text: str) -> tuple[str, ...]:
    """``"ingest,score"`` -> ``("ingest", "score")``, always in pipeline order; unknown or repeated names fail."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError(f"no steps given: choose from {','.join(STEPS)}")
    for name in names:
        if name not in STEPS:
            raise ValueError(f"unknown step {name!r}: choose from {','.join(STEPS)}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"step {repeated[0]!r} is given twice")
    return tuple(step for step in STEPS if step in names)


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
    if number < 0:
        raise ValueError(f"{number} is negative")
    return number


def parse_bool(value: str) -> bool:
    text = value.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"{value!r} is not true or false")


def _choice(*allowed: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return check


def _text_model(value: str) -> str:
    from llmdrift.score.heads import TIERS  # only when given: the Glue ingest job installs no scorer

    return _choice(*TIERS)(value)


def _embedder(value: str) -> str:
    from llmdrift.text.embedders import EMBEDDERS

    return _choice(*EMBEDDERS)(value)


@dataclass(frozen=True)
class Option:
    """One option of a pipeline run. The same list makes the ``llmdrift run`` flags (``--kebab-case``), the
    Glue job arguments (``--snake_case``) and the demo's run (tests/test_pipeline.py checks all three)."""

    name: str  # PipelineConfig field / Glue argument
    help: str
    parse: Callable[[str], Any] | None = None  # text -> value (None: the text itself); ValueError if bad
    default: Any = None
    switch: bool = False  # true/false: a flag on the command line, true|false on Glue
    glue_default: Any = None  # where the Glue jobs' default differs (None: the same)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def convert(self, text: str) -> Any:
        if self.switch:
            return parse_bool(text)
        return self.parse(text) if self.parse else text.strip()


OPTIONS: tuple[Option, ...] = (
    Option("warehouse", "warehouse root, a local path or s3://bucket/prefix (required)"),
    Option("logs", "Bedrock log root above AWSLogs/ (required when the steps include ingest)"),
    Option(
        "steps",
        f"comma list of steps, run in pipeline order (default {','.join(DEFAULT_STEPS)})",
        parse_steps,
        DEFAULT_STEPS,
        glue_default=STEPS,
    ),
    Option(
        "start", "ingest window start, UTC, 2026-11-02 or 2026-11-02T13 (default: the watermark)", parse_utc
    ),
    Option("end", "ingest window end, exclusive, UTC (default: the last settled hour)", parse_utc),
    Option("lookback_hours", "hours before the start re-read for late files (default 2)", _count, 2),
    Option(
        "redact_pii",
        "store texts with personal data replaced by [TYPE] placeholders",
        default=False,
        switch=True,
    ),
    Option(
        "config", "settings TOML (a path or s3:// URI): prices, alerts, CloudWatch, quality policy, drift"
    ),
    Option(
        "embedder",
        "embedding model: static (default; the only one on Glue) or minilm (needs torch)",
        _embedder,
        "static",
    ),
    Option(
        "text_backend",
        "refusal/toxicity/sentiment/PII backend: local (default) or comprehend",
        _choice("local", "comprehend"),
        "local",
    ),
    Option(
        "text_model",
        "learned refusal, toxicity and sentiment model: fast (the default and only tier)",
        _text_model,
        "fast",
    ),
    Option("aws_region", "region for Comprehend, CloudWatch and the Glue catalog (default: the session's)"),
    Option(
        "drift",
        "always (every run) or daily (once per completed day)",
        _choice(*DRIFT_MODES),
        "always",
        glue_default="daily",
    ),
    Option(
        "dq_policy",
        "data-quality policy: fail-on-critical, fail-on-any or warn-only (default: the config's)",
        _choice(*DQ_POLICIES),
    ),
    Option(
        "cloudwatch",
        "publish daily metrics with PutMetricData (default: the config's)",
        default=False,
        switch=True,
    ),
    Option(
        "cloudwatch_namespace", "CloudWatch namespace of those metrics (default: the config's, else llmdrift)"
    ),
    Option("database", "Glue database of the catalog step (default llmdrift)", default="llmdrift"),
)
OPTION_NAMES = tuple(o.name for o in OPTIONS)


@dataclass(frozen=True)
class PipelineConfig:
    """A pipeline run's settings: the fields of ``OPTIONS`` (the settings file read into ``settings``)."""

    warehouse: str
    logs: str | None = None  # needed when the steps include ingest
    steps: tuple[str, ...] = DEFAULT_STEPS
    start: datetime | None = None  # ingest window (default: from the watermark)
    end: datetime | None = None
    lookback_hours: int = 2
    redact_pii: bool = False
    settings: AggregateSettings = field(default_factory=AggregateSettings)
    embedder: str = "static"
    text_backend: str = "local"
    aws_region: str | None = None
    drift: str = "always"  # always | daily (see the module docstring)
    database: str = "llmdrift"  # the Glue database of the catalog step
    dq_policy: str | None = None  # what fails the run once its dq results are stored (default: the config's)
    text_model: str = "fast"  # the learned refusal, toxicity and sentiment model (llmdrift.score.heads)

    @classmethod
    def from_options(
        cls, values: dict[str, Any], settings: AggregateSettings | None = None
    ) -> PipelineConfig:
        """From option values (names of ``OPTIONS``; a missing one takes its default): the settings file is
        read (``config``) and the CloudWatch options override it. ValueError (or ConfigError) names what is wrong."""
        unknown = sorted(set(values) - set(OPTION_NAMES))
        if unknown:
            raise ValueError(f"unknown pipeline option {unknown[0]!r}")
        if settings is None:
            settings = load_settings(values.get("config"))
        if values.get("cloudwatch") and not settings.cloudwatch:
            settings = replace(settings, cloudwatch=True, cloudwatch_region=values.get("aws_region"))
        if values.get("cloudwatch_namespace"):
            settings = replace(settings, cloudwatch_namespace=values["cloudwatch_namespace"])
        fields_ = {
            k: v for k, v in values.items() if k not in ("config", "cloudwatch", "cloudwatch_namespace")
        }
        if not fields_.get("warehouse"):
            raise ValueError("the warehouse is required")
        return cls(settings=settings, **fields_)

    def __post_init__(self) -> None:
        if parse_steps(",".join(self.steps)) != tuple(self.steps):
            raise ValueError(f"steps must be distinct and in the order {','.join(STEPS)}")
        if "ingest" in self.steps and not self.logs:
            raise ValueError("the ingest step needs the log root (logs)")
        if self.drift not in DRIFT_MODES:
            raise ValueError(f"drift must be one of {', '.join(DRIFT_MODES)}, got {self.drift!r}")
        self.job_configs()  # every job's own checks, before any step runs

    @property
    def policy(self) -> str:
        """The data-quality policy: the command line's, else the config file's ([quality] policy)."""
        return self.dq_policy or self.settings.dq_policy

    def job_configs(self) -> dict[str, Any]:
        """The config of each configured step's job (their constructors validate). Only the modules of the
        configured steps are imported: the Glue ingest job installs no scoring dependencies."""
        configs: dict[str, Any] = {}
        if "ingest" in self.steps:
            from llmdrift.ingest.job import IngestConfig

            logs = self.logs or ""
            configs["ingest"] = IngestConfig(
                logs,
                self.warehouse,
                self.start,
                self.end,
                self.lookback_hours,
                redact_pii=self.redact_pii,
                profiles=self.settings.profiles,
            )
        if "score" in self.steps:
            from llmdrift.score.job import ScoreConfig

            configs["score"] = ScoreConfig(
                self.warehouse,
                embedder=self.embedder,
                text_backend=self.text_backend,
                aws_region=self.aws_region,
                text_model=self.text_model,
            )
        if "aggregate" in self.steps:
            from llmdrift.aggregate.job import AggregateConfig

            configs["aggregate"] = AggregateConfig(self.warehouse, settings=self.settings)
        if "judge" in self.steps and self.settings.judge.enabled:
            from llmdrift.judge.job import JudgeConfig

            judge = self.settings.judge
            if judge.region is None and self.aws_region:
                judge = replace(judge, region=self.aws_region)
            configs["judge"] = JudgeConfig(self.warehouse, judge)  # days: the complete days the run wrote
        if "drift" in self.steps:
            from llmdrift.drift.job import DriftConfig

            drift = self.settings.drift
            configs["drift"] = DriftConfig(
                self.warehouse,
                reference_days=drift.reference_days,
                min_samples=drift.min_samples,
                max_templates=drift.max_templates,
                alpha=drift.alpha,
                embedder=self.embedder,
            )
        if "dq" in self.steps:
            from llmdrift.dq.job import DQConfig

            configs["dq"] = DQConfig(self.warehouse, (), policy=self.policy)  # days: what the run wrote
        if "report" in self.steps:
            from llmdrift.report.job import ReportConfig

            configs["report"] = ReportConfig(self.warehouse)
        if "catalog" in self.steps:
            from llmdrift.catalog.ddl import check_name

            configs["catalog"] = check_name(self.database)
        return configs


@dataclass
class PipelineResult:
    results: dict[str, Any] = field(default_factory=dict)  # step -> the job's result
    skipped: dict[str, str] = field(default_factory=dict)  # step -> why it did not run

    @property
    def outputs(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for result in self.results.values():
            out.update(result.outputs)
        return out


def pipeline_errors() -> tuple[type[Exception], ...]:
    """The failures the jobs report with a message (anything else is a bug and keeps its traceback)."""
    return (LlmdriftError,)


def run_pipeline(
    spark: Any,
    config: PipelineConfig,
    log: Log = print,
    contexts: Contexts = RunContext.create,
    judge_truth: Mapping[str, str] | None = None,
) -> PipelineResult:
    """Run the configured steps in order; a failing step raises and stops the run (its state is not written)."""
    from llmdrift.core.lock import warehouse_lock

    configs = config.job_configs()
    if judge_truth is not None and "judge" in configs:  # the demo's simulated judge: the generator's truth
        configs["judge"] = replace(configs["judge"], truth=judge_truth)
    result = PipelineResult()
    with warehouse_lock(config.warehouse, contexts("lock").run_id, log=log):
        _run_steps(spark, config, configs, result, log, contexts)
    if "dq" in result.results:  # a failed gate fails the run after the report has shown it
        from llmdrift.dq.job import judge

        judge(result.results["dq"], config.policy)
    return result


def _run_steps(
    spark: Any,
    config: PipelineConfig,
    configs: dict[str, Any],
    result: PipelineResult,
    log: Log,
    contexts: Contexts,
) -> None:
    from llmdrift.core.lock import refresh

    for step in config.steps:
        refresh(config.warehouse)  # a long run keeps its lock; a lost lock stops it here
        cfg: Any = configs.get(step)
        if step == "drift" and config.drift == "daily":
            current, why = drift_due(spark, config.warehouse, cfg)
            if current is None:
                log(f"[drift] skipped: {why}")
                result.skipped[step] = why
                continue
            cfg = replace(cfg, current=current)
        if step == "judge":
            if cfg is None:
                result.skipped[step] = "off ([judge] enabled = false in the config)"
                log(f"[judge] skipped: {result.skipped[step]}")
                continue
            from llmdrift.judge.job import last_complete_day, pending_days

            # the complete days this run wrote, the last complete day (a day whose last hours an earlier run
            # wrote) and recent days with rows still owed (cost cap, failures); judged rows are not sent again
            written = complete_days(written_days(result), config.warehouse)
            owed = pending_days(spark, config.warehouse, cfg.settings)
            days = tuple(sorted(set(written) | set(last_complete_day(config.warehouse)) | set(owed)))
            if not days:
                result.skipped[step] = "no complete day with scored invocations"
                log(f"[judge] skipped: {result.skipped[step]}")
                continue
            cfg = replace(cfg, days=days)
        if step == "dq":
            days = written_days(result)
            if not days:
                result.skipped[step] = "this run wrote no dated partitions"
                log(f"[dq] skipped: {result.skipped[step]}")
                continue
            cfg = replace(cfg, days=days)
        if step == "report" and "drift" in result.skipped:
            result.skipped[step] = "no new drift run to report"
            log(f"[report] skipped: {result.skipped[step]}")
            continue
        result.results[step] = _run_step(step, spark, cfg, config, contexts, log)


def written_days(result: PipelineResult) -> tuple[str, ...]:
    """The days whose partitions this run's steps wrote (``2026-11-02/07`` partitions, aggregate days)."""
    days: set[str] = set()
    for step in ("ingest", "score"):
        found = result.results.get(step)
        parts = getattr(found, "partitions_written", None) or getattr(found, "partitions", None) or []
        days.update(p.split("/")[0] for p in parts)
    days.update(getattr(result.results.get("aggregate"), "days", None) or [])
    return tuple(sorted(days))


def complete_days(days: tuple[str, ...], warehouse: str) -> tuple[str, ...]:
    """The days before the ingest watermark (every hour of them read)."""
    from llmdrift.core import runs
    from llmdrift.core.storage import normalize, storage_for

    until = runs.complete_until(storage_for(normalize(warehouse)), normalize(warehouse))
    return tuple(runs.complete_days(days, until)) if until is not None else ()


def _run_step(step: str, spark: Any, cfg: Any, config: PipelineConfig, contexts: Contexts, log: Log) -> Any:
    """One job; its module is imported only when the step runs."""
    if step == "judge":
        from llmdrift.judge.job import run as run_judge

        return run_judge(spark, cfg, contexts(step), log=log)
    if step == "ingest":
        from llmdrift.ingest.job import run as run_ingest

        return run_ingest(spark, cfg, contexts(step), log=log)
    if step == "score":
        from llmdrift.score.job import run as run_score

        return run_score(spark, cfg, contexts(step), log=log)
    if step == "aggregate":
        from llmdrift.aggregate.job import run as run_aggregate

        return run_aggregate(spark, cfg, contexts(step), log=log)
    if step == "drift":
        from llmdrift.drift.job import run as run_drift

        return run_drift(spark, cfg, contexts(step), log=log)
    if step == "dq":
        from llmdrift.dq.job import run as run_dq

        return run_dq(spark, cfg, contexts(step), log=log)
    if step == "report":
        from llmdrift.report.job import run as run_report

        return run_report(spark, cfg, log=log)
    return run_catalog(config.warehouse, cfg, config.aws_region, log)


@dataclass
class CatalogStepResult:
    sync: Any  # llmdrift.catalog.sync.SyncResult
    outputs: dict[str, str] = field(default_factory=dict)


def run_catalog(warehouse: str, database: str, region: str | None, log: Log = print) -> CatalogStepResult:
    """Register the warehouse's new partitions (and any changed table) in the Glue Data Catalog."""
    import boto3

    from llmdrift.catalog.sync import sync
    from llmdrift.core.storage import normalize, storage_for

    root = normalize(warehouse)
    synced = sync(boto3.client("glue", region_name=region), storage_for(root), root, database, log=log)
    return CatalogStepResult(synced, {"catalog": f"glue database {database}"})


def drift_due(spark: Any, warehouse: str, config: Any) -> tuple[Any, str]:
    """(the current window drift would compare, "") when it has no drift run yet, else (None, why not).

    The common case, the last complete day already compared, is answered from the ingest watermark and
    one drift_results partition, without scanning the invocations as the drift job's own choice does.
    """
    from llmdrift.core.runs import complete_until
    from llmdrift.core.storage import normalize, storage_for
    from llmdrift.core.windows import Window
    from llmdrift.drift.job import DriftError, choose_windows

    warehouse = normalize(warehouse)
    until = complete_until(storage_for(warehouse), warehouse)
    if until is not None and config.current is None:
        last_complete = (until - timedelta(days=1)).date()
        latest = Window(last_complete, last_complete + timedelta(days=1))
        if _has_drift_run(spark, warehouse, latest):
            return None, f"{latest} already has a drift run"
    try:
        current, _reference = choose_windows(spark, warehouse, config)
    except DriftError as exc:
        return None, str(exc)
    if _has_drift_run(spark, warehouse, current):
        return None, f"{current} already has a drift run"
    return current, ""


def _has_drift_run(spark: Any, warehouse: str, current: Any) -> bool:
    from pyspark.sql import functions as F

    from llmdrift.core import schemas, tables
    from llmdrift.core.storage import storage_for

    day = (current.end - timedelta(days=1)).isoformat()
    runs = tables.read(spark, storage_for(warehouse), warehouse, schemas.load("drift_results"), [(day,)])
    same = (F.col("current_start") == current.start.isoformat()) & (
        F.col("current_end") == current.end.isoformat()
    )
    return bool(runs.filter(same).limit(1).count())


def load_settings(uri: str | None) -> AggregateSettings:
    """The aggregate settings from a TOML file at a local path or URI (``s3://``), with the price files it
    names by relative path fetched from beside it (Glue jobs get the config from S3)."""
    from llmdrift.core.settings import ConfigError, load
    from llmdrift.core.storage import is_s3, join, normalize, storage_for

    if uri is None:
        return AggregateSettings()
    if not is_s3(uri):
        return load(Path(normalize(uri)))
    storage = storage_for(uri)
    folder, name = uri.rstrip("/").rsplit("/", 1)
    text = storage.read_bytes(uri)
    # One folder per config content, reused by every load (no new temporary folder per run).
    key = hashlib.sha256(uri.encode() + b"\0" + text).hexdigest()[:16]
    work = Path(tempfile.gettempdir()) / "llmdrift-config" / key
    work.mkdir(parents=True, exist_ok=True)
    (work / name).write_bytes(text)
    try:
        pricing = tomllib.loads(text.decode("utf-8")).get("pricing", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{uri}: not valid TOML: {exc}") from None
    for key in ("override", "profiles"):
        relative = pricing.get(key) if isinstance(pricing, dict) else None
        if isinstance(relative, str) and "://" not in relative and not relative.startswith("/"):
            target = work / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(storage.read_bytes(join(folder, relative)))
    return load(work / name)

"""Glue job arguments -> a typed :class:`GlueArgs`, and from it the pipeline's config.

Glue starts a job script with its own arguments (``--JOB_NAME``, ``--JOB_ID``, ``--JOB_RUN_ID``,
``--job-bookmark-option``, ``--TempDir``...) and the job's, all as ``--name value`` pairs in ``sys.argv``.
awsglue's ``getResolvedOptions`` makes every name it is given required and ignores the others (spec §4.2),
so only the required names go through it (on Glue, where awsglue is importable) and the optional ones are
read here. Off Glue an argparse parser with the same rules stands in, which keeps this testable locally.

An empty value counts as not given, so a run can clear a job default (``--start ""``). Names are
snake_case, as Glue's own convention has it (``--text_backend``, not ``--text-backend``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from llmdrift.core.errors import LlmdriftError
from llmdrift.pipeline import DRIFT_MODES, STEPS, PipelineConfig, load_settings, parse_steps, parse_utc


class GlueArgsError(LlmdriftError, ValueError):
    """A job argument is missing or has a bad value; the message names it."""


HELP = {
    "warehouse": "warehouse root, s3://bucket/prefix (required)",
    "logs": "Bedrock log root above AWSLogs/, s3://bucket/prefix (required when the steps include ingest)",
    "steps": f"comma list of steps, run in pipeline order (default {','.join(STEPS)})",
    "start": "ingest window start, UTC, 2026-11-02 or 2026-11-02T13 (default: the watermark)",
    "end": "ingest window end, exclusive, UTC (default: the last settled hour)",
    "lookback_hours": "hours before the start re-read for late files (default 2)",
    "redact_pii": "true to store texts with personal data replaced by placeholders (default false)",
    "config": "settings TOML: prices, alerts, CloudWatch, quality policy, drift (an s3:// URI)",
    "embedder": "static (the only one on Glue: minilm needs torch)",
    "text_backend": "local (default) or comprehend",
    "text_model": "learned refusal, toxicity and sentiment model: fast (the default and only tier)",
    "aws_region": "region for Comprehend and CloudWatch (default: the job's)",
    "drift": "daily (default: once per completed day) or always (every run)",
    "cloudwatch": "true to publish daily metrics with PutMetricData (default false)",
    "cloudwatch_namespace": "CloudWatch namespace of those metrics (default llmdrift)",
    "database": "Glue database of the catalog step (default llmdrift)",
    "JOB_NAME": "set by Glue",
}


@dataclass(frozen=True)
class GlueArgs:
    warehouse: str
    logs: str | None = None
    steps: tuple[str, ...] = STEPS
    start: datetime | None = None
    end: datetime | None = None
    lookback_hours: int = 2
    redact_pii: bool = False
    config: str | None = None
    embedder: str = "static"
    text_backend: str = "local"
    text_model: str = "fast"
    aws_region: str | None = None
    drift: str = "daily"
    cloudwatch: bool = False
    cloudwatch_namespace: str | None = None
    database: str = "llmdrift"
    JOB_NAME: str | None = None  # Glue sets it; its spelling is Glue's

    def pipeline_config(self) -> PipelineConfig:
        """The pipeline's config, with the aggregate settings file fetched; bad values raise GlueArgsError."""
        from llmdrift.core.settings import ConfigError
        from llmdrift.core.storage import StorageError

        try:
            settings = load_settings(self.config)
        except (ConfigError, StorageError, NotImplementedError) as exc:
            raise GlueArgsError(f"--config: {exc}") from None
        if self.cloudwatch and not settings.cloudwatch:
            settings = replace(settings, cloudwatch=True, cloudwatch_region=self.aws_region)
        if self.cloudwatch_namespace:
            settings = replace(settings, cloudwatch_namespace=self.cloudwatch_namespace)
        try:
            return PipelineConfig(
                self.warehouse,
                self.logs,
                self.steps,
                self.start,
                self.end,
                self.lookback_hours,
                self.redact_pii,
                settings,
                self.embedder,
                self.text_backend,
                self.aws_region,
                self.drift,
                self.database,
                text_model=self.text_model,
            )
        except ValueError as exc:
            raise GlueArgsError(str(exc)) from None


def _bool(value: str) -> bool:
    text = value.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"{value!r} is not true or false")


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
    if number < 0:
        raise ValueError(f"{number} is negative")
    return number


def _choice(*allowed: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return check


CONVERTERS: dict[str, Callable[[str], Any]] = {
    "steps": parse_steps,
    "start": parse_utc,
    "end": parse_utc,
    "lookback_hours": _count,
    "redact_pii": _bool,
    "cloudwatch": _bool,
    "embedder": _choice("static"),  # minilm needs torch, which the Glue job does not install
    "text_backend": _choice("local", "comprehend"),
    "text_model": lambda value: _choice(*_text_models())(value),
    "drift": _choice(*DRIFT_MODES),
}


def _text_models() -> tuple[str, ...]:
    from llmdrift.score.heads import TIERS  # only when the argument is given: the ingest job has no scorer

    return TIERS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print usage and exit 2
        raise GlueArgsError(message)


def _read(argv: Sequence[str], names: Sequence[str], required: bool) -> dict[str, str | None]:
    """``--name value`` (or ``--name=value``) pairs for the given names; every other argument is ignored."""
    parser = _Parser(prog="llmdrift glue job", add_help=False, allow_abbrev=False)
    for name in names:
        parser.add_argument(f"--{name}", dest=name, required=required, help=HELP.get(name))
    known, _unknown = parser.parse_known_args(list(argv[1:]))
    return vars(known)


def _resolved(argv: Sequence[str], names: list[str]) -> dict[str, str | None]:
    """Required arguments: through awsglue's getResolvedOptions on Glue, the same rules off it."""
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        return _read(argv, names, required=True)
    try:
        resolved = getResolvedOptions(list(argv), names)
    except Exception as exc:  # awsglue raises its GlueArgumentError, which only exists on Glue
        raise GlueArgsError(str(exc)) from None
    return {name: resolved.get(name) for name in names}


def parse(argv: Sequence[str]) -> GlueArgs:
    """``sys.argv`` as Glue passes it (program name first) -> GlueArgs; GlueArgsError names a bad argument."""
    names = [f.name for f in fields(GlueArgs)]
    raw = _read(argv, names, required=False)
    steps = STEPS
    if raw.get("steps"):
        steps = _convert("steps", str(raw["steps"]))
    required = ["warehouse"] + (["logs"] if "ingest" in steps else [])
    raw.update(_resolved(argv, required))
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if value is None or not value.strip():
            if name in required:
                raise GlueArgsError(f"--{name} is required and must not be empty")
            continue
        values[name] = _convert(name, value)
    return GlueArgs(**values)


def _convert(name: str, value: str) -> Any:
    convert = CONVERTERS.get(name)
    if convert is None:
        return value.strip()
    try:
        return convert(value)
    except ValueError as exc:
        raise GlueArgsError(f"--{name}: {exc}") from None


def glue_spark() -> Any:
    """Glue's Spark session with llmdrift's SQL settings (UTC, millisecond timestamps, dynamic overwrite).

    The session is created first with no settings of ours, so Glue's cluster settings (driver host,
    memory) stand; the local defaults of ``get_spark`` then only touch runtime SQL settings.
    """
    from pyspark.sql import SparkSession

    from llmdrift.core.spark import get_spark

    SparkSession.builder.getOrCreate()
    return get_spark(master=None)

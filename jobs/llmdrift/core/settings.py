"""The configuration file (TOML): price files, anomaly settings, alert rules, CloudWatch, data-quality
policy and drift settings.

    [pricing]
    override = "my-prices.csv"        # optional: rows that take precedence over the shipped price table
    profiles = "my-profiles.csv"      # optional: application inference profile -> base model

    [anomalies]
    z = 4.0                           # |robust z| at or above this is an anomaly

    [[alerts]]
    name = "refusals-high"
    metric = "refusal_ratio"          # any usage metric: invocations, error_rate, cost_usd, refusal_ratio...
    above = 0.08                      # or below = ...
    grain = "daily"                   # or "hourly"
    model = "anthropic.*"             # optional glob on base_model_id; caller = "..." likewise
    min_invocations = 50              # optional: ignore slices smaller than this

    [cloudwatch]
    enabled = false                   # publish daily headline metrics with PutMetricData
    namespace = "llmdrift"

    [quality]
    policy = "fail-on-critical"       # data-quality gates: fail-on-critical, fail-on-any or warn-only

    [drift]                           # the drift step of llmdrift run and of the Glue job
    reference_days = 7                # the trailing reference: this many days before the current day
    min_samples = 50                  # invocations a slice needs in each window to be tested
    alpha = 0.05                      # false discovery rate: a test drifts when its q value is below
    max_templates = 20                # prompt-template slices: the largest this many

    [judge]                           # a daily sample judged by a Bedrock model (llmdrift judge; off by default)
    enabled = true
    model = "us.anthropic.claude-3-5-haiku-20241022-v1:0"   # a model id, inference-profile id or ARN
    sample_per_day = 200              # per day, stratified by model and caller; reruns pick the same ones
    max_cost_usd = 5.0                # per run, estimated before any call; what does not fit is skipped
    max_concurrency = 4
    redact = false                    # true: the judge sees texts with personal data replaced

Relative paths are resolved against the config file's folder. Every error names the file and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmdrift.core.errors import LlmdriftError

ALERT_METRICS = (
    "invocations",
    "errors",
    "error_rate",
    "cost_usd",
    "unpriced",
    "latency_p90_ms",
    "refusal_ratio",
    "toxic_rate",
    "pii_rate",
    "completion_sentiment_mean",
    "similarity_mean",
)


DQ_POLICIES = ("fail-on-critical", "fail-on-any", "warn-only")  # what a failed data-quality gate does


class ConfigError(LlmdriftError, ValueError):
    """The configuration file is unreadable or wrong; the message names the file and key."""


@dataclass(frozen=True)
class AlertRule:
    name: str
    metric: str
    threshold: float
    direction: str  # above | below
    grain: str = "daily"
    model: str = "*"
    caller: str = "*"
    min_invocations: int = 0


@dataclass(frozen=True)
class DriftSettings:
    reference_days: int = 7
    min_samples: int = 50
    alpha: float = 0.05
    max_templates: int = 20


def _drift(raw: dict[str, Any], path: Path) -> DriftSettings:
    drift = _section(raw, "drift", {"reference_days", "min_samples", "alpha", "max_templates"}, path)
    defaults = DriftSettings()
    counts = {
        key: drift.get(key, getattr(defaults, key))
        for key in ("reference_days", "min_samples", "max_templates")
    }
    for key, least in (("reference_days", 1), ("min_samples", 10), ("max_templates", 0)):
        value = counts[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{path}: drift.{key} must be an integer of at least {least}, not {value!r}")
    alpha = drift.get("alpha", defaults.alpha)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ConfigError(f"{path}: drift.alpha must be a number between 0 and 1, not {alpha!r}")
    return DriftSettings(
        counts["reference_days"], counts["min_samples"], float(alpha), counts["max_templates"]
    )


JUDGE_BACKENDS = ("bedrock", "simulated")


@dataclass(frozen=True)
class JudgeSettings:
    """``[judge]``: a daily sample judged by a Bedrock model (off unless ``enabled``)."""

    enabled: bool = False
    model: str = ""  # a bare model id, an inference-profile id or ARN (required when enabled)
    sample_per_day: int = 200  # invocations judged per day, stratified by model and caller
    max_cost_usd: float = 5.0  # per run: the estimate is checked before any call; the rest is skipped
    max_concurrency: int = 4  # calls in flight
    region: str | None = None  # the judge's region (default: the session's)
    redact: bool = False  # send texts with personal data replaced by [TYPE] placeholders
    backend: str = "bedrock"  # bedrock, or simulated (the demo only: the generator's ground truth)


def _judge(raw: dict[str, Any], path: Path) -> JudgeSettings:
    keys = {
        "enabled",
        "model",
        "sample_per_day",
        "max_cost_usd",
        "max_concurrency",
        "region",
        "redact",
        "backend",
    }
    judge = _section(raw, "judge", keys, path)
    defaults = JudgeSettings()
    for key in ("enabled", "redact"):
        if not isinstance(judge.get(key, False), bool):
            raise ConfigError(f"{path}: judge.{key} must be true or false")
    for key, least in (("sample_per_day", 1), ("max_concurrency", 1)):
        value = judge.get(key, getattr(defaults, key))
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{path}: judge.{key} must be an integer of at least {least}, not {value!r}")
    cap = judge.get("max_cost_usd", defaults.max_cost_usd)
    if isinstance(cap, bool) or not isinstance(cap, int | float) or cap < 0:
        raise ConfigError(f"{path}: judge.max_cost_usd must be a number of at least 0, not {cap!r}")
    backend = judge.get("backend", defaults.backend)
    if backend not in JUDGE_BACKENDS:
        raise ConfigError(
            f"{path}: judge.backend must be one of {', '.join(JUDGE_BACKENDS)}, not {backend!r}"
        )
    model = judge.get("model", "")
    if not isinstance(model, str):
        raise ConfigError(f"{path}: judge.model must be a string")
    enabled = bool(judge.get("enabled", False))
    if enabled and backend == "bedrock" and not model:
        raise ConfigError(f"{path}: judge.model is required when the judge is enabled")
    return JudgeSettings(
        enabled,
        model,
        int(judge.get("sample_per_day", defaults.sample_per_day)),
        float(cap),
        int(judge.get("max_concurrency", defaults.max_concurrency)),
        judge.get("region") or None,
        bool(judge.get("redact", False)),
        backend,
    )


@dataclass(frozen=True)
class AggregateSettings:
    price_override: Path | None = None
    profiles: Path | None = None
    anomaly_z: float = 4.0
    alerts: tuple[AlertRule, ...] = ()
    cloudwatch: bool = False
    cloudwatch_namespace: str = "llmdrift"
    cloudwatch_region: str | None = None
    dq_policy: str = "fail-on-critical"
    drift: DriftSettings = field(default_factory=DriftSettings)
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    source: str = "(defaults)"


def _path(base: Path, value: Any, where: str) -> Path | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a path string")
    path = Path(value)
    path = path if path.is_absolute() else base / path
    if not path.exists():
        raise ConfigError(f"{where}: file not found: {path}")
    return path


def _rule(raw: Any, where: str) -> AlertRule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = set(raw) - {"name", "metric", "above", "below", "grain", "model", "caller", "min_invocations"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name: a non-empty string is required")
    metric = raw.get("metric")
    if metric not in ALERT_METRICS:
        raise ConfigError(f"{where}.metric: {metric!r} is not one of {', '.join(ALERT_METRICS)}")
    if ("above" in raw) == ("below" in raw):
        raise ConfigError(f"{where}: give exactly one of above or below")
    direction = "above" if "above" in raw else "below"
    threshold = raw[direction]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ConfigError(f"{where}.{direction}: a number is required")
    grain = raw.get("grain", "daily")
    if grain not in ("daily", "hourly"):
        raise ConfigError(f"{where}.grain: daily or hourly, got {grain!r}")
    minimum = raw.get("min_invocations", 0)
    if not isinstance(minimum, int) or minimum < 0:
        raise ConfigError(f"{where}.min_invocations: a non-negative integer is required")
    return AlertRule(
        name,
        metric,
        float(threshold),
        direction,
        grain,
        str(raw.get("model", "*")),
        str(raw.get("caller", "*")),
        minimum,
    )


def _section(raw: dict[str, Any], name: str, keys: set[str], path: Path) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: [{name}] must be a table")
    unknown = set(value) - keys
    if unknown:
        raise ConfigError(f"{path}: unknown keys in [{name}]: {sorted(unknown)} (known: {sorted(keys)})")
    return value


def load(path: Path | None) -> AggregateSettings:
    """Settings from a TOML file; defaults when ``path`` is None."""
    if path is None:
        return AggregateSettings()
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(raw) - {"pricing", "anomalies", "alerts", "cloudwatch", "quality", "drift", "judge"}
    if unknown:
        raise ConfigError(f"{path}: unknown sections {sorted(unknown)}")
    base = path.parent
    pricing = _section(raw, "pricing", {"override", "profiles"}, path)
    anomalies = _section(raw, "anomalies", {"z"}, path)
    cloudwatch = _section(raw, "cloudwatch", {"enabled", "namespace", "region"}, path)
    quality = _section(raw, "quality", {"policy"}, path)
    policy = quality.get("policy", "fail-on-critical")
    if policy not in DQ_POLICIES:
        raise ConfigError(f"{path}: quality.policy must be one of {', '.join(DQ_POLICIES)}, not {policy!r}")
    z = anomalies.get("z", 4.0)
    if isinstance(z, bool) or not isinstance(z, int | float) or z <= 0:
        raise ConfigError(f"{path}: anomalies.z must be a positive number")
    enabled = cloudwatch.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{path}: cloudwatch.enabled must be true or false")
    rules = raw.get("alerts", [])
    if not isinstance(rules, list):
        raise ConfigError(f"{path}: alerts must be an array of tables ([[alerts]])")
    alerts = tuple(_rule(r, f"{path}: alerts[{i}]") for i, r in enumerate(rules))
    names = [a.name for a in alerts]
    if len(names) != len(set(names)):
        raise ConfigError(f"{path}: alert names must be unique")
    return AggregateSettings(
        price_override=_path(base, pricing.get("override"), f"{path}: pricing.override"),
        profiles=_path(base, pricing.get("profiles"), f"{path}: pricing.profiles"),
        anomaly_z=float(z),
        alerts=alerts,
        cloudwatch=enabled,
        cloudwatch_namespace=str(cloudwatch.get("namespace", "llmdrift")),
        cloudwatch_region=cloudwatch.get("region") or None,
        dq_policy=policy,
        drift=_drift(raw, path),
        judge=_judge(raw, path),
        source=str(path),
    )

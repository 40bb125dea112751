"""Publish headline daily metrics to Amazon CloudWatch as custom metrics (off by default).

One value per day, base model and metric (``Invocations``, ``Errors``, ``CostUSD``, ``RefusalRatio``,
``ToxicRate``, ``LatencyP90Ms``), dimension ``Model``, timestamped at the day's start. ``PutMetricData``
takes at most 1,000 values per call, so values are sent in batches of ``BATCH``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from llmdrift.aggregate.series import slice_series
from llmdrift.core.errors import LlmdriftError
from llmdrift.core.settings import AggregateSettings

BATCH = 1000
MAX_AGE = timedelta(days=14)  # PutMetricData refuses older timestamps
METRICS = (
    ("Invocations", "invocations", "Count"),
    ("Errors", "errors", "Count"),
    ("CostUSD", "cost_usd", "None"),
    ("RefusalRatio", "refusal_ratio", "None"),
    ("ToxicRate", "toxic_rate", "None"),
    ("LatencyP90Ms", "latency_p90_ms", "Milliseconds"),
)


def metric_data(series: dict[tuple[str, str, str, int], dict[str, float]]) -> list[dict[str, Any]]:
    """CloudWatch ``MetricData`` entries for the per-model daily points (NaN values are skipped)."""
    data = []
    for (day, slice_type, name, _), point in sorted(series.items()):
        if slice_type != "model":
            continue
        ts = datetime.fromisoformat(day).replace(tzinfo=UTC)
        for metric, key, unit in METRICS:
            value = point[key]
            if value != value:
                continue
            data.append(
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": "Model", "Value": name}],
                    "Timestamp": ts,
                    "Value": float(value),
                    "Unit": unit,
                }
            )
    return data


def batches(items: list[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def publish(client: Any, namespace: str, data: list[dict[str, Any]]) -> int:
    """Send ``data`` in batches; returns how many values were sent."""
    for chunk in batches(data):
        client.put_metric_data(Namespace=namespace, MetricData=chunk)
    return len(data)


class CloudWatchError(LlmdriftError, RuntimeError):
    """PutMetricData failed; the message names the namespace."""


def publish_daily(
    daily_rows: list[dict[str, Any]], days: list[str], settings: AggregateSettings, now: datetime
) -> int:
    """Publish the complete ``days`` (of the ``usage_daily`` rows) that CloudWatch still accepts (it refuses
    values over two weeks old).

    A day is published by the run that first sees it complete; CloudWatch keeps every value it is sent, so
    rerunning a window sends that window's days again (aggregate/README.md, "Alerts and CloudWatch").
    """
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    recent = {d for d in days if now - datetime.fromisoformat(d).replace(tzinfo=UTC) < MAX_AGE}
    if not recent:
        return 0
    series = slice_series([r for r in daily_rows if r["dt"] in recent], hourly=False)
    client = boto3.client("cloudwatch", region_name=settings.cloudwatch_region)
    try:
        return publish(client, settings.cloudwatch_namespace, metric_data(series))
    except (BotoCoreError, ClientError) as exc:
        raise CloudWatchError(
            f"CloudWatch PutMetricData to {settings.cloudwatch_namespace!r} failed: {exc}"
        ) from exc

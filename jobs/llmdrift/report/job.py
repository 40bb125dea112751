"""``llmdrift report``: render a drift run's report from the stored tables, and the index of all reports.

Only stored results are read (drift_results, drift_clusters, usage_daily, anomalies, alerts, ingest_runs,
quarantine, body status counts of invocations); nothing is recomputed, so any past run's report can be regenerated. Reports land at
``<warehouse>/reports/dt=<last current day>/drift-report-<run id>.html``, with ``reports/index.html``
listing every report, newest first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from llmdrift.core import schemas, tables
from llmdrift.core.errors import LlmdriftError
from llmdrift.core.runs import newest_drift_run
from llmdrift.core.storage import join, normalize, storage_for
from llmdrift.core.windows import Window
from llmdrift.report.render import ReportData, render, render_index

Log = Callable[[str], None]


class ReportError(LlmdriftError, RuntimeError):
    """The report cannot be made."""


@dataclass(frozen=True)
class ReportConfig:
    warehouse: str
    run_id: str | None = None  # default: the newest drift run
    out: str | None = None  # default: under <warehouse>/reports/


@dataclass
class ReportResult:
    run_id: str = ""
    bytes: int = 0
    seconds: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)


def run_time(run_id: str) -> str:
    """``2026-11-06 08:00 UTC`` from a run id made by ``RunContext.create`` (``drift-20261106T080000Z-ab12cd``);
    empty for any other id."""
    parts = run_id.split("-")
    for part in parts:
        try:
            return datetime.strptime(part, "%Y%m%dT%H%M%SZ").strftime("%Y-%m-%d %H:%M UTC")
        except ValueError:
            continue
    return ""


def load(spark: Any, warehouse: str, run_id: str | None) -> ReportData:
    from pyspark.sql import functions as F

    storage = storage_for(warehouse)

    def read(table: str, days: list[str] | None = None) -> Any:
        return tables.read(
            spark, storage, warehouse, schemas.load(table), [(d,) for d in days] if days else None
        )

    results = read("drift_results")
    if run_id is None:
        run_id = newest_drift_run(spark, storage, warehouse)
        if run_id is None:
            raise ReportError(f"no drift runs under {warehouse}: run `llmdrift drift` first")
    rows = [r.asDict() for r in results.filter(results.run_id == run_id).collect()]
    if not rows:
        raise ReportError(f"drift run {run_id!r} not found under {warehouse}")
    keys = ("run_id", "reference_start", "reference_end", "current_start", "current_end")
    run = {k: rows[0][k] for k in keys}
    days = Window.parse(f"{run['reference_start']}..{run['current_end']}").days
    clusters = read("drift_clusters")
    inv = read("invocations", days)
    bodies = (
        inv.select(F.explode(F.array("input_body_status", "output_body_status")).alias("status"))
        .groupBy("status")
        .count()
        .withColumnRenamed("count", "n")
    )
    quarantine = (
        read("quarantine", days).groupBy("reason_code", "row_kept").count().withColumnRenamed("count", "n")
    )
    current_days = Window.parse(f"{run['current_start']}..{run['current_end']}").days
    quality = (
        read("judgements", current_days)
        .filter(F.col("status") == "judged")
        .groupBy("base_model_id", "backend")
        .agg(
            F.count("*").alias("n"),
            F.avg("helpfulness").alias("helpfulness"),
            F.avg("relevance").alias("relevance"),
        )
    )
    checks = read("dq_results")
    # The gates of this drift run: the newest dq run that validated it, else (dq run apart) the newest one.
    validated = F.col("scope").startswith("run ") & F.col("scope").contains(run_id)
    newest = checks.agg(F.max(F.struct(validated, "run_time", "run_id")).alias("m")).first()["m"]
    dq = (
        []
        if newest is None
        else [r.asDict() for r in checks.filter(checks.run_id == newest["run_id"]).collect()]
    )
    return ReportData(
        run=run,
        results=rows,
        clusters=[r.asDict() for r in clusters.filter(clusters.run_id == run_id).collect()],
        daily=[r.asDict() for r in read("usage_daily", days).collect()],
        anomalies=[r.asDict() for r in read("anomalies", days).collect()],
        alerts=[r.asDict() for r in read("alerts", days).collect()],
        ingest_runs=[r.asDict() for r in read("ingest_runs").collect()],
        quarantine=[r.asDict() for r in quarantine.collect()],
        bodies=[r.asDict() for r in bodies.collect()],
        dq=dq,
        calibration=[r.asDict() for r in read("metric_calibration", current_days).collect()],
        judged_quality=[r.asDict() for r in quality.collect()],
        generated_at=run_time(run_id),  # the drift run's own time: a regenerated report is the same file
    )


def run(spark: Any, config: ReportConfig, log: Log = print) -> ReportResult:
    t0 = time.monotonic()
    warehouse = normalize(config.warehouse)
    data = load(spark, warehouse, config.run_id)
    page = render(data).encode("utf-8")
    storage = storage_for(warehouse)
    reports = join(warehouse, "reports")
    day = Window.parse(f"{data.run['current_start']}..{data.run['current_end']}").days[-1]
    target = config.out or join(reports, f"dt={day}", f"drift-report-{data.run['run_id']}.html")
    storage_for(target).write_bytes(target, page)
    result = ReportResult(data.run["run_id"], len(page), outputs={"report": target})
    if config.out is None:
        index = join(reports, "index.html")
        storage.write_bytes(index, render_index(_entries(storage, reports)).encode("utf-8"))
        result.outputs["index"] = index
    result.seconds = time.monotonic() - t0
    log(f"[report] run {data.run['run_id']}: {len(page) / 1024:,.0f} KB in {result.seconds:.1f}s")
    return result


def _entries(storage: Any, reports: str) -> list[dict[str, str]]:
    entries = []
    for info in storage.list_files(reports, recursive=True):
        name = info.uri.rsplit("/", 1)[-1]
        if not name.startswith("drift-report-"):
            continue
        folder = info.uri.rsplit("/", 2)[-2]
        run_id = name[len("drift-report-") : -len(".html")]
        entries.append({"href": f"{folder}/{name}", "title": f"{folder[3:]} drift report", "run_id": run_id})
    return sorted(entries, key=lambda e: (e["href"].split("/")[0], e["run_id"]), reverse=True)

"""Score invocations: write ``invocation_metrics`` and ``embeddings`` (partitioned like ``invocations``).

Which partitions: an explicit window of event hours, or by default the partitions that ingest runs have
written since the last score run (read from ``ingest_runs``; the state is ``_state/score.json``).
Invocations already scored by this scorer version are not scored again, so a rerun, or the look-back of
the next scheduled run, costs a read of keys, not a re-embedding. Touched partitions are rewritten from
stored rows plus new ones, so reruns are idempotent. Texts flagged ``binary`` or ``truncated`` are also
recorded in ``quarantine`` (the row is kept).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from llmdrift.bedrock.layout import hours
from llmdrift.core import schemas, tables
from llmdrift.core.errors import LlmdriftError
from llmdrift.core.runs import RunContext, consumed, written_since
from llmdrift.core.storage import Storage, normalize, storage_for
from llmdrift.core.tables import keep_first
from llmdrift.score.heads import DEFAULT_TIER, TIERS, text_model
from llmdrift.score.metrics import MAX_TEXT_CHARS, REGISTRY, ROLES, score_rows
from llmdrift.text.embedders import EMBEDDERS, embedder_id, encoder
from llmdrift.text.templates import template_id

# 2: refusal, toxicity and sentiment from the learned text models (llmdrift.score.heads); 1: rules, VADER,
# alt-profanity-check and exemplar nearness, combined by max.
METRICS_VERSION = "2"
STATE_FILE = "_state/score.json"
INPUT_COLUMNS = (
    "request_id",
    "event_ts",
    "base_model_id",
    "caller_name",
    "system_text",
    "prompt_text",
    "completion_text",
    "stop_reason",
    "guardrail_intervened",
    "input_tokens",
    "output_tokens",
    "source_file",
    "source_line",
    "dt",
    "hour",
)
Log = Callable[[str], None]


class ScoreError(LlmdriftError, RuntimeError):
    """Scoring cannot go on."""


@dataclass(frozen=True)
class ScoreConfig:
    warehouse: str
    start: datetime | None = None
    end: datetime | None = None
    embedder: str = "static"
    rescore: bool = False
    text_backend: str = "local"  # sentiment and toxicity: "local" models or "comprehend"
    aws_region: str | None = None
    # Reuse stored vectors of identical texts from this many days before the window. Default: off for the
    # static embedder (encoding is cheaper than the lookup: score/README.md, "Reuse across runs"), 7 days for MiniLM.
    reuse_days: int | None = None
    text_model: str = DEFAULT_TIER  # the tier of the learned refusal, toxicity and sentiment heads

    def __post_init__(self) -> None:
        if self.text_model not in TIERS:
            raise ValueError(f"text model must be {' or '.join(TIERS)}, got {self.text_model!r}")
        if self.embedder not in EMBEDDERS:
            raise ValueError(f"embedder must be {' or '.join(EMBEDDERS)}, got {self.embedder!r}")
        if self.reuse_days is not None and self.reuse_days < 0:
            raise ValueError(f"reuse_days must be >= 0, got {self.reuse_days}")
        if self.text_backend not in ("local", "comprehend"):
            raise ValueError(f"text backend must be local or comprehend, got {self.text_backend!r}")
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end, or neither")
        if self.start and self.end and self.start >= self.end:
            raise ValueError("window start is not before end")

    @property
    def reuse_window_days(self) -> int:
        if self.reuse_days is not None:
            return self.reuse_days
        return 0 if self.embedder == "static" else 7

    @property
    def scorer_version(self) -> str:
        """``<metrics version>-<embedder>-<text model version>[-comprehend]``, e.g. ``2-static-fast-6e96e63c``:
        the text model's version is a hash of its files, so a retrained model is a new version."""
        backend = "" if self.text_backend == "local" else f"-{self.text_backend}"
        return f"{METRICS_VERSION}-{self.embedder}-{text_model(self.text_model).version}{backend}"


@dataclass
class ScoreResult:
    run_id: str
    partitions: list[str] = field(default_factory=list)
    invocations: int = 0
    scored: int = 0
    reused: int = 0
    vectors_reused: int = 0
    flagged_texts: int = 0
    seconds: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        rate = self.scored / self.seconds if self.seconds else 0.0
        return (
            f"{self.invocations:,} invocations in {len(self.partitions)} partitions: {self.scored:,} scored"
            f" ({rate:,.0f}/s), {self.reused:,} already scored, {self.vectors_reused:,} text vectors reused,"
            f" {self.flagged_texts:,} texts flagged"
        )


def output_schema(metrics_schema: schemas.TableSchema) -> pa.Schema:
    """What the workers return: the metrics columns plus vectors, hashes and the source for quarantine."""
    fields = list(metrics_schema.arrow_schema())
    extra = [
        pa.field("prompt_vector", pa.list_(pa.float32())),
        pa.field("completion_vector", pa.list_(pa.float32())),
        pa.field("prompt_hash", pa.string()),
        pa.field("completion_hash", pa.string()),
        pa.field("source_file", pa.string()),
        pa.field("source_line", pa.int32()),
        pa.field("reused_vectors", pa.int32()),
    ]
    return pa.schema([f.with_nullable(True) for f in fields] + extra)


def vector_array(vectors: list[Any]) -> pa.Array:
    """A list<float32> Arrow array from numpy rows (None -> null), without Python floats in between."""
    import numpy as np

    present = [v for v in vectors if v is not None]
    flat = np.concatenate(present).astype(np.float32) if present else np.zeros(0, dtype=np.float32)
    lengths = np.array([0 if v is None else len(v) for v in vectors], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    mask = pa.array([v is None for v in vectors], pa.bool_())
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat), mask=mask)


def score_batches(
    config: ScoreConfig,
) -> Callable[[Iterable[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The ``mapInArrow`` function (models load once per Python worker, on first use)."""
    schema = output_schema(schemas.load("invocation_metrics"))

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            rows = batch.to_pydict()
            out = score_rows(rows, config.embedder, config.text_backend, config.aws_region, config.text_model)
            n = len(rows["request_id"])
            for key in (
                "request_id",
                "event_ts",
                "base_model_id",
                "caller_name",
                "source_file",
                "source_line",
                "dt",
                "hour",
            ):
                out[key] = rows[key]
            out["scorer_version"] = [config.scorer_version] * n
            out["template_id"] = [
                template_id(system, prompt)
                for system, prompt in zip(rows["system_text"], rows["prompt_text"], strict=True)
            ]
            columns = [
                vector_array(out[name])
                if name.endswith("_vector")
                else pa.array(out.get(name, [None] * n), field.type)
                for name, field in zip(schema.names, schema, strict=True)
            ]
            yield pa.RecordBatch.from_arrays(columns, schema=schema)

    return run


def _partitions_to_score(
    spark: Any, storage: Storage, warehouse: str, config: ScoreConfig
) -> tuple[list[tuple[str, int]], str | None]:
    """(partitions, newest ingest run seen) for this run."""
    if config.start and config.end:
        return [(h.strftime("%Y-%m-%d"), h.hour) for h in hours(config.start, config.end)], None
    written, newest = written_since(spark, storage, warehouse, STATE_FILE)
    return sorted({(p[:10], int(p[11:13])) for p in written}), newest


def run(spark: Any, config: ScoreConfig, context: RunContext, log: Log = print) -> ScoreResult:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    warehouse = normalize(config.warehouse)
    storage = storage_for(warehouse)
    inv_s, met_s = schemas.load("invocations"), schemas.load("invocation_metrics")
    emb_s, q_s = schemas.load("embeddings"), schemas.load("quarantine")
    result = ScoreResult(
        context.run_id,
        outputs={t: tables.table_uri(warehouse, t) for t in ("invocation_metrics", "embeddings")},
    )
    t0 = time.monotonic()
    parts, newest_ingest = _partitions_to_score(spark, storage, warehouse, config)
    if not parts:
        log("nothing to score: no new invocation partitions")
        return result
    inv = tables.read(spark, storage, warehouse, inv_s, parts)
    encoder(config.embedder)  # fails here, with a clear message, if the model is missing
    version = config.scorer_version
    stored = tables.read(spark, storage, warehouse, met_s, parts)
    todo = inv.select(*INPUT_COLUMNS)
    if not config.rescore:
        done = stored.filter(F.col("scorer_version") == version).select("request_id")
        todo = todo.join(done, "request_id", "left_anti")
    log(
        f"[score {context.run_id}] {len(parts)} partitions, scorer {version},"
        f" {len(REGISTRY.metrics)} metrics  [{time.monotonic() - t0:.1f}s]"
    )
    if config.reuse_window_days:
        todo = _with_known_vectors(spark, storage, warehouse, todo, parts, config, emb_s)
    # Hour partitions differ a lot in size: spread the rows evenly over the cores before the Python work.
    todo = todo.repartition(spark.sparkContext.defaultParallelism * 4)
    scored = todo.mapInArrow(score_batches(config), from_arrow_schema(output_schema(met_s))).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        stats = scored.agg(
            F.count("*").alias("n"),
            F.sum(F.when(F.col("quality_flags").isNotNull(), F.size("quality_flags")).otherwise(0)).alias(
                "flags"
            ),
            F.sort_array(F.collect_set(F.struct("dt", "hour"))).alias("parts"),
            F.sum("reused_vectors").alias("vectors_reused"),
        ).first()
        result.vectors_reused = int(stats["vectors_reused"] or 0)
        result.invocations = inv.count()
        result.scored, result.flagged_texts = int(stats["n"]), int(stats["flags"] or 0)
        result.reused = result.invocations - result.scored
        touched = [(p["dt"], p["hour"]) for p in stats["parts"]]
        result.partitions = [f"{dt}/{hour:02d}" for dt, hour in touched]
        log(
            f"  scored {result.scored:,} invocations ({result.reused:,} already scored,"
            f" {result.vectors_reused:,} text vectors reused from earlier runs)"
            f"  [{time.monotonic() - t0:.1f}s]"
        )
        if touched:
            _write(spark, storage, warehouse, scored, touched, version, met_s, emb_s, q_s)
            log(
                f"  wrote invocation_metrics and embeddings: {len(touched)} partitions"
                f"  [{time.monotonic() - t0:.1f}s]"
            )
    finally:
        scored.unpersist()
    result.seconds = time.monotonic() - t0
    consumed(storage, warehouse, STATE_FILE, newest_ingest, context.run_id)
    log(f"  {result.summary()}")
    return result


def _with_known_vectors(
    spark: Any,
    storage: Storage,
    warehouse: str,
    todo: Any,
    parts: list[tuple[str, int]],
    config: ScoreConfig,
    emb_s: schemas.TableSchema,
) -> Any:
    """``todo`` plus ``{role}_known_vector``: the stored vector of an identical text (same embedding model)
    from the window's days and ``reuse_days`` before them, so that text is not embedded again.

    Only the hashes this run needs are looked up (a broadcast semi-join), so stored vectors are not shuffled.
    """
    from pyspark.sql import functions as F

    first = datetime.strptime(min(p[0] for p in parts), "%Y-%m-%d")
    last = datetime.strptime(max(p[0] for p in parts), "%Y-%m-%d")
    days = [
        (first + timedelta(days=d)).strftime("%Y-%m-%d")
        for d in range(-config.reuse_window_days, (last - first).days + 1)
    ]
    stored = tables.read(spark, storage, warehouse, emb_s, [(d,) for d in days])
    stored = stored.filter(F.col("embedding_model") == embedder_id(config.embedder))

    def text_hash(role: str) -> Any:  # as metrics.text_hash, on the text as scored (first MAX_TEXT_CHARS)
        return F.sha1(F.encode(F.substring(f"{role}_text", 1, MAX_TEXT_CHARS), "UTF-8"))

    hashed = todo.select("*", *[text_hash(r).alias(f"_{r}_hash") for r in ROLES])
    needed = hashed.select(F.explode(F.array(*[f"_{r}_hash" for r in ROLES])).alias("text_hash")).distinct()
    known = (
        stored.join(F.broadcast(needed), "text_hash", "left_semi")
        .select("text_hash", "vector")
        .dropDuplicates(["text_hash"])
        # materialised now, cut from the files it came from: this run overwrites some of them
        .localCheckpoint(eager=True)
    )
    for role in ROLES:
        hashed = hashed.join(
            known.select(
                F.col("text_hash").alias(f"_{role}_hash"), F.col("vector").alias(f"{role}_known_vector")
            ),
            f"_{role}_hash",
            "left",
        )
    return hashed.drop(*[f"_{r}_hash" for r in ROLES])


def _write(
    spark: Any,
    storage: Storage,
    warehouse: str,
    scored: Any,
    touched: list[tuple[str, int]],
    version: str,
    met_s: schemas.TableSchema,
    emb_s: schemas.TableSchema,
    q_s: schemas.TableSchema,
) -> None:
    from pyspark.sql import functions as F

    new_ids = scored.select("request_id")
    # Metrics: stored rows that were not rescored, plus the new ones.
    stored = tables.read(spark, storage, warehouse, met_s, touched).join(new_ids, "request_id", "left_anti")
    metrics = stored.unionByName(scored.select(*met_s.names))
    tables.overwrite_partitions(
        keep_first(metrics, ["request_id"], ["scorer_version"], met_s.partition_names), warehouse, met_s
    )
    # Embeddings: one row per invocation and text role.
    model = F.col("embedding_model")
    new_emb = None
    for role in ("prompt", "completion"):
        part = scored.filter(F.col(f"{role}_vector").isNotNull()).select(
            "request_id",
            F.lit(role).alias("text_role"),
            F.col(f"{role}_hash").alias("text_hash"),
            model.alias("embedding_model"),
            "event_ts",
            F.col(f"{role}_vector").alias("vector"),
            "dt",
            "hour",
        )
        new_emb = part if new_emb is None else new_emb.unionByName(part)
    stored_emb = tables.read(spark, storage, warehouse, emb_s, touched).join(
        new_ids, "request_id", "left_anti"
    )
    embeddings = stored_emb.unionByName(new_emb).repartition(*emb_s.partition_names)  # a file per hour
    tables.overwrite_partitions(embeddings, warehouse, emb_s)
    # Flagged texts go to quarantine too (the row is kept).
    flagged = scored.filter(F.col("quality_flags").isNotNull()).select(
        "source_file", "source_line", "request_id", "dt", "hour", F.explode("quality_flags").alias("flag")
    )
    if flagged.limit(1).count():
        field_ = F.split("flag", ":").getItem(0)
        kind = F.split("flag", ":").getItem(1)
        issues = flagged.select(
            "source_file",
            "source_line",
            F.concat(F.lit("text_"), kind).alias("reason_code"),
            F.when(kind == "binary", F.lit("text looks binary; its model metrics are null"))
            .otherwise(
                F.lit("text over 20,000 characters: lengths count all of it, model metrics read its opening")
            )
            .alias("reason"),
            field_.alias("field"),
            "request_id",
            F.lit(True).alias("row_kept"),
            F.lit(None).cast("string").alias("excerpt"),
            "dt",
            "hour",
        )
        stored_q = tables.read(spark, storage, warehouse, q_s, touched)
        tables.overwrite_partitions(
            keep_first(stored_q.unionByName(issues), list(q_s.primary_key), ["excerpt"], q_s.partition_names),
            warehouse,
            q_s,
        )

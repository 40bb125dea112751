"""The one Spark session factory.

Defaults suit a laptop and CI (``local[*]``, bound to loopback, UTC, UI off); every setting can be
overridden by ``conf``, and on AWS Glue the session Glue created is used as it is (``master=None`` there).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "4g",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    # Millisecond Parquet timestamps: Athena and Glue read them exactly (never nanoseconds; spec §4.9).
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MILLIS",
    # Reruns replace exactly the partitions they recompute.
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.python.worker.reuse": "true",
    "spark.sql.debug.maxToStringFields": "200",
    "spark.sql.parquet.compression.codec": "snappy",
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
}


def get_spark(
    master: str | None = "local[*]", conf: dict[str, str] | None = None, app_name: str = "llmdrift"
) -> Any:
    """Create (or return the running) SparkSession.

    Python workers run this interpreter with one math thread each: parallelism comes from Spark's workers,
    two threads in one process are erratic on small machines (see stack notes).
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from llmdrift.core import s3a

    builder = SparkSession.builder.appName(app_name)
    local_s3: dict[str, str] = {}
    if master:
        local_s3 = s3a.spark_conf()  # Glue (master=None) reads s3:// natively
        builder = builder.master(master)
        # Quiet console: Spark's start-up chatter and Hadoop's native-library notice hide our progress lines.
        log4j = Path(__file__).with_name("log4j2.properties")
        builder = builder.config(
            "spark.driver.extraJavaOptions", f"-Dlog4j.configurationFile={log4j.as_uri()}"
        )
    settings = {**DEFAULT_CONF, **local_s3, **(conf or {})}
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(settings.get("llmdrift.logLevel", "WARN"))
    if master:
        s3a.configure(spark)
    return spark


def parse_conf(pairs: list[str]) -> dict[str, str]:
    """``["k=v", ...]`` from the command line -> dict, with a clear error for a malformed pair."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--conf {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out

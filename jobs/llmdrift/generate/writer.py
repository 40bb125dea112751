"""Write generated traffic exactly as Bedrock delivers it to S3.

``<root>/AWSLogs/<acct>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/<ts>_<hex>.json.gz`` files of
gzipped JSON lines (several per hour, one per delivery batch), offloaded bodies under ``HH/data/``, and
the zero-byte permission-check canary. Output is a pure function of the scenario: same seed, same bytes.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from llmdrift.bedrock.layout import CANARY, SERVICE_FOLDER, data_object_key, hour_prefix, stream_prefix
from llmdrift.core.storage import Storage, join
from llmdrift.generate.traffic import Generated, Scenario, records_for_hour

DELIVERY_MINUTES = 5  # one file per stream per five minutes of traffic


@dataclass
class WriteStats:
    records: int = 0
    files: int = 0
    data_objects: int = 0
    duplicates: int = 0
    bytes: int = 0


def _gzip(lines: list[str]) -> bytes:
    # mtime=0 keeps the bytes reproducible.
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=5, mtime=0)


def _s3_uri(scenario: Scenario, relative: str) -> str:
    return f"s3://{scenario.bucket}/{scenario.key_prefix}/{relative}"


def write_logs(
    scenario: Scenario, storage: Storage, root: str, progress: Callable[[str], None] | None = None
) -> WriteStats:
    """Generate every hour of the scenario and write it under ``root``."""
    stats = WriteStats()
    accounts = sorted({(c.account, c.region) for c in scenario.callers})
    for account, region in accounts:
        storage.write_bytes(join(stream_prefix(root, account, region).rsplit("/", 1)[0], CANARY), b"")
    storage.write_bytes(join(root, CANARY), b"")
    carry: list[Generated] = []
    day_records = 0
    for hour in scenario.hours():
        generated = records_for_hour(scenario, hour)
        due = [g for g in carry if g.folder_hour == hour] + [g for g in generated if g.folder_hour == hour]
        carry = [g for g in generated if g.folder_hour != hour]
        _write_hour(scenario, storage, root, hour, due, stats)
        day_records += len(generated)
        if progress and hour.hour == 23:
            progress(f"  {hour:%Y-%m-%d}: {day_records:,} invocations")
            day_records = 0
    if carry:  # late deliveries from the last hour land in the folder after it
        _write_hour(scenario, storage, root, carry[0].folder_hour, carry, stats)
    return stats


def _write_hour(
    scenario: Scenario, storage: Storage, root: str, hour: datetime, items: list[Generated], stats: WriteStats
) -> None:
    rng = random.Random(f"{scenario.seed}:files:{hour:%Y%m%d%H}")
    batches: dict[tuple[str, str, int], list[Generated]] = defaultdict(list)
    for g in items:
        minute = g.event_time.minute if g.event_time >= hour else 0
        batches[(g.account, g.region, minute // DELIVERY_MINUTES)].append(g)
    redelivered: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (account, region, slot), group in sorted(batches.items()):
        folder = hour_prefix(stream_prefix(root, account, region), hour)
        relative_folder = folder[len(root) + 1 :]
        lines: list[str] = []
        for g in group:
            for side, body in g.offloaded.items():
                key = data_object_key(g.record["requestId"], side)
                data = gzip.compress(json.dumps(body).encode("utf-8"), compresslevel=5, mtime=0)
                storage.write_bytes(join(folder, key), data)
                g.record[side][f"{side}BodyS3Path"] = _s3_uri(scenario, f"{relative_folder}/{key}")
                stats.data_objects += 1
            lines.append(json.dumps(g.record, ensure_ascii=False))
        if scenario.duplicate_rate:
            redelivered[(account, region)] += [ln for ln in lines if rng.random() < scenario.duplicate_rate]
        _write_file(storage, folder, hour.replace(minute=slot * DELIVERY_MINUTES), lines, rng, stats)
        stats.records += len(group)
    # Records delivered a second time, in a file of their own at the end of the hour.
    for (account, region), lines in sorted(redelivered.items()):
        if lines:
            folder = hour_prefix(stream_prefix(root, account, region), hour)
            _write_file(storage, folder, hour.replace(minute=59), lines, rng, stats)
            stats.duplicates += len(lines)


def _write_file(
    storage: Storage, folder: str, stamp: datetime, lines: list[str], rng: random.Random, stats: WriteStats
) -> None:
    name = f"{stamp:%Y%m%dT%H%M%S}{rng.randrange(1000):03d}Z_{rng.getrandbits(64):016x}.json.gz"
    data = _gzip(lines)
    storage.write_bytes(join(folder, name), data)
    stats.files += 1
    stats.bytes += len(data)


def describe(scenario: Scenario) -> dict[str, Any]:
    return {
        "seed": scenario.seed,
        "start": scenario.start.isoformat(),
        "days": scenario.days,
        "per_day": scenario.per_day,
        "changes": [f"{c.kind}:{c.strength:g}" for c in scenario.changes],
        "change_from": scenario.change_from.isoformat() if scenario.change_from else None,
        "service_folder": SERVICE_FOLDER,
    }

"""Where Bedrock delivers invocation logs in S3, and which objects are records.

Layout (spec §1.1): ``<root>/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/<file>.json.gz``
with offloaded bodies under ``HH/data/<requestId>_{input,output}.json.gz`` and a zero-byte
``amazon-bedrock-logs-permission-check`` canary. Hours are UTC. ``<root>`` is the bucket plus key prefix;
a URI pointing lower (at an account or a region folder) is accepted too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from llmdrift.core.storage import Storage, join

AWSLOGS = "AWSLogs"
SERVICE_FOLDER = "BedrockModelInvocationLogs"
CANARY = "amazon-bedrock-logs-permission-check"
RECORD_SUFFIX = ".json.gz"
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class LogObject:
    uri: str
    size: int
    folder_time: datetime  # start of the hour folder


def floor_hour(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hours(start: datetime, end: datetime) -> list[datetime]:
    out, hour = [], floor_hour(start)
    while hour < end:
        out.append(hour)
        hour += HOUR
    return out


def stream_prefix(root: str, account: str, region: str) -> str:
    return join(root, AWSLOGS, account, SERVICE_FOLDER, region)


def hour_prefix(stream: str, hour: datetime) -> str:
    return join(stream, hour.strftime("%Y/%m/%d/%H"))


def data_object_key(request_id: str, side: str) -> str:
    return f"data/{request_id}_{side}.json.gz"


def is_record_name(relative: str) -> bool:
    """A record file: directly in an hour folder, ``.json.gz``, not the canary and not under ``data/``."""
    name = relative.rsplit("/", 1)[-1]
    return "/" not in relative and relative.endswith(RECORD_SUFFIX) and not name.startswith(CANARY)


def discover_streams(storage: Storage, root: str) -> list[str]:
    """Region-level prefixes under ``root`` (which may itself be a region, account or service folder)."""
    parts = root.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == SERVICE_FOLDER:
        return [root]
    if parts[-1] == SERVICE_FOLDER:
        return [join(root, region) for region in storage.list_dirs(root)]
    if len(parts) >= 2 and parts[-2] == AWSLOGS:
        return discover_streams(storage, join(root, SERVICE_FOLDER))
    if parts[-1] == AWSLOGS:
        return [s for acct in storage.list_dirs(root) for s in discover_streams(storage, join(root, acct))]
    return discover_streams(storage, join(root, AWSLOGS)) if AWSLOGS in storage.list_dirs(root) else []


def list_window(
    storage: Storage, root: str, start: datetime, end: datetime
) -> tuple[list[LogObject], list[str]]:
    """Record objects in the hour folders of [start, end), and the other objects found there."""
    records: list[LogObject] = []
    skipped: list[str] = []
    wanted = set(hours(start, end))
    days = sorted({h.replace(hour=0) for h in wanted})
    for stream in discover_streams(storage, root):
        for day in days:
            day_uri = join(stream, day.strftime("%Y/%m/%d"))
            for info in storage.list_files(day_uri, recursive=True):
                relative = info.uri[len(day_uri) + 1 :]
                hour_text, _, rest = relative.partition("/")
                if not (len(hour_text) == 2 and hour_text.isdigit()) or not rest:
                    skipped.append(info.uri)
                    continue
                folder_time = day.replace(hour=int(hour_text))
                if folder_time not in wanted:
                    continue
                if is_record_name(rest):
                    records.append(LogObject(info.uri, info.size, folder_time))
                else:
                    skipped.append(info.uri)
    return records, skipped


def earliest_hour(storage: Storage, root: str) -> datetime | None:
    """The first hour folder present under any stream (used by a first run with no window)."""
    found: list[datetime] = []
    for stream in discover_streams(storage, root):

        def first(uri: str, depth: int) -> list[str] | None:
            for name in storage.list_dirs(uri):
                if not name.isdigit():
                    continue
                if depth == 3:
                    return [name]
                rest = first(join(uri, name), depth + 1)
                if rest is not None:
                    return [name, *rest]
            return None

        parts = first(stream, 0)
        if parts is not None:
            year, month, day, hour = (int(p) for p in parts)
            found.append(datetime(year, month, day, hour, tzinfo=UTC))
    return min(found) if found else None

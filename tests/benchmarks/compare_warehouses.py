"""Compare two demo warehouses table by table, ignoring run ids and timestamps.

usage: python compare_warehouses.py BEFORE AFTER
Each table is read whole (pyarrow), volatile columns are dropped, rows are sorted by every remaining column,
and the two frames are compared cell by cell; differing columns are listed with counts and examples.
"""

import sys
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

VOLATILE = {
    "run_id",
    "started_at",
    "finished_at",
    "updated_at",
    "logs_uri",
    "window_start",
    "window_end",
    "scope",
    "dt_run",
}


def load(root: Path, table: str) -> pd.DataFrame:
    path = root / table
    if not path.exists():
        return pd.DataFrame()
    frame = ds.dataset(str(path), format="parquet", partitioning="hive").to_table().to_pandas()
    drop = [c for c in frame.columns if c in VOLATILE or c.endswith("_uri")]
    frame = frame.drop(columns=drop)
    frame = frame.astype(dict.fromkeys(frame.columns, "string"))
    keys = [c for c in ("request_id", "text_role", "source_file", "source_line") if c in frame.columns]
    keys = keys if "request_id" in keys else list(frame.columns)
    return frame.sort_values(keys).reset_index(drop=True)


def main() -> None:
    before, after = Path(sys.argv[1]), Path(sys.argv[2])
    tables = sorted(
        {p.name for p in before.iterdir() if p.is_dir() and not p.name.startswith(("_", "reports"))}
        | {p.name for p in after.iterdir() if p.is_dir() and not p.name.startswith(("_", "reports"))}
    )
    for table in tables:
        a, b = load(before, table), load(after, table)
        if table in ("ingest_runs", "dq_results"):  # one row per run / expectation: counts only
            print(f"{table:20} rows {len(a)} -> {len(b)}")
            continue
        if list(a.columns) != list(b.columns) or len(a) != len(b):
            print(f"{table:20} DIFFERENT SHAPE: {a.shape} -> {b.shape}")
            continue
        diff = a.fillna("<NA>") != b.fillna("<NA>")
        cols = {c: int(diff[c].sum()) for c in a.columns if diff[c].any()}
        if not cols:
            print(f"{table:20} identical ({len(a)} rows)")
        else:
            print(f"{table:20} {len(a)} rows; differing cells by column: {cols}")
            for c in list(cols)[:3]:
                i = diff.index[diff[c]][0]
                print(f"    {c}: {a.at[i, c]!r} -> {b.at[i, c]!r}")


if __name__ == "__main__":
    main()

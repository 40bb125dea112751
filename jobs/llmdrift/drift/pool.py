"""Testing the slices: in a pool of worker processes on a multi-core driver (each slice is independent and
seeded by itself), then Benjamini-Hochberg over every test of the run, then the explanations of the drifted
embedding tests (``drift.explain``). Pure numpy / pandas on the collected samples."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

from llmdrift.drift import explain, stats
from llmdrift.drift.registry import (
    EMBEDDINGS,
    SliceKey,
    SliceSample,
    TestSettings,
    embedded,
    evaluate_slice,
    not_tested,
)

Task = tuple[SliceKey, SliceSample, tuple[int, int], TestSettings]


def _task(key: SliceKey, ref: Any, cur: Any, totals: tuple[int, int], settings: TestSettings) -> Task:
    """What a worker needs for one slice: the metric columns, and each role's vectors as two float32
    matrices (cheap to send to another process, unlike a column of arrays)."""
    vectors = {role: (embedded(ref, role)[0], embedded(cur, role)[0]) for role in EMBEDDINGS}
    heavy = [f"{role}_{part}" for role in EMBEDDINGS for part in ("vector", "text")]
    light = [frame.drop(columns=[c for c in heavy if c in frame]) for frame in (ref, cur)]
    return key, SliceSample(light[0], light[1], vectors), totals, settings


def _slice_task(task: Task) -> list[dict[str, Any]]:
    """One slice's tests, with a generator seeded by the slice itself: its verdicts depend neither on the
    worker that ran it nor on which other slices the run has."""
    key, sample, totals, settings = task
    stream = zlib.crc32("\x1f".join(key).encode("utf-8"))  # the slice's own: other slices do not shift it
    return evaluate_slice(key, sample, totals, settings, np.random.default_rng([settings.seed, stream]))


def _run_tasks(tasks: list[Task], workers: int) -> list[list[dict[str, Any]]]:
    """Slices are independent: on a multi-core driver they run in a pool of fresh processes (forkserver:
    no copy of the Spark driver's threads), each with one math thread."""
    if workers <= 1 or len(tasks) < 4:
        return [_slice_task(t) for t in tasks]
    if not _main_is_import_safe():
        print(
            'drift: the main script has no `if __name__ == "__main__":` guard, which worker processes need;'
            " testing the slices in this process (slower)"
        )
        return [_slice_task(t) for t in tasks]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["llmdrift.drift.pool"])
    try:
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context) as pool:
            return list(pool.map(_slice_task, tasks, chunksize=1))
    except BrokenProcessPool:  # a worker died (out of memory, killed): the same tests, in this process
        print("drift: a worker process failed; testing the slices in this process")
        return [_slice_task(t) for t in tasks]


def _main_is_import_safe() -> bool:
    """Every new process imports the caller's main module again (Python's multiprocessing contract).
    That is harmless for a module run by name (``python -m``, Glue), an interactive session, or a script
    whose work sits under the ``__main__`` guard (the ``llmdrift`` command, ``glue/llmdrift_job.py``).
    A script without the guard would run its work again in each worker, Spark session and writes included."""
    import re
    import sys

    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None):
        return True
    path = getattr(main, "__file__", None)
    if path is None:
        return True
    try:
        source = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"""__name__\s*==\s*['"]__main__['"]""", source) is not None


def evaluate_slices(
    samples: dict[tuple[str, str, str], Any],
    counts: dict[SliceKey, tuple[int, int]],
    testable: set[SliceKey],
    config: TestSettings,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every test of the run (q values filled in) and the clusters of the explained embedding tests."""
    import pandas as pd  # type: ignore[import-untyped]

    empty = pd.DataFrame()

    def frames(key: SliceKey) -> tuple[Any, Any]:
        return samples.get((*key, "reference"), empty), samples.get((*key, "current"), empty)

    keys = sorted(counts)
    tasks = [_task(key, *frames(key), counts[key], config) for key in keys if key in testable]
    tested_slices = iter(_run_tasks(tasks, config.workers))
    results: list[dict[str, Any]] = []
    for key in keys:
        if key in testable:
            results.extend(next(tested_slices))
        else:
            results.append(not_tested(key, counts, config.min_samples))
    tested = [r for r in results if r["method"] != "not_tested"]
    for r, q in zip(tested, stats.benjamini_hochberg([r["p_value"] for r in tested]), strict=True):
        r["q_value"] = q
        r["drifted"] = q < config.alpha
    for r in results:
        r.setdefault("q_value", None)
        r.setdefault("drifted", None)
        r["threshold"] = config.alpha
    clusters = []
    for r in tested:
        key = (r["slice_type"], r["slice"])
        explained = r["feature"].endswith("_embedding") and (r["drifted"] or key == ("all", "*"))
        if not explained:
            continue
        role = r["feature"].removesuffix("_embedding")
        ref, cur = frames(key)
        (xa, ref_texts), (ya, cur_texts) = embedded(ref, role), embedded(cur, role)
        for cl in explain.explain(xa, ya, ref_texts, cur_texts, seed=config.seed):
            clusters.append(
                {
                    "slice_type": key[0],
                    "slice": key[1],
                    "feature": r["feature"],
                    "cluster": cl.cluster,
                    "reference_share": cl.reference_share,
                    "current_share": cl.current_share,
                    "change": cl.change,
                    "examples": cl.examples,
                    "terms": cl.terms,
                }
            )
    return results, clusters

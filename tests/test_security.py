"""Nothing leaked: redaction reaches every output file, logs carry no logged text, paths stay in the warehouse."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from llmdrift.core.storage import join
from llmdrift.text import pii

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _all_text(root: Path) -> list[str]:
    return [s for p in root.rglob("*.parquet") for row in pq.read_table(p).to_pylist() for s in _strings(row)]


def _personal_data(root: Path) -> dict[str, list[str]]:
    """Every detectable email, phone, card, key... in any file under root: {file: [kind, ...]}."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            texts = [s for row in pq.read_table(path).to_pylist() for s in _strings(row)]
        elif path.suffix in (".html", ".json", ".csv", ".txt"):
            texts = [path.read_text(errors="replace")]
        elif path.name.endswith(".json.gz"):
            import gzip

            texts = [gzip.decompress(path.read_bytes()).decode(errors="replace")]
        else:
            continue
        kinds = [kind for text in texts for kind, _, _ in pii.find(text, limit=None, placeholders=False)]
        if kinds:
            found[str(path.relative_to(root))] = kinds
    return found


@pytest.fixture(scope="module")
def redacted_run(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two days of logs with personal data, run through every step with --redact-pii."""
    from llmdrift.core.runs import RunContext
    from llmdrift.core.storage import LocalStorage
    from llmdrift.generate.traffic import Change, Scenario
    from llmdrift.generate.writer import write_logs
    from llmdrift.pipeline import PipelineConfig, run_pipeline

    root = tmp_path_factory.mktemp("redacted")
    logs, warehouse = root / "logs", root / "wh"
    scenario = Scenario(
        seed=21,
        start=date(2026, 11, 2),
        days=2,
        per_day=150,
        changes=(Change.parse("topic_shift:0.4"),),
        change_from=date(2026, 11, 3),
    )
    write_logs(scenario, LocalStorage(), str(logs))
    lines: list[str] = []
    config = PipelineConfig(
        str(warehouse),
        str(logs),
        end=datetime(2026, 11, 4, tzinfo=UTC),
        redact_pii=True,
        dq_policy="warn-only",
    )
    run_pipeline(spark, config, log=lines.append, contexts=lambda step: RunContext(f"{step}-sec", NOW))
    return {"logs": logs, "warehouse": warehouse, "log": "\n".join(lines)}


def test_the_input_has_personal_data_so_the_scan_can_fail(redacted_run: dict[str, Any]) -> None:
    found = _personal_data(redacted_run["logs"])
    kinds = {k for ks in found.values() for k in ks}
    assert {"email", "phone"} <= kinds


def test_redaction_leaves_no_personal_data_in_any_output_file(redacted_run: dict[str, Any]) -> None:
    warehouse: Path = redacted_run["warehouse"]
    placeholders = [t for t in _all_text(warehouse) if "[EMAIL]" in t or "[PHONE]" in t]
    assert placeholders  # redaction happened, and left its marks
    assert list(warehouse.glob("reports/dt=*/drift-report-*.html"))  # the report is among the files scanned
    assert list(warehouse.glob("invocations/dt=*/hour=*/*.parquet"))
    assert _personal_data(warehouse) == {}


def test_run_logs_print_no_prompt_or_completion_text(spark: Any, redacted_run: dict[str, Any]) -> None:
    from llmdrift.core import schemas, tables
    from llmdrift.core.storage import LocalStorage

    warehouse = str(redacted_run["warehouse"])
    rows = tables.read(spark, LocalStorage(), warehouse, schemas.load("invocations")).select(
        "prompt_text", "completion_text"
    )
    texts = {t for r in rows.collect() for t in r if t and len(t) >= 24}
    assert len(texts) > 100
    log = redacted_run["log"]
    assert "[dq" in log  # the run's log is what was captured
    assert [t for t in texts if t[:24] in log] == []


def test_paths_cannot_escape_the_warehouse_root() -> None:
    assert (
        join("s3://bucket/wh", "invocations", "dt=2026-11-02") == "s3://bucket/wh/invocations/dt=2026-11-02"
    )
    for bad in ("../elsewhere", "a/../../b", ".."):
        with pytest.raises(ValueError, match="outside"):
            join("/data/wh", bad)


def test_bad_config_values_exit_non_zero_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmdrift.cli import main

    monkeypatch.setenv("COLUMNS", "250")  # the error box is as wide as the terminal: no wrapped path

    config = tmp_path / "bad.toml"
    config.write_text(json.dumps({"not": "toml"}) + "\n[pricing]\noverride = 5\n")
    code = main(["aggregate", "--warehouse", str(tmp_path / "wh"), "--config", str(config)])
    assert code != 0
    assert "bad.toml" in capsys.readouterr().err

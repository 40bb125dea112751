"""The command line: --help everywhere, clear non-zero exits for bad arguments, generate end to end."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from llmdrift.cli import main

COMMANDS = ["generate", "ingest", "score", "aggregate", "prices", "quality", "run", "models", "demo"]


@pytest.mark.parametrize("command", [[], *[[c] for c in COMMANDS]])
def test_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage" in out
    for c in COMMANDS if not command else []:
        assert c in out


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["ingest", "--logs", "/l", "--warehouse", "/w", "--start", "yesterday"], "--start"),
        (
            ["ingest", "--logs", "/l", "--warehouse", "/w", "--start", "2026-11-03", "--end", "2026-11-02"],
            "not before end",
        ),
        (["ingest", "--logs", "/l", "--warehouse", "/w", "--lookback-hours", "-1"], "--lookback-hours"),
        (["ingest", "--warehouse", "/w"], "--logs"),
        (["generate", "--out", "/tmp/x", "--change", "meteor_strike"], "meteor_strike"),
        (["generate", "--out", "/tmp/x", "--start", "11/02/2026"], "--start"),
        (["generate", "--out", "/tmp/x", "--days", "0"], "--days"),
        (["score", "--warehouse", "/w", "--embedder", "bert"], "embedder must be static or minilm"),
        (["drift", "--warehouse", "/w", "--embedder", "bert"], "embedder must be static or minilm"),
        (["drift", "--warehouse", "/w", "--current", "last week"], "not a window"),
        (
            ["score", "--warehouse", "/w", "--text-backend", "cloud"],
            "text backend must be local or comprehend",
        ),
        (["score", "--warehouse", "/w", "--text-model", "huge"], "text model must be fast"),
        (["run", "--warehouse", "/w", "--steps", "score", "--text-model", "huge"], "--text-model"),
        (["quality", "--tier", "huge"], "--tier"),
        (["quality", "--split", "train"], "--split"),
        (["models", "train", "--tier", "huge"], "--tier"),
        (
            ["aggregate", "--warehouse", "/w", "--start", "2026-11-05", "--end", "2026-11-02"],
            "not before end",
        ),
        (["aggregate", "--warehouse", "/w", "--config", "/nonexistent.toml"], "config file not found"),
    ],
)
def test_bad_arguments_exit_non_zero_naming_the_problem(
    argv: list[str], names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2
    assert names in captured.err + captured.out


def test_generate_writes_bedrock_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--out", str(tmp_path), "--days", "1", "--per-day", "60", "--seed", "3"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path)  # the output path is printed
    files = sorted(tmp_path.rglob("*.json.gz"))
    records = [f for f in files if "/data/" not in str(f)]
    assert records
    rel = records[0].relative_to(tmp_path).parts
    assert rel[:4] == ("AWSLogs", "111122223333", "BedrockModelInvocationLogs", "us-east-1")
    assert rel[4:7] == ("2026", "11", "02")
    assert len(rel[7]) == 2
    first = json.loads(gzip.decompress(records[0].read_bytes()).split(b"\n")[0])
    assert first["schemaType"] == "ModelInvocationLog"
    assert (tmp_path / "amazon-bedrock-logs-permission-check").stat().st_size == 0


def test_prices_lists_the_table_and_rejects_a_bad_override(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prices", "--model", "nova-micro"]) == 0
    out = capsys.readouterr()
    assert "version 2026-11-01" in out.err + out.out
    assert "amazon.nova-micro-v1:0" in out.out
    bad = tmp_path / "override.csv"
    bad.write_text(
        "base_model_id,source_region,endpoint_scope,token_class,service_tier,usd_per_1k,effective_from,effective_to,status,source\n"
        "amazon.nova-micro-v1:0,*,*,input,default,-1,2024-01-01,,published,oops\n"
    )
    assert main(["prices", "--override", str(bad)]) == 1
    assert "override.csv:2" in capsys.readouterr().err

"""The step sequence shared by ``llmdrift run`` and the Glue jobs: step lists, config checks, the CLI wiring.

Running the steps themselves is covered by the jobs' own tests and, end to end through the Glue script, by
tests/test_glue.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from llmdrift import cli
from llmdrift.core.settings import AggregateSettings, DriftSettings
from llmdrift.pipeline import DEFAULT_STEPS, STEPS, PipelineConfig, PipelineResult, parse_steps


def test_parse_steps_orders_and_checks() -> None:
    assert parse_steps("report,ingest") == ("ingest", "report")
    assert parse_steps(" score , aggregate ") == ("score", "aggregate")
    assert parse_steps(",".join(reversed(STEPS))) == STEPS
    for bad, why in (("", "no steps"), ("score,rescore", "unknown step 'rescore'"), ("drift,drift", "twice")):
        with pytest.raises(ValueError, match=why):
            parse_steps(bad)


def test_config_checks_before_any_step_runs() -> None:
    assert PipelineConfig("/w", "/l").steps == DEFAULT_STEPS  # catalog only where Glue is
    assert "catalog" not in DEFAULT_STEPS
    with pytest.raises(ValueError, match="needs the log root"):
        PipelineConfig("/w")
    with pytest.raises(ValueError, match="order"):
        PipelineConfig("/w", "/l", ("score", "ingest"))
    with pytest.raises(ValueError, match="drift must be one of"):
        PipelineConfig("/w", steps=("drift",), drift="hourly")
    with pytest.raises(ValueError, match="not before end"):  # the ingest job's own check
        PipelineConfig(
            "/w", "/l", start=datetime(2026, 11, 3, tzinfo=UTC), end=datetime(2026, 11, 2, tzinfo=UTC)
        )
    with pytest.raises(ValueError, match="text backend"):  # the score job's
        PipelineConfig("/w", steps=("score",), text_backend="cloud")
    assert set(PipelineConfig("/w", steps=("drift", "report")).job_configs()) == {"drift", "report"}
    settings = AggregateSettings(drift=DriftSettings(reference_days=28, min_samples=100, alpha=0.01))
    drift = PipelineConfig("/w", steps=("drift",), settings=settings, embedder="minilm").job_configs()[
        "drift"
    ]
    assert (drift.reference_days, drift.min_samples, drift.alpha, drift.embedder) == (28, 100, 0.01, "minilm")


def test_outputs_of_every_step_are_merged() -> None:
    class Done:
        def __init__(self, **outputs: str) -> None:
            self.outputs = outputs

    result = PipelineResult(
        {"ingest": Done(invocations="/w/invocations"), "report": Done(report="/w/r.html")}
    )
    assert result.outputs == {"invocations": "/w/invocations", "report": "/w/r.html"}


def test_llmdrift_run_calls_the_pipeline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[Any] = []

    def fake_run(spark: Any, config: PipelineConfig, log: Any = print, **_: Any) -> PipelineResult:
        seen.append((spark, config))
        return PipelineResult()

    monkeypatch.setattr(cli, "_spark", lambda master, conf, uris: "session")
    monkeypatch.setattr("llmdrift.pipeline.run_pipeline", fake_run)
    argv = ["run", "--logs", str(tmp_path / "l"), "--warehouse", str(tmp_path / "w"), "--redact-pii"]
    assert cli.main([*argv, "--start", "2026-11-02T05"]) == 0
    spark, config = seen[0]
    assert spark == "session"
    assert config.steps == DEFAULT_STEPS
    assert (config.logs, config.redact_pii, config.drift) == (str(tmp_path / "l"), True, "always")
    assert config.start == datetime(2026, 11, 2, 5, tzinfo=UTC)
    assert cli.main(["run", "--warehouse", str(tmp_path / "w"), "--steps", "drift,report"]) == 0
    assert seen[1][1].steps == ("drift", "report")


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["run", "--warehouse", "/w"], "--logs"),
        (["run", "--warehouse", "/w", "--steps", "score,bogus"], "--steps"),
        (["run", "--warehouse", "/w", "--logs", "/l", "--start", "yesterday"], "--start"),
    ],
)
def test_llmdrift_run_bad_arguments(argv: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert named in captured.err + captured.out


# One value per pipeline option, as text: a new option must be given one here (the first assertion).
SAMPLE = {
    "warehouse": "/w",
    "logs": "/l",
    "steps": "ingest,score,drift",
    "start": "2026-11-02T05",
    "end": "2026-11-03",
    "lookback_hours": "3",
    "redact_pii": "true",
    "config": None,  # a file: checked by the Glue and CLI config tests
    "embedder": "static",
    "text_backend": "comprehend",
    "text_model": "fast",
    "aws_region": "eu-west-1",
    "drift": "daily",
    "dq_policy": "warn-only",
    "cloudwatch": "true",
    "cloudwatch_namespace": "team-a",
    "database": "llm_logs",
}


def test_every_pipeline_option_reaches_the_config_from_the_cli_glue_and_the_demo(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One spec (pipeline.OPTIONS) makes `llmdrift run`, the Glue arguments and the demo's run: each option
    given to the command line or to the Glue job lands in the same PipelineConfig."""
    import dataclasses

    from typer.main import get_command

    from llmdrift.demo import demo_options
    from llmdrift.glue_args import parse
    from llmdrift.pipeline import OPTIONS

    assert set(SAMPLE) == {o.name for o in OPTIONS}
    given = {k: v for k, v in SAMPLE.items() if v is not None}
    fields = {f.name for f in dataclasses.fields(PipelineConfig)}
    expected = {o.name: o.convert(given[o.name]) for o in OPTIONS if o.name in given}

    # the command line
    seen: list[PipelineConfig] = []
    monkeypatch.setattr(cli, "_spark", lambda master, conf, uris: "session")

    def fake_run(spark: Any, config: PipelineConfig, **_: Any) -> PipelineResult:
        seen.append(config)
        return PipelineResult()

    monkeypatch.setattr("llmdrift.pipeline.run_pipeline", fake_run)
    flags = {opt for p in get_command(cli.app).commands["run"].params for opt in p.opts}  # type: ignore[attr-defined]
    argv = ["run"]
    for option in OPTIONS:
        assert option.flag in flags, option.flag
        if option.name in given:
            argv += [option.flag] if option.switch else [option.flag, given[option.name]]
    assert cli.main(argv) == 0
    # the Glue job
    glue = parse(["job.py", *[a for k, v in given.items() for a in (f"--{k}", v)]])
    for name, value in expected.items():
        assert getattr(glue, name) == value, name
    from_glue = glue.pipeline_config()
    for config in (seen[0], from_glue):
        for name, value in expected.items():
            if name in fields:
                assert getattr(config, name) == value, name
        assert (config.settings.cloudwatch, config.settings.cloudwatch_namespace) == (True, "team-a")
        assert config.settings.cloudwatch_region == "eu-west-1"
    assert seen[0] == from_glue
    # the demo
    demo = demo_options("/l", "/w", datetime(2026, 11, 2, tzinfo=UTC), 4)
    assert set(demo) <= {o.name for o in OPTIONS}
    assert PipelineConfig.from_options(demo).policy == "warn-only"

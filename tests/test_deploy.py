"""``llmdrift deploy``: options, --dry-run, the artefacts it builds, and a deployment against moto (S3 and
CloudFormation) and against a real S3 server (SeaweedFS) with CloudFormation from moto.

No local CloudFormation server exists: moto's CloudFormation runs the API (create, update, wait, outputs)
and evaluates parameters, conditions and intrinsic functions for the resources it supports (the IAM role
and policies here); it skips Glue and Athena resources with a warning, so those are covered by cfn-lint,
checkov and tests/test_glue.py instead.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import os
import re
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmdrift import deploy as d
from llmdrift import glue_template as gt
from llmdrift.cli import main

REPO = Path(__file__).resolve().parents[1]
REGION = "us-east-1"


def _options(**changes: Any) -> d.DeployOptions:
    base = {"stack": "llmdrift-test", "logs": "s3://bedrock-logs", "warehouse": "s3://analytics/llmdrift"}
    return d.DeployOptions(**{**base, **changes})


# -------------------------------------------------------------------------------------------- options


def test_plan_derives_locations_and_parameters() -> None:
    plan = d.make_plan(_options(logs="s3://bedrock-logs/org/", workers=4, comprehend=True))
    params = plan.parameters("0.1.0-abc")
    assert (params["LogsBucket"], params["LogsPrefix"]) == ("bedrock-logs", "org")
    assert (params["WarehouseBucket"], params["WarehousePrefix"]) == ("analytics", "llmdrift")
    assert (params["ArtifactsBucket"], params["ArtifactsPrefix"]) == (
        "analytics",
        "llmdrift-artifacts/llmdrift-test",
    )
    assert params["AthenaResultsPrefix"] == "athena-results/llmdrift-test"
    assert (params["IngestWorkers"], params["AnalyseWorkers"]) == ("4", "4")
    assert params["EnableComprehend"] == "true"
    assert params["Schedule"] == gt.DEFAULT_SCHEDULE
    template = gt.build("0.1.0", [])
    assert set(params) == set(template["Parameters"])  # every template parameter is set, no other


@pytest.mark.parametrize(
    ("changes", "option"),
    [
        ({"stack": "1bad"}, "--stack"),
        ({"stack": "under_score"}, "--stack"),
        ({"logs": "/local/logs"}, "--logs"),
        ({"logs": "s3://Bad_Bucket/x"}, "--logs"),
        ({"warehouse": "s3://analytics"}, "--artifacts"),  # whole-bucket warehouse: no default beside it
        ({"warehouse": "s3://bedrock-logs/wh"}, "--warehouse"),  # inside the logs root
        ({"artifacts": "s3://analytics/llmdrift/code"}, "--artifacts"),  # writable by the job
        ({"artifacts": "s3://analytics"}, "--artifacts"),
        ({"athena_results": "s3://analytics"}, "--athena-results"),
        ({"database": "Bad-Name"}, "--database"),
        ({"schedule": "cron(15 * * * *)"}, "--schedule"),
        ({"schedule": "cron(15 * * * * *)"}, "--schedule"),
        ({"worker_type": "Standard"}, "--worker-type"),
        ({"analyse_worker_type": "Z.2X"}, "--analyse-worker-type"),
        ({"flex": True, "worker_type": "G.4X"}, "--worker-type"),
        ({"workers": 1}, "--workers"),
        ({"analyse_workers": 300}, "--analyse-workers"),
        ({"timeout_minutes": 0}, "--timeout-minutes"),
        ({"athena_scan_limit_gb": 0}, "--athena-scan-limit-gb"),
        ({"kms_key_arn": "alias/mine"}, "--kms-key-arn"),
        ({"config": Path("/nowhere/llmdrift.toml")}, "--config"),
    ],
)
def test_bad_options_name_the_option(changes: dict[str, Any], option: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(option)}: "):
        d.make_plan(_options(**changes))


def test_config_files_travel_with_the_config(tmp_path: Path) -> None:
    (tmp_path / "prices").mkdir()
    (tmp_path / "prices" / "mine.csv").write_text("x")
    config = tmp_path / "team.toml"
    config.write_text('[pricing]\noverride = "prices/mine.csv"\n')
    plan = d.make_plan(_options(config=config))
    assert plan.config_files == {"team.toml": config, "prices/mine.csv": tmp_path / "prices" / "mine.csv"}
    assert plan.parameters("v")["ConfigFile"] == "team.toml"
    outside = tmp_path / "sub"
    outside.mkdir()
    (outside / "team.toml").write_text('[pricing]\noverride = "../prices/mine.csv"\n')
    with pytest.raises(ValueError, match=r"^--config: pricing.override"):
        d.make_plan(_options(config=outside / "team.toml"))


def test_cli_bad_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["deploy", "--stack", "s", "--logs", "s3://bedrock-logs", "--warehouse", "s3://analytics/w"]
    assert main([*argv, "--schedule", "cron(15 * * * *)", "--dry-run"]) == 2
    captured = capsys.readouterr()
    assert "--schedule" in captured.err
    assert main(["deploy", "--stack", "s", "--dry-run"]) == 2  # missing required options
    assert "--logs" in capsys.readouterr().err


def test_dry_run_prints_the_plan_and_touches_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_aws(*_: Any) -> Any:
        raise AssertionError("a dry run calls no AWS API")

    monkeypatch.setattr(d, "_boto3_client", no_aws)
    monkeypatch.setattr(d, "build_artifacts", no_aws)
    argv = [
        "deploy",
        "--stack",
        "llmdrift-prod",
        "--logs",
        "s3://bedrock-logs",
        "--warehouse",
        "s3://analytics/llmdrift",
    ]
    assert main([*argv, "--workers", "3", "--paused", "--wheelhouse", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("llmdrift deploy plan (dry run")
    version = gt.project_version(REPO)
    assert f"s3://analytics/llmdrift-artifacts/llmdrift-prod/{version}-<content hash>/" in out
    assert f"llmdrift_models-{version}-py3-none-any.whl" in out
    for expected in (
        "wheelhouse.zip",
        "llmdrift_job.py",
        "config/llmdrift.toml",
        "LogsPrefix=\n",
        "IngestWorkers=3",
        "ScheduleEnabled=false",
        "OfflineWheelhouse=true",
        "read s3://bedrock-logs, read/write s3://analytics/llmdrift",
        "s3://analytics/llmdrift/reports/index.html",
    ):
        assert expected in out
    assert main(["deploy", "--help"]) == 0
    assert "--dry-run" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------- artefacts


def test_wheelhouse_command_targets_glue_workers(tmp_path: Path) -> None:
    command = d.wheelhouse_command(tmp_path / "requirements.txt", tmp_path / "wh")
    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--only-binary=:all:" in command
    assert "--no-deps" in command  # the file is a complete closure
    values = lambda flag: [command[i + 1] for i, a in enumerate(command) if a == flag]  # noqa: E731
    assert values("--python-version") == ["3.11"]
    assert values("--implementation") == ["cp"]
    assert set(values("--abi")) == {"cp311", "abi3", "none"}
    platforms = values("--platform")
    assert "manylinux2014_x86_64" in platforms
    assert "manylinux_2_28_x86_64" in platforms
    assert all(p.endswith("_x86_64") for p in platforms)
    assert values("--requirement") == [str(tmp_path / "requirements.txt")]
    assert values("--dest") == [str(tmp_path / "wh")]


@pytest.fixture(scope="module")
def model_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from llmdrift.text.embedders import STATIC_NAME, model_dir

    return d.build_models_wheel(model_dir() / STATIC_NAME, "0.1.0", tmp_path_factory.mktemp("models-wheel"))


def test_models_wheel_is_a_valid_reproducible_wheel(model_wheel: Path, tmp_path: Path) -> None:
    from llmdrift.text.embedders import STATIC_NAME, model_dir

    assert model_wheel.name == "llmdrift_models-0.1.0-py3-none-any.whl"
    again = d.build_models_wheel(model_dir() / STATIC_NAME, "0.1.0", tmp_path)
    assert again.read_bytes() == model_wheel.read_bytes()
    with zipfile.ZipFile(model_wheel) as wheel:
        names = wheel.namelist()
        record = wheel.read("llmdrift_models-0.1.0.dist-info/RECORD").decode().splitlines()
        for line in record:
            name, digest, size = line.rsplit(",", 2)
            if digest:
                data = wheel.read(name)
                expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                assert digest == f"sha256={expected}"
                assert int(size) == len(data)
    assert f"llmdrift_models/models/{STATIC_NAME}/llmdrift.json" in names
    assert f"llmdrift_models/models/{STATIC_NAME}/model.safetensors" in names
    assert len(record) == len(names)


def test_installed_models_wheel_is_where_scoring_looks(model_wheel: Path, tmp_path: Path) -> None:
    """As on a Glue worker: the wheel installed, no model cache, no LLMDRIFT_MODEL_DIR."""
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(model_wheel),
        ],
        check=True,
    )
    env = {k: v for k, v in os.environ.items() if k != "LLMDRIFT_MODEL_DIR"}
    env |= {"PYTHONPATH": str(target), "HOME": str(tmp_path / "empty-home")}
    code = (
        "from llmdrift.text import embedders as models\n"
        "print(models.model_dir())\n"
        "print(models.encoder('static').encode(['a refusal']).shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    where, shape = done.stdout.split("\n")[:2]
    assert Path(where) == target / "llmdrift_models" / "models"
    assert shape == "(1, 256)"


def test_llmdrift_wheel_is_reproducible_and_complete(tmp_path: Path) -> None:
    first = d.build_wheel(REPO, tmp_path / "a")
    second = d.build_wheel(REPO, tmp_path / "b")
    assert first.name == f"llmdrift-{gt.project_version(REPO)}-py3-none-any.whl"
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as wheel:
        names = set(wheel.namelist())
    assert "llmdrift/glue_args.py" in names
    assert "llmdrift/schema_files/invocations.v1.json" in names
    assert {
        "llmdrift/score/textmodels/fast/manifest.json",
        "llmdrift/score/textmodels/fast/weights.f16.gz",
    } <= names
    assert "llmdrift/catalog/queries/latency_by_model.sql" in names or not list(
        (REPO / "jobs/llmdrift/catalog/queries").glob("*.sql")
    )
    generator_data = REPO / "jobs/llmdrift/generate/data"
    assert {
        f"llmdrift/generate/data/{p.relative_to(generator_data).as_posix()}"
        for p in generator_data.rglob("*.toml")
    } <= names
    assert "llmdrift/generate/data/domains/coding.toml" in names
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]
    assert not (REPO / "jobs" / "build").exists()  # built from a copy


# --------------------------------------------------------------------------------------- deployments


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not supported by moto's CloudFormation.*")
        yield


def _role_statements(iam: Any, role_arn: str) -> list[dict[str, Any]]:
    name = role_arn.rsplit("/", 1)[1]
    documents = []
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        documents.append(ast.literal_eval(document) if isinstance(document, str) else document)  # moto: repr
    return [s for doc in documents for s in doc["Statement"]]


def test_deploy_to_moto_creates_then_updates_the_stack(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("bedrock-logs", "analytics"):
        s3.create_bucket(Bucket=bucket)
    options = _options(logs="s3://bedrock-logs/org", region=REGION)
    lines: list[str] = []
    result = d.deploy(options, log=lines.append, root=REPO)
    assert result.action == "created"
    assert re.fullmatch(r"0\.1\.0-[0-9a-f]{12}", result.version)
    prefix = f"llmdrift-artifacts/llmdrift-test/{result.version}/"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="analytics", Prefix=prefix)["Contents"]}
    assert {k[len(prefix) :] for k in keys} == set(d.make_plan(options).artefact_names("0.1.0"))
    script = s3.get_object(Bucket="analytics", Key=prefix + gt.SCRIPT)["Body"].read()
    assert script == (REPO / "glue" / gt.SCRIPT).read_bytes()

    cfn = boto3.client("cloudformation", region_name=REGION)
    stack = cfn.describe_stacks(StackName="llmdrift-test")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert params["ArtifactsVersion"] == result.version
    assert result.outputs["WarehouseUri"] == "s3://analytics/llmdrift"
    assert result.outputs["ReportUri"] == "s3://analytics/llmdrift/reports/index.html"
    # moto evaluated the role's ARNs from the bucket/prefix parameters:
    statements = {s["Sid"]: s for s in _role_statements(boto3.client("iam"), result.outputs["JobRoleArn"])}
    assert statements["ReadLogs"]["Resource"] == "arn:aws:s3:::bedrock-logs/org/*"
    assert statements["ListLogs"]["Condition"] == {"StringLike": {"s3:prefix": ["org", "org/*"]}}
    assert statements["ReadWriteWarehouse"]["Resource"] == "arn:aws:s3:::analytics/llmdrift/*"
    assert (
        statements["ReadArtifacts"]["Resource"] == "arn:aws:s3:::analytics/llmdrift-artifacts/llmdrift-test/*"
    )
    optional = {
        r["ResourceType"]
        for r in cfn.list_stack_resources(StackName="llmdrift-test")["StackResourceSummaries"]
    }
    assert "AWS::IAM::Policy" not in optional  # Comprehend, CloudWatch and KMS are off

    again = d.deploy(
        _options(logs="s3://bedrock-logs/org", region=REGION, workers=3), log=lines.append, root=REPO
    )
    assert again.version == result.version  # same code, same artefacts folder
    assert again.action in ("updated", "unchanged")
    stack = cfn.describe_stacks(StackName="llmdrift-test")["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["IngestWorkers"] == "3"
    assert any(line.startswith("creating stack") for line in lines)
    assert any(line.startswith("updating stack") for line in lines)


def test_deploy_command_prints_outputs_and_reports_failures(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    argv = [
        "deploy",
        "--stack",
        "llmdrift-cli",
        "--logs",
        "s3://bedrock-logs",
        "--warehouse",
        "s3://analytics/wh",
    ]
    assert main([*argv, "--region", REGION]) == 1  # the buckets do not exist yet
    assert "error: uploading" in capsys.readouterr().err
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("bedrock-logs", "analytics"):
        s3.create_bucket(Bucket=bucket)
    assert main([*argv, "--region", REGION, "--comprehend"]) == 0
    captured = capsys.readouterr()
    assert "stack llmdrift-cli created" in captured.err
    assert "JobRoleArn" in captured.out
    assert "s3://analytics/wh/reports/index.html" in captured.out


def test_deploy_refuses_a_stale_template(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "checkout"
    shutil.copytree(REPO / "glue", root / "glue")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / "glue" / gt.TEMPLATE_FILE).write_text("# edited by hand\n")
    plan = d.make_plan(_options())
    with pytest.raises(d.DeployError, match=re.escape("python -m llmdrift.glue_template")):
        d.build_artifacts(plan, root, tmp_path, log=lambda _: None)


class _FetchingCloudFormation:
    """moto's CloudFormation reads TemplateURL from moto's S3; here the template lies in the real S3 server,
    so this does what CloudFormation does with the URL: fetch the object and use it as the body."""

    def __init__(self, cfn: Any, s3: Any) -> None:
        self._cfn, self._s3 = cfn, s3

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cfn, name)

    def _body(self, request: dict[str, Any]) -> dict[str, Any]:
        bucket, key = request.pop("TemplateURL").split("amazonaws.com/", 1)[1].split("/", 1)
        request["TemplateBody"] = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        return request

    def create_stack(self, **request: Any) -> Any:
        return self._cfn.create_stack(**self._body(request))

    def update_stack(self, **request: Any) -> Any:
        return self._cfn.update_stack(**self._body(request))


def test_deploy_uploads_to_a_real_s3_server(s3_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Uploads through boto3 with the endpoint from the AWS configuration (AWS_ENDPOINT_URL_S3 here);
    CloudFormation from moto, which leaves requests to other endpoints alone."""
    import boto3
    from moto import mock_aws

    logs = s3_env.make_bucket("deploy-logs")
    s3_env.make_bucket("deploy-analytics")
    real_s3 = boto3.client("s3", region_name=REGION)  # endpoint from the environment
    with mock_aws(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not supported by moto's CloudFormation.*")
        cfn = _FetchingCloudFormation(boto3.client("cloudformation", region_name=REGION), real_s3)

        def clients(service: str, region: str | None) -> Any:
            # the S3 client was made before moto started: it holds the server's credentials, not moto's
            return cfn if service == "cloudformation" else real_s3

        result = d.deploy(
            _options(logs=logs, warehouse="s3://deploy-analytics/wh", region=REGION),
            log=lambda _: None,
            clients=clients,
            root=REPO,
        )
        status = cfn.describe_stacks(StackName="llmdrift-test")["Stacks"][0]["StackStatus"]
    assert result.action == "created"
    assert status == "CREATE_COMPLETE"
    prefix = f"llmdrift-artifacts/llmdrift-test/{result.version}/"
    listed = real_s3.list_objects_v2(Bucket="deploy-analytics", Prefix=prefix)["Contents"]
    sizes = {o["Key"][len(prefix) :]: o["Size"] for o in listed}
    assert set(sizes) == set(d.make_plan(_options()).artefact_names("0.1.0"))
    assert sizes[gt.wheel_name(gt.MODELS_DIST, "0.1.0")] > 1_000_000  # the model travels with the code
    assert result.uploaded[gt.SCRIPT] == f"s3://deploy-analytics/{prefix}{gt.SCRIPT}"

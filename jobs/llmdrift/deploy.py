"""``llmdrift deploy``: build the Glue job's artefacts, upload them, create or update the CloudFormation stack.

From a source checkout (``make setup``), in order:

1. check the options and that ``glue/llmdrift.yaml`` is what the generator renders now;
2. build the llmdrift wheel (``pip wheel`` of the checkout, reproducible: same source, same bytes) and the
   ``llmdrift_models`` wheel, which carries the static embedding model (distilled first if the local
   cache lacks it), so every Glue worker has the model files its scoring UDFs load;
3. optionally download a wheelhouse of ``glue/requirements.txt`` for manylinux x86_64 / CPython 3.11, for
   Glue jobs in VPCs without PyPI access;
4. upload everything under ``<artifacts>/<version>-<content hash>/``: a new folder whenever any byte
   changes, so a stack update switches the jobs over at once and a redeploy of the same code changes
   nothing;
5. create the stack, or update it, and wait; print its outputs.

``--dry-run`` prints that plan without building, uploading or calling AWS. Uploads use boto3, so the usual
AWS configuration applies, endpoint overrides included (``AWS_ENDPOINT_URL_S3``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from llmdrift import glue_template as gt
from llmdrift.core.errors import LlmdriftError

Log = Callable[[str], None]
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,99}$")  # also names the jobs, workflow and workgroup
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
REPRODUCIBLE_EPOCH = "315532800"  # 1980-01-01: wheels built twice from the same source are identical
GLUE_PYTHON = "3.11"
GLUE_PLATFORMS = ("manylinux2014_x86_64", *(f"manylinux_2_{minor}_x86_64" for minor in range(17, 35)))
DEFAULT_CONFIG = "llmdrift.toml"
FLEX_WORKER_TYPES = ("G.1X", "G.2X")


class DeployError(LlmdriftError, RuntimeError):
    """Building, uploading or the stack failed; the message says what and where."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str = ""  # without leading or trailing slash; empty is the whole bucket

    @classmethod
    def parse(cls, uri: str, option: str) -> S3Location:
        match = re.fullmatch(r"s3://([^/]+)(/.*)?", uri.strip())
        if not match:
            raise ValueError(f"{option}: {uri!r} is not an s3://bucket/prefix URI")
        bucket, prefix = match.group(1), (match.group(2) or "").strip("/")
        if not BUCKET.match(bucket) or ".." in bucket:
            raise ValueError(f"{option}: {bucket!r} is not a valid S3 bucket name")
        if "//" in prefix:
            raise ValueError(f"{option}: {uri!r} has an empty path segment")
        return cls(bucket, prefix)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))

    def contains(self, other: S3Location) -> bool:
        if self.bucket != other.bucket:
            return False
        return not self.prefix or other.prefix == self.prefix or other.prefix.startswith(self.prefix + "/")


@dataclass(frozen=True)
class DeployOptions:
    stack: str
    logs: str
    warehouse: str
    artifacts: str | None = None
    athena_results: str | None = None
    region: str | None = None
    database: str = "llmdrift"
    schedule: str = gt.DEFAULT_SCHEDULE
    schedule_enabled: bool = True
    worker_type: str = "G.1X"
    workers: int = 2
    analyse_worker_type: str | None = None
    analyse_workers: int | None = None
    flex: bool = False
    timeout_minutes: int = 120
    redact_pii: bool = False
    comprehend: bool = False
    cloudwatch: bool = False
    cloudwatch_namespace: str = "llmdrift"
    config: Path | None = None
    kms_key_arn: str = ""
    wheelhouse: bool = False
    athena_scan_limit_gb: int = 10
    judge_model_arns: tuple[str, ...] = ()  # bedrock:InvokeModel on these only ([judge] in the config)


@dataclass(frozen=True)
class Plan:
    options: DeployOptions
    logs: S3Location
    warehouse: S3Location
    artifacts: S3Location
    athena_results: S3Location
    config_files: dict[str, Path]  # uploaded name under config/ -> local file (empty: the defaults file)

    @property
    def config_name(self) -> str:
        return next(iter(self.config_files), DEFAULT_CONFIG)

    def parameters(self, version: str) -> dict[str, str]:
        o = self.options

        def flag(value: bool) -> str:
            return "true" if value else "false"

        return {
            "LogsBucket": self.logs.bucket,
            "LogsPrefix": self.logs.prefix,
            "WarehouseBucket": self.warehouse.bucket,
            "WarehousePrefix": self.warehouse.prefix,
            "ArtifactsBucket": self.artifacts.bucket,
            "ArtifactsPrefix": self.artifacts.prefix,
            "ArtifactsVersion": version,
            "AthenaResultsBucket": self.athena_results.bucket,
            "AthenaResultsPrefix": self.athena_results.prefix,
            "DatabaseName": o.database,
            "Schedule": o.schedule,
            "ScheduleEnabled": flag(o.schedule_enabled),
            "IngestWorkerType": o.worker_type,
            "IngestWorkers": str(o.workers),
            "AnalyseWorkerType": o.analyse_worker_type or o.worker_type,
            "AnalyseWorkers": str(o.analyse_workers or o.workers),
            "ExecutionClass": "FLEX" if o.flex else "STANDARD",
            "JobTimeoutMinutes": str(o.timeout_minutes),
            "RedactPii": flag(o.redact_pii),
            "EnableComprehend": flag(o.comprehend),
            "EnableCloudWatch": flag(o.cloudwatch),
            "CloudWatchNamespace": o.cloudwatch_namespace,
            "JudgeModelArns": ",".join(o.judge_model_arns),
            "ConfigFile": self.config_name,
            "OfflineWheelhouse": flag(o.wheelhouse),
            "S3KmsKeyArn": o.kms_key_arn,
            "AthenaBytesScannedCutoff": str(o.athena_scan_limit_gb * 1024**3),
        }

    def artefact_names(self, version: str) -> list[str]:
        names = [
            gt.SCRIPT,
            gt.wheel_name("llmdrift", version),
            gt.wheel_name(gt.MODELS_DIST, version),
            "requirements.txt",
            *(f"config/{name}" for name in (list(self.config_files) or [DEFAULT_CONFIG])),
        ]
        if self.options.wheelhouse:
            names.append(gt.WHEELHOUSE)
        return [*names, gt.TEMPLATE_FILE]


def make_plan(options: DeployOptions) -> Plan:
    """Check every option (ValueError names the option) and work out the locations."""
    from llmdrift.catalog.ddl import DdlError, check_name

    o = options
    if not STACK_NAME.match(o.stack):
        raise ValueError(
            f"--stack: {o.stack!r} must start with a letter and hold only letters, digits and hyphens (<= 100)"
        )
    logs = S3Location.parse(o.logs, "--logs")
    warehouse = S3Location.parse(o.warehouse, "--warehouse")
    if warehouse.contains(logs) or logs.contains(warehouse):
        raise ValueError("--warehouse: the warehouse and the logs must not contain one another")
    if o.artifacts:
        artifacts = S3Location.parse(o.artifacts, "--artifacts")
    elif warehouse.prefix:
        artifacts = S3Location(warehouse.bucket, f"llmdrift-artifacts/{o.stack}")
    else:
        raise ValueError(
            "--artifacts: needed when the warehouse is a whole bucket (the default is beside it)"
        )
    if not artifacts.prefix:
        raise ValueError("--artifacts: give a prefix (s3://bucket/prefix), not a whole bucket")
    if warehouse.contains(artifacts):
        raise ValueError(
            f"--artifacts: {artifacts.uri} is inside the warehouse, where the job can write: it must not be"
            " able to change its own code"
        )
    results = (
        S3Location.parse(o.athena_results, "--athena-results")
        if o.athena_results
        else S3Location(warehouse.bucket, f"athena-results/{o.stack}")
    )
    if not results.prefix:
        raise ValueError("--athena-results: give a prefix (s3://bucket/prefix), not a whole bucket")
    try:
        check_name(o.database)
    except DdlError as exc:
        raise ValueError(f"--database: {exc}") from None
    for option, value in (("--schedule", o.schedule),):
        try:
            gt.validate_cron(value)
        except gt.TemplateError as exc:
            raise ValueError(f"{option}: {exc}") from None
    for option, worker_type in (
        ("--worker-type", o.worker_type),
        ("--analyse-worker-type", o.analyse_worker_type or o.worker_type),
    ):
        try:
            gt.check_worker_type(worker_type)
        except gt.TemplateError as exc:
            raise ValueError(f"{option}: {exc}") from None
        if o.flex and worker_type not in FLEX_WORKER_TYPES:
            raise ValueError(f"{option}: FLEX runs only on {' and '.join(FLEX_WORKER_TYPES)} workers")
    for option, count in (("--workers", o.workers), ("--analyse-workers", o.analyse_workers or o.workers)):
        if not 2 <= count <= 299:
            raise ValueError(f"{option}: Glue Spark jobs take 2 to 299 workers, got {count}")
    if o.athena_scan_limit_gb < 1:
        raise ValueError(f"--athena-scan-limit-gb: at least 1, got {o.athena_scan_limit_gb}")
    if not 1 <= o.timeout_minutes <= 10080:
        raise ValueError(f"--timeout-minutes: 1 to 10080, got {o.timeout_minutes}")
    if o.kms_key_arn and not re.fullmatch(
        r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+", o.kms_key_arn
    ):
        raise ValueError(f"--kms-key-arn: {o.kms_key_arn!r} is not a KMS key ARN")
    return Plan(o, logs, warehouse, artifacts, results, _config_files(o.config))


def _config_files(config: Path | None) -> dict[str, Path]:
    """The config file and the price files it names, keyed by their names relative to its folder."""
    from llmdrift.core.settings import ConfigError, load

    if config is None:
        return {}
    try:
        load(config)  # every check the job would make, now
        raw = tomllib.loads(config.read_text(encoding="utf-8"))
    except (ConfigError, OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"--config: {exc}") from None
    files = {config.name: config}
    pricing = raw.get("pricing", {})
    for key in ("override", "profiles"):
        value = pricing.get(key) if isinstance(pricing, dict) else None
        if value is None:
            continue
        relative = Path(str(value))
        resolved = (config.parent / relative).resolve()
        if relative.is_absolute() or not resolved.is_relative_to(config.parent.resolve()):
            raise ValueError(
                f"--config: pricing.{key} = {value!r} must be a path relative to the config file's folder"
                " and inside it, so it can be uploaded beside it"
            )
        files[relative.as_posix()] = resolved
    return files


# ------------------------------------------------------------------------------------------- building


@dataclass(frozen=True)
class Artifact:
    name: str  # key under the version folder
    path: Path


def build_wheel(root: Path, out: Path) -> Path:
    """``pip wheel`` of the checkout (a copy, so the checkout gets no build/ folder), reproducibly."""
    src = out / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(root / "jobs", src / "jobs", symlinks=False, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (root / name).exists():
            shutil.copy2(root / name, src / name)
    dist = out / "dist"
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
        "--wheel-dir",
        str(dist),
        str(src),
    ]
    env = {**os.environ, "SOURCE_DATE_EPOCH": REPRODUCIBLE_EPOCH, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wheels = sorted(dist.glob("llmdrift-*.whl"))
    if done.returncode or len(wheels) != 1:
        raise DeployError(f"building the llmdrift wheel from {root} failed: {done.stderr.strip()[-2000:]}")
    return wheels[0]


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_models_wheel(model_path: Path, version: str, out: Path) -> Path:
    """The ``llmdrift_models`` wheel: the static model's folder as package data (``text.embedders.model_dir``
    finds it once installed). Written directly (a wheel is a zip with a dist-info), byte-reproducibly."""
    from llmdrift.text.embedders import STATIC_NAME

    if not (model_path / "llmdrift.json").exists():
        raise DeployError(f"no static embedding model at {model_path}: run `llmdrift models build`")
    package = gt.MODELS_DIST
    files: list[tuple[str, bytes]] = [
        (
            f"{package}/__init__.py",
            b'"""The static embedding model llmdrift scores with (package data; built by llmdrift deploy)."""\n',
        )
    ]
    for path in sorted(p for p in model_path.rglob("*") if p.is_file()):
        files.append(
            (f"{package}/models/{STATIC_NAME}/{path.relative_to(model_path).as_posix()}", path.read_bytes())
        )
    info = f"{package}-{version}.dist-info"
    files.append(
        (
            f"{info}/METADATA",
            f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\nRequires-Python: >=3.11\n"
            f"Summary: llmdrift's static embedding model ({STATIC_NAME}) for AWS Glue workers\n".encode(),
        )
    )
    files.append(
        (
            f"{info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: llmdrift deploy\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
    )
    files.append((f"{info}/top_level.txt", f"{package}\n".encode()))
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files)
    files.append((f"{info}/RECORD", (record + f"{info}/RECORD,,\n").encode()))
    target = out / gt.wheel_name(package, version)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files:
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
    return target


def wheelhouse_command(requirements: Path, dest: Path) -> list[str]:
    """pip download of every pinned module as a binary wheel for Glue 5.0 workers (Linux x86_64, CPython
    3.11, glibc up to 2.34), whatever machine deploys."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--no-deps"]
    for platform in GLUE_PLATFORMS:
        command += ["--platform", platform]
    command += ["--python-version", GLUE_PYTHON, "--implementation", "cp"]
    for abi in ("cp311", "abi3", "none"):
        command += ["--abi", abi]
    return [*command, "--requirement", str(requirements), "--dest", str(dest)]


def build_wheelhouse(requirements: Path, wheels: list[Path], out: Path, log: Log) -> Path:
    """A zip of wheels (Glue 5.0 installs it without an index): the pinned modules, our two wheels, and a
    requirements.txt naming them all at its root."""
    dest = out / "wheelhouse"
    dest.mkdir()
    log(
        f"  downloading the wheelhouse of {requirements.name} for Glue (manylinux x86_64, CPython {GLUE_PYTHON})"
    )
    done = subprocess.run(wheelhouse_command(requirements, dest), capture_output=True, text=True, check=False)
    if done.returncode:
        raise DeployError(f"pip download for the wheelhouse failed: {done.stderr.strip()[-2000:]}")
    pins = gt.read_requirements(requirements)
    names = [*pins, *(w.name for w in wheels)]
    target = out / gt.WHEELHOUSE
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:  # wheels are compressed already
        for path in [*sorted(dest.glob("*.whl")), *wheels]:
            archive.write(path, path.name)
        archive.writestr("requirements.txt", "\n".join(names) + "\n")
    return target


def build_artifacts(plan: Plan, root: Path, work: Path, log: Log) -> tuple[str, list[Artifact]]:
    """Build every artefact into ``work``; returns the deployment version and the artefacts."""
    from llmdrift.text.embedders import STATIC_NAME, build_static, model_dir

    template_text = (root / "glue" / gt.TEMPLATE_FILE).read_text(encoding="utf-8")
    if template_text != gt.render(root):
        raise DeployError(
            f"{root / 'glue' / gt.TEMPLATE_FILE} is not what the generator renders from this checkout:"
            " run `python -m llmdrift.glue_template` and review the change"
        )
    version = gt.project_version(root)
    log(f"building the llmdrift {version} wheel from {root}")
    package = build_wheel(root, work)
    models = model_dir() / STATIC_NAME
    if not (models / "llmdrift.json").exists():
        build_static(log=log)
    log(f"packing the static embedding model {models} as a wheel")
    model_wheel = build_models_wheel(models, version, work)
    requirements = root / "glue" / "requirements.txt"
    artifacts = [
        Artifact(gt.SCRIPT, root / "glue" / gt.SCRIPT),
        Artifact(package.name, package),
        Artifact(model_wheel.name, model_wheel),
        Artifact("requirements.txt", requirements),
    ]
    if plan.config_files:
        artifacts += [Artifact(f"config/{name}", path) for name, path in plan.config_files.items()]
    else:
        defaults = work / DEFAULT_CONFIG
        defaults.write_text(
            "# llmdrift aggregate settings: the defaults (deploy --config FILE ships yours)\n"
        )
        artifacts.append(Artifact(f"config/{DEFAULT_CONFIG}", defaults))
    if plan.options.wheelhouse:
        artifacts.append(
            Artifact(gt.WHEELHOUSE, build_wheelhouse(requirements, [package, model_wheel], work, log))
        )
    digest = hashlib.sha256()
    for artifact in artifacts:  # the template is left out: its content follows from these and the version
        digest.update(artifact.name.encode() + b"\0" + artifact.path.read_bytes() + b"\0")
    digest.update(template_text.encode())
    template = work / gt.TEMPLATE_FILE
    template.write_text(template_text, encoding="utf-8")
    artifacts.append(Artifact(gt.TEMPLATE_FILE, template))
    return f"{version}-{digest.hexdigest()[:12]}", artifacts


# -------------------------------------------------------------------------------------- AWS calls


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def upload(s3: Any, plan: Plan, version: str, artifacts: list[Artifact], log: Log) -> dict[str, str]:
    """Every artefact to ``<artifacts>/<version>/<name>``; returns name -> s3:// URI."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    uris = {}
    for artifact in artifacts:
        key = plan.artifacts.key(version, artifact.name)
        try:
            s3.upload_file(str(artifact.path), plan.artifacts.bucket, key)
        except (S3UploadFailedError, ClientError, BotoCoreError, OSError) as exc:
            raise DeployError(
                f"uploading {artifact.path} to s3://{plan.artifacts.bucket}/{key} failed: {exc}"
            ) from None
        uris[artifact.name] = f"s3://{plan.artifacts.bucket}/{key}"
        log(f"  uploaded {uris[artifact.name]} ({artifact.path.stat().st_size / 1024:,.0f} KB)")
    return uris


def template_url(bucket: str, key: str, region: str) -> str:
    """Path-style HTTPS URL of the uploaded template (works for bucket names with dots too)."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://s3.{region}.{suffix}/{bucket}/{key}"


def _stack_status(cfn: Any, stack: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise DeployError(f"describing stack {stack} failed: {exc}") from None
    return str(stacks[0]["StackStatus"]) if stacks else None


def _failure_reasons(cfn: Any, stack: str) -> str:
    try:
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"][:30]
    except Exception:  # the reasons are a courtesy: the failure itself is reported either way
        return ""
    reasons = [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
        for e in events
        if str(e.get("ResourceStatus", "")).endswith("FAILED")
    ]
    return "; ".join(reasons[:5])


def apply_stack(
    cfn: Any, stack: str, url: str, parameters: dict[str, str], version: str, log: Log, delay: int = 10
) -> tuple[str, dict[str, str]]:
    """Create or update the stack and wait for it; returns (created | updated | unchanged, its outputs)."""
    from botocore.exceptions import ClientError, WaiterError

    status = _stack_status(cfn, stack)
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"):
        raise DeployError(
            f"stack {stack} is {status} from a failed first deployment: delete it"
            f" (aws cloudformation delete-stack --stack-name {stack}) and deploy again"
        )
    if status is not None and status.endswith("_IN_PROGRESS"):
        raise DeployError(f"stack {stack} is {status}: wait for it to finish, then deploy again")
    request = {
        "StackName": stack,
        "TemplateURL": url,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Capabilities": ["CAPABILITY_IAM"],
        "Tags": [{"Key": "llmdrift:deployment", "Value": version}],
    }
    action = "created" if status is None else "updated"
    try:
        if status is None:
            log(f"creating stack {stack}")
            cfn.create_stack(**request)
        else:
            log(f"updating stack {stack} ({status})")
            cfn.update_stack(**request)
    except ClientError as exc:
        if "No updates are to be performed" in str(exc):
            action = "unchanged"
        else:
            raise DeployError(
                f"{'creating' if status is None else 'updating'} stack {stack} failed: {exc}"
            ) from None
    if action != "unchanged":
        waiter = cfn.get_waiter("stack_create_complete" if status is None else "stack_update_complete")
        try:
            waiter.wait(StackName=stack, WaiterConfig={"Delay": delay, "MaxAttempts": 360})
        except WaiterError as exc:
            reasons = _failure_reasons(cfn, stack)
            raise DeployError(f"stack {stack} did not finish: {exc}. {reasons}".strip()) from None
    stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return action, outputs


@dataclass
class DeployResult:
    version: str
    action: str  # created | updated | unchanged
    uploaded: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)


def deploy(
    options: DeployOptions,
    log: Log = print,
    clients: Callable[[str, str | None], Any] | None = None,
    root: Path | None = None,
) -> DeployResult:
    """Build, upload, create or update the stack (see the module docstring)."""
    plan = make_plan(options)
    root = root or gt.checkout()
    make_client = clients or _boto3_client
    s3 = make_client("s3", options.region)
    cfn = make_client("cloudformation", options.region)
    with tempfile.TemporaryDirectory(prefix="llmdrift-deploy-") as tmp:
        version, artifacts = build_artifacts(plan, root, Path(tmp), log)
        log(f"uploading deployment {version} to {plan.artifacts.uri}/{version}/")
        uploaded = upload(s3, plan, version, artifacts, log)
    region = options.region or s3.meta.region_name or "us-east-1"
    url = template_url(plan.artifacts.bucket, plan.artifacts.key(version, gt.TEMPLATE_FILE), region)
    action, outputs = apply_stack(cfn, options.stack, url, plan.parameters(version), version, log)
    return DeployResult(version, action, uploaded, outputs)


def _boto3_client(service: str, region: str | None) -> Any:
    import boto3

    return boto3.client(service, region_name=region)


def plan_lines(plan: Plan, root: Path | None = None) -> list[str]:
    """What deploy would do, for --dry-run (no build, no upload, no AWS call)."""
    o = plan.options
    release = gt.project_version(root) if root else "<version>"
    version = f"{release}-<content hash>"
    where = plan.artifacts.key("")
    lines = [
        "llmdrift deploy plan (dry run: nothing is built, uploaded or changed)",
        f"  stack       {o.stack} in {o.region or 'the default AWS region'}: created, or updated if it exists",
        f"  source      {root or 'a checkout (none found here)'}",
        f"  build       {gt.wheel_name('llmdrift', release)} (pip wheel of the checkout)",
        f"              {gt.wheel_name(gt.MODELS_DIST, release)} (the static embedding model)",
    ]
    if o.wheelhouse:
        lines.append(
            f"              {gt.WHEELHOUSE} (pip download of glue/requirements.txt for Glue workers)"
        )
    lines.append(f"  upload to   s3://{plan.artifacts.bucket}/{where}/{version}/")
    for name in plan.artefact_names(release):
        lines.append(f"              {name}")
    lines.append("  parameters")
    for key, value in plan.parameters(version).items():
        lines.append(f"              {key}={value}")
    lines += [
        f"  jobs        {o.stack}-ingest (steps {gt.INGEST_STEPS}), then {o.stack}-analyse"
        f" (steps {gt.ANALYSE_STEPS}) in workflow {o.stack}, {o.schedule} UTC"
        + ("" if o.schedule_enabled else " (schedule off)"),
        f"  role can    read {plan.logs.uri}, read/write {plan.warehouse.uri}, read {plan.artifacts.uri},"
        f" use Glue database {o.database}"
        + (", call Comprehend" if o.comprehend else "")
        + (f", put CloudWatch metrics in {o.cloudwatch_namespace}" if o.cloudwatch else "")
        + (f", invoke the judge ({', '.join(o.judge_model_arns)})" if o.judge_model_arns else ""),
        f"  athena      workgroup {o.stack}, results in {plan.athena_results.uri}/",
        f"  report      {plan.warehouse.uri}/reports/index.html",
    ]
    return lines


# ------------------------------------------------------------------------------------------ command


def deploy_command(
    stack: Annotated[str, typer.Option(help="CloudFormation stack name (also names the jobs and workflow).")],
    logs: Annotated[
        str, typer.Option(help="Bedrock log root above AWSLogs/: s3://bucket or s3://bucket/prefix.")
    ],
    warehouse: Annotated[str, typer.Option(help="Warehouse root: s3://bucket/prefix.")],
    artifacts: Annotated[
        str | None,
        typer.Option(
            help="Where to upload the code (default: s3://<warehouse bucket>/llmdrift-artifacts/<stack>)."
        ),
    ] = None,
    athena_results: Annotated[
        str | None,
        typer.Option(help="Athena query results (default: s3://<warehouse bucket>/athena-results/<stack>)."),
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (default: the AWS configuration's).")] = None,
    database: Annotated[str, typer.Option(help="Glue database of the tables.")] = "llmdrift",
    schedule: Annotated[
        str, typer.Option(help="When the workflow starts: a 6-field Glue cron, UTC.")
    ] = gt.DEFAULT_SCHEDULE,
    paused: Annotated[bool, typer.Option(help="Deploy with the schedule off.")] = False,
    worker_type: Annotated[
        str, typer.Option(help=f"Glue worker type: {', '.join(gt.WORKER_TYPES)}.")
    ] = "G.1X",
    workers: Annotated[int, typer.Option(help="Maximum workers per job (auto-scaling), 2-299.")] = 2,
    analyse_worker_type: Annotated[
        str | None, typer.Option(help="Worker type of the analyse job (default: --worker-type).")
    ] = None,
    analyse_workers: Annotated[
        int | None, typer.Option(help="Maximum workers of the analyse job (default: --workers).")
    ] = None,
    flex: Annotated[bool, typer.Option(help="FLEX execution class: cheaper, may start later.")] = False,
    timeout_minutes: Annotated[int, typer.Option(help="Job timeout, minutes.")] = 120,
    redact_pii: Annotated[bool, typer.Option(help="Store texts with personal data replaced.")] = False,
    comprehend: Annotated[bool, typer.Option(help="Sentiment and toxicity from Amazon Comprehend.")] = False,
    cloudwatch: Annotated[bool, typer.Option(help="Publish daily metrics to CloudWatch.")] = False,
    cloudwatch_namespace: Annotated[str, typer.Option(help="Their CloudWatch namespace.")] = "llmdrift",
    config: Annotated[
        Path | None,
        typer.Option(help="Aggregate settings TOML to ship (prices, alerts); its price files go too."),
    ] = None,
    kms_key_arn: Annotated[str, typer.Option(help="KMS key of SSE-KMS encrypted buckets.")] = "",
    wheelhouse: Annotated[
        bool,
        typer.Option(help="Also upload every Python module as wheels, for Glue jobs without PyPI access."),
    ] = False,
    athena_scan_limit_gb: Annotated[
        int, typer.Option(help="Data one Athena query of the workgroup may scan before it is cancelled, GB.")
    ] = 10,
    judge_model_arn: Annotated[
        list[str] | None,
        typer.Option(
            help="ARN the judge step may invoke (its model or inference profile, and the models the profile"
            " routes to); repeatable. Grants bedrock:InvokeModel on these only; set [judge] in --config too."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Print the plan only: no build, upload or AWS call.")] = False,
) -> None:
    """Deploy to AWS Glue: build the wheels and model, upload them, create or update the stack."""
    options = DeployOptions(
        stack,
        logs,
        warehouse,
        artifacts,
        athena_results,
        region,
        database,
        schedule,
        not paused,
        worker_type,
        workers,
        analyse_worker_type,
        analyse_workers,
        flex,
        timeout_minutes,
        redact_pii,
        comprehend,
        cloudwatch,
        cloudwatch_namespace,
        config,
        kms_key_arn,
        wheelhouse,
        athena_scan_limit_gb,
        tuple(judge_model_arn or ()),
    )
    try:
        plan = make_plan(options)
    except ValueError as exc:
        option, _, message = str(exc).partition(": ")
        raise typer.BadParameter(message, param_hint=option) from None
    if dry_run:
        try:
            root: Path | None = gt.checkout()
        except gt.TemplateError:
            root = None
        for line in plan_lines(plan, root):
            typer.echo(line)
        return
    try:
        result = deploy(options, log=lambda line: typer.echo(line, err=True))
    except (DeployError, gt.TemplateError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"stack {stack} {result.action}: deployment {result.version}", err=True)
    for key, value in result.outputs.items():
        typer.echo(f"  {key:<18} {value}")


def register(app: typer.Typer) -> None:
    """Add ``deploy`` to the ``llmdrift`` command."""
    app.command("deploy")(deploy_command)

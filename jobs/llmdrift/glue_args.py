"""Glue job arguments -> a typed :class:`GlueArgs`, and from it the pipeline's config.

Glue starts a job script with its own arguments (``--JOB_NAME``, ``--JOB_ID``, ``--JOB_RUN_ID``,
``--job-bookmark-option``, ``--TempDir``...) and the job's, all as ``--name value`` pairs in ``sys.argv``.
awsglue's ``getResolvedOptions`` makes every name it is given required and ignores the others (spec §4.2),
so only the required names go through it (on Glue, where awsglue is importable) and the optional ones are
read here. Off Glue an argparse parser with the same rules stands in, which keeps this testable locally.

An empty value counts as not given, so a run can clear a job default (``--start ""``). Names are
snake_case, as Glue's own convention has it (``--text_backend``, not ``--text-backend``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from llmdrift.core.errors import LlmdriftError
from llmdrift.pipeline import OPTION_NAMES, OPTIONS, STEPS, Option, PipelineConfig, load_settings


class GlueArgsError(LlmdriftError, ValueError):
    """A job argument is missing or has a bad value; the message names it."""


GLUE_ONLY = {"JOB_NAME": "set by Glue"}  # Glue's own argument that the job reads (its spelling is Glue's)
GLUE_EMBEDDERS = ("static",)  # minilm needs torch, which the Glue job does not install


class GlueArgs:
    """The job's arguments: the pipeline options (``llmdrift.pipeline.OPTIONS``, with the Glue jobs' defaults)
    plus ``JOB_NAME``. ``args.<option>`` is the given value, else the default."""

    def __init__(self, **values: Any) -> None:
        unknown = sorted(set(values) - set(OPTION_NAMES) - set(GLUE_ONLY))
        if unknown:
            raise GlueArgsError(f"unknown job argument --{unknown[0]}")
        self.values: dict[str, Any] = dict(values)

    def __getattr__(self, name: str) -> Any:
        if name in GLUE_ONLY:
            return self.__dict__["values"].get(name)
        option = BY_NAME.get(name)
        if option is None:
            raise AttributeError(name)
        return self.__dict__["values"].get(name, _glue_default(option))

    def __eq__(self, other: object) -> bool:
        names = (*OPTION_NAMES, *GLUE_ONLY)
        return isinstance(other, GlueArgs) and all(getattr(self, n) == getattr(other, n) for n in names)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.values)))

    def __repr__(self) -> str:
        return f"GlueArgs({', '.join(f'{k}={v!r}' for k, v in sorted(self.values.items()))})"

    def pipeline_config(self) -> PipelineConfig:
        """The pipeline's config, with the settings file fetched; bad values raise GlueArgsError."""
        from llmdrift.core.settings import ConfigError
        from llmdrift.core.storage import StorageError

        values = {o.name: getattr(self, o.name) for o in OPTIONS}
        try:
            settings = load_settings(values["config"])
        except (ConfigError, StorageError, NotImplementedError) as exc:
            raise GlueArgsError(f"--config: {exc}") from None
        try:
            return PipelineConfig.from_options({**values, "config": None}, settings=settings)
        except ValueError as exc:
            raise GlueArgsError(str(exc)) from None


BY_NAME = {o.name: o for o in OPTIONS}


def _glue_default(option: Option) -> Any:
    return option.default if option.glue_default is None else option.glue_default


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print usage and exit 2
        raise GlueArgsError(message)


def _read(argv: Sequence[str], names: Sequence[str], required: bool) -> dict[str, str | None]:
    """``--name value`` (or ``--name=value``) pairs for the given names; every other argument is ignored."""
    parser = _Parser(prog="llmdrift glue job", add_help=False, allow_abbrev=False)
    for name in names:
        help_ = BY_NAME[name].help if name in BY_NAME else GLUE_ONLY.get(name)
        parser.add_argument(f"--{name}", dest=name, required=required, help=help_)
    known, _unknown = parser.parse_known_args(list(argv[1:]))
    return vars(known)


def _resolved(argv: Sequence[str], names: list[str]) -> dict[str, str | None]:
    """Required arguments: through awsglue's getResolvedOptions on Glue, the same rules off it."""
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        return _read(argv, names, required=True)
    try:
        resolved = getResolvedOptions(list(argv), names)
    except Exception as exc:  # awsglue raises its GlueArgumentError, which only exists on Glue
        raise GlueArgsError(str(exc)) from None
    return {name: resolved.get(name) for name in names}


def parse(argv: Sequence[str]) -> GlueArgs:
    """``sys.argv`` as Glue passes it (program name first) -> GlueArgs; GlueArgsError names a bad argument."""
    names = [*OPTION_NAMES, *GLUE_ONLY]
    raw = _read(argv, names, required=False)
    steps = STEPS
    if raw.get("steps"):
        steps = _convert("steps", str(raw["steps"]))
    required = ["warehouse"] + (["logs"] if "ingest" in steps else [])
    raw.update(_resolved(argv, required))
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if value is None or not value.strip():
            if name in required:
                raise GlueArgsError(f"--{name} is required and must not be empty")
            continue
        values[name] = _convert(name, value)
    return GlueArgs(**values)


def _convert(name: str, value: str) -> Any:
    option = BY_NAME.get(name)
    if option is None:
        return value.strip()
    try:
        converted = option.convert(value)
        if name == "embedder" and converted not in GLUE_EMBEDDERS:
            raise ValueError(f"{converted!r} is not one of {', '.join(GLUE_EMBEDDERS)} (minilm needs torch)")
        return converted
    except ValueError as exc:
        raise GlueArgsError(f"--{name}: {exc}") from None


def glue_spark() -> Any:
    """Glue's Spark session with llmdrift's SQL settings (UTC, millisecond timestamps, dynamic overwrite).

    The session is created first with no settings of ours, so Glue's cluster settings (driver host,
    memory) stand; the local defaults of ``get_spark`` then only touch runtime SQL settings.
    """
    from pyspark.sql import SparkSession

    from llmdrift.core.spark import get_spark

    SparkSession.builder.getOrCreate()
    return get_spark(master=None)

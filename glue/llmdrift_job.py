"""AWS Glue entry point: llmdrift's steps (all, or those of --steps) in Glue's Spark session.

Both Glue jobs of glue/llmdrift.yaml run this script; their arguments differ (see llmdrift.glue_args).
"""

import sys
from typing import Any

from llmdrift.glue_args import GlueArgsError, glue_spark, parse
from llmdrift.pipeline import run_pipeline


def main(argv: list[str], spark: Any = None) -> int:
    try:
        config = parse(argv).pipeline_config()
    except GlueArgsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run_pipeline(spark or glue_spark(), config)  # a failing step raises: Glue marks the run FAILED
    return 0


if __name__ == "__main__":
    status = main(sys.argv)
    if status:  # no SystemExit on success: the run simply ends
        sys.exit(status)

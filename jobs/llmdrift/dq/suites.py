"""The expectation suite of every output table, as data.

Each table gets, from its schema file, a uniqueness expectation on its primary key and a not-null expectation
on every non-nullable column (critical); then the rules below that only a person can state: ranges of scores
and rates, non-negative tokens and costs, costs present when priced, p and q values in [0, 1], timestamps
inside their partition, and counts that reconcile (ingest lines, one metrics and one cost row per
invocation). Rules over several tables are expectations on a small derived frame (see :mod:`llmdrift.dq.job`).

Severity: ``critical`` fails the run under the default policy; ``warning`` is recorded and printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmdrift.core import schemas

CRITICAL = "critical"
WARNING = "warning"


@dataclass(frozen=True)
class Check:
    """One expectation: a great-expectations class name, its arguments, and what it means."""

    expectation: str  # e.g. "ExpectColumnValuesToBeBetween"
    kwargs: dict[str, Any]
    description: str
    severity: str = CRITICAL
    derived: str | None = None  # name of a derived frame (see dq.job._derived) instead of the table itself
    when: tuple[str, str] | None = None  # only rows where column == value

    def expectation_kwargs(self) -> dict[str, Any]:
        """The arguments for great-expectations (imported only when validating)."""
        if self.when is None:
            return dict(self.kwargs)
        from great_expectations.expectations.row_conditions import Column

        column, value = self.when
        return {**self.kwargs, "row_condition": Column(column) == value}

    @property
    def columns(self) -> str:
        for key in ("column", "column_list"):
            if key in self.kwargs:
                value = self.kwargs[key]
                return value if isinstance(value, str) else ",".join(value)
        if "column_A" in self.kwargs:
            return f"{self.kwargs['column_A']},{self.kwargs['column_B']}"
        return ""


@dataclass(frozen=True)
class Suite:
    table: str
    checks: tuple[Check, ...] = field(default_factory=tuple)


def between(
    column: str, low: float | None, high: float | None, severity: str = CRITICAL, what: str = ""
) -> Check:
    bounds = {"min_value": low, "max_value": high}
    text = (
        f"{column} within [{low}, {high}]"
        if low is not None and high is not None
        else f"{column} {'>= ' + str(low) if low is not None else '<= ' + str(high)}"
    )
    return Check(
        "ExpectColumnValuesToBeBetween",
        {"column": column, **{k: v for k, v in bounds.items() if v is not None}},
        what or f"{text} (nulls allowed)",
        severity,
    )


def always_true(column: str, description: str, derived: str | None = None, severity: str = CRITICAL) -> Check:
    return Check(
        "ExpectColumnValuesToBeInSet", {"column": column, "value_set": [True]}, description, severity, derived
    )


def _schema_checks(table: str) -> list[Check]:
    schema = schemas.load(table)
    checks: list[Check] = []
    key = list(schema.primary_key)
    if len(key) == 1:
        checks.append(Check("ExpectColumnValuesToBeUnique", {"column": key[0]}, f"{key[0]} is unique"))
    elif key:
        checks.append(
            Check(
                "ExpectCompoundColumnsToBeUnique",
                {"column_list": key, "ignore_row_if": "never"},
                f"({', '.join(key)}) is unique",
            )
        )
    for column in schema.all_columns:
        if not column.nullable:
            checks.append(
                Check(
                    "ExpectColumnValuesToNotBeNull", {"column": column.name}, f"{column.name} is never null"
                )
            )
    return checks


TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
IN_PARTITION = "event_in_partition"

_RULES: dict[str, list[Check]] = {
    "invocations": [
        always_true(IN_PARTITION, "event_ts falls inside its dt/hour partition"),
        *[between(c, 0, None) for c in (*TOKENS, "body_input_tokens", "body_output_tokens")],
        between("latency_ms", 0, None, WARNING),
        Check(
            "ExpectColumnPairValuesToBeEqual",
            {
                "column_A": "output_tokens",
                "column_B": "body_output_tokens",
                "ignore_row_if": "either_value_is_missing",
            },
            "output_tokens agrees with the body's own usage where both exist",
            WARNING,
        ),
    ],
    "invocation_metrics": [
        always_true(IN_PARTITION, "event_ts falls inside its dt/hour partition"),
        between("prompt_sentiment_compound", -1, 1),
        between("completion_sentiment_compound", -1, 1),
        between("prompt_toxicity_score", 0, 1),
        between("completion_toxicity_score", 0, 1),
        between("completion_refusal_score", 0, 1),
        between("completion_similarity_prompt", -1.0001, 1.0001),
        between("prompt_pii_count", 0, None),
        between("completion_pii_count", 0, None),
        between("prompt_text_chars", 0, None),
        between("completion_text_chars", 0, None),
        always_true("scored", "every invocation of the partitions has one metrics row", derived="coverage"),
    ],
    "embeddings": [
        always_true(IN_PARTITION, "event_ts falls inside its dt/hour partition"),
    ],
    "invocation_costs": [
        always_true(IN_PARTITION, "event_ts falls inside its dt/hour partition"),
        *[between(c, 0, None) for c in (*TOKENS, "cost_usd")],
        Check(
            "ExpectColumnValuesToNotBeNull",
            {"column": "cost_usd"},
            "cost_usd is present when pricing_status is priced (null only with a flag)",
            when=("pricing_status", "priced"),
        ),
        always_true("costed", "every invocation of the partitions has one cost row", derived="coverage"),
    ],
    "usage_hourly": [
        between("invocations", 0, None),
        between("error_rate", 0, 1),
        between("refusal_ratio", 0, 1),
        between("cost_usd", 0, None),
        always_true("errors_within_invocations", "errors never exceed invocations", derived="usage_hourly"),
    ],
    "usage_daily": [
        between("invocations", 0, None),
        between("error_rate", 0, 1),
        between("refusal_ratio", 0, 1),
        between("toxic_rate", 0, 1),
        between("pii_rate", 0, 1),
        between("cost_usd", 0, None),
        always_true("errors_within_invocations", "errors never exceed invocations", derived="usage_daily"),
    ],
    "drift_results": [
        between("p_value", 0, 1),
        between("q_value", 0, 1),
        always_true("q_not_below_p", "a BH q value is never below its p value", derived="drift_results"),
    ],
    "drift_clusters": [
        between("reference_share", 0, 1),
        between("current_share", 0, 1),
    ],
    "ingest_runs": [
        always_true(
            "reconciles",
            "lines read = new rows + duplicates + quarantined + blank lines",
            derived="ingest_runs",
        ),
    ],
    "quarantine": [],
    "judgements": [
        between("prompt_toxicity", 0, 1),
        between("completion_toxicity", 0, 1),
        between("helpfulness", 1, 5),
        between("relevance", 1, 5),
        between("input_tokens", 0, None),
        between("output_tokens", 0, None),
        between("cost_usd", 0, None),
        Check(
            "ExpectColumnValuesToBeInSet",
            {"column": "status", "value_set": ["judged", "unparsed", "failed", "skipped"]},
            "status is judged, unparsed, failed or skipped",
        ),
        Check(
            "ExpectColumnValuesToNotBeNull",
            {"column": "reason"},
            "a row that is not judged says why",
            when=("status", "failed"),
        ),
    ],
    "metric_calibration": [
        *[
            between(c, 0, 1)
            for c in (
                "judged_rate",
                "judged_low",
                "judged_high",
                "local_rate",
                "precision",
                "recall",
                "auc",
                "corrected_rate",
                "corrected_low",
                "corrected_high",
            )
        ],
        between("n_judged", 0, None),
    ],
}


def suites() -> dict[str, Suite]:
    """Every table's suite: the schema-derived expectations, then the table's own rules."""
    return {table: Suite(table, tuple(_schema_checks(table) + rules)) for table, rules in _RULES.items()}

"""Prompt templates: the fixed part that the prompts of one template share, and its stable id.

Computed once per invocation by the scorer (``invocation_metrics.template_id``); aggregate and drift read it
from there and fall back to these functions only for invocations not scored yet.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

PROMPT_WORDS = 6
SYSTEM_WORDS = 12
_MASKS = (
    (re.compile(r"```.*?(?:```|$)", re.DOTALL), " <code> "),
    (re.compile(r"https?://\S+"), " <url> "),
    (re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b"), " <email> "),
    (re.compile(r"\"[^\"]{0,200}\"|'[^'\n]{2,200}'|\u201c[^\u201d]{0,200}\u201d"), " <quote> "),
    (re.compile(r"\b\d[\d,.:/-]*\b"), " <num> "),
    (re.compile(r"\b[A-Z0-9]{2,}[-_]?[A-Z0-9]*\d[A-Z0-9]*\b"), " <id> "),
    (re.compile(r"(?<=[a-z,;] )[A-Z][a-z]+(?: [A-Z][a-z]+)*"), " <name> "),
)
_WORD = re.compile(r"<\w+>|[a-z']+")


def skeleton(prompt: str | None, words_kept: int = PROMPT_WORDS) -> str:
    """The opening of a text with its variable parts (numbers, ids, names, quotes, code, URLs, emails)
    masked: the fixed part that the prompts of one template share."""
    if not prompt:
        return ""
    text = prompt[:2000]
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    words: list[str] = []
    for w in _WORD.findall(text.lower()):
        if not (words and w == words[-1] and w.startswith("<")):  # runs of one mask collapse
            words.append(w)
        if len(words) >= words_kept:
            break
    return " ".join(words)


def template_id(system_text: str | None, prompt_text: str | None) -> str:
    """Stable id of a template: the skeletons of the system prompt and the prompt, hashed. The same
    template gets the same id in every run."""
    key = f"{skeleton(system_text, SYSTEM_WORDS)}\x1f{skeleton(prompt_text)}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def fill_template_ids(df: Any, system: str = "system_text", prompt: str = "prompt_text") -> Any:
    """A Spark DataFrame with ``template_id`` filled where it is null, from its texts (the one back-fill, used
    by aggregate and drift for invocations the scorer has not labelled); the UDF runs on those rows only."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    unlabelled = F.col("template_id").isNull()
    computed = F.udf(template_id, T.StringType())(system, prompt)
    return df.filter(~unlabelled).unionByName(df.filter(unlabelled).withColumn("template_id", computed))

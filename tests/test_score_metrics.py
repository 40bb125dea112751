"""Every registered metric on known inputs, the null/empty/huge/binary rules, and the registry itself.

``CASES`` holds one check per metric name; ``test_every_registered_metric_has_a_case`` fails when a metric
is added to the registry without one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llmdrift.score import metrics
from llmdrift.score.heads import text_model
from llmdrift.score.metrics import MAX_TEXT_CHARS, REGISTRY, Family, Metric, score_rows

TOXICITY_THRESHOLD = text_model().heads["toxicity"].threshold
REFUSAL_THRESHOLD = text_model().heads["refusal"].threshold


def score(
    prompt: str | None = "Hello there.",
    completion: str | None = "Hi! How can I help?",
    stop_reason: str | None = "end_turn",
    guardrail: bool | None = False,
    input_tokens: int | None = 5,
    output_tokens: int | None = 7,
) -> dict[str, Any]:
    """Score one invocation; the first (only) value of every output column."""
    rows = {
        "request_id": ["r1"],
        "prompt_text": [prompt],
        "completion_text": [completion],
        "stop_reason": [stop_reason],
        "guardrail_intervened": [guardrail],
        "input_tokens": [input_tokens],
        "output_tokens": [output_tokens],
    }
    return {k: v[0] for k, v in score_rows(rows).items()}


def _both(role: str, **kw: Any) -> dict[str, Any]:
    """Put a text in the given role (the other keeps its default)."""
    text = kw.pop("text")
    return score(**{role: text}, **kw)


def _chars(role: str) -> None:
    assert _both(role, text="héllo wörld ✓")[f"{role}_text_chars"] == 13


def _words(role: str) -> None:
    assert _both(role, text="one two\tthree\n four ")[f"{role}_text_words"] == 4


def _tokens(role: str) -> None:
    out = score(input_tokens=123, output_tokens=45)
    assert out[f"{role}_text_tokens"] == (123 if role == "prompt" else 45)


def _sentiment(role: str) -> None:
    positive = _both(role, text="I love this, it is wonderful and works perfectly!")
    negative = _both(role, text="This is terrible. I hate it and it broke again.")
    neutral = _both(role, text="The meeting is at 3 pm in room 204.")
    assert positive[f"{role}_sentiment_compound"] > 0.5
    assert negative[f"{role}_sentiment_compound"] < -0.5
    assert abs(neutral[f"{role}_sentiment_compound"]) < 0.05


def _toxicity_score(role: str) -> None:
    toxic = _both(role, text="You are a worthless idiot and I will burn your house down.")
    threat = _both(role, text="Watch your back. I know where you work.")
    benign = _both(role, text="Please kill the background job before the deploy; it holds the lock.")
    assert toxic[f"{role}_toxicity_score"] >= TOXICITY_THRESHOLD
    assert threat[f"{role}_toxicity_score"] >= TOXICITY_THRESHOLD
    assert benign[f"{role}_toxicity_score"] < TOXICITY_THRESHOLD
    assert 0.0 <= benign[f"{role}_toxicity_score"] <= 1.0


def _toxicity_flag(role: str) -> None:
    insult = _both(role, text="Shut up, you pathetic loser.")
    negated = _both(role, text="You're not an idiot; everyone misses that step.")
    assert insult[f"{role}_toxicity_flag"] is True
    assert _both(role, text="Thanks, the meeting notes look great.")[f"{role}_toxicity_flag"] is False
    # negation is the model's weak spot (score/README.md, "Quality per source"): masked, it still scores well under the insult
    assert negated[f"{role}_toxicity_score"] < insult[f"{role}_toxicity_score"] - 0.3


def _pii_count(role: str) -> None:
    text = (
        "Mail jane.doe@example.com or call (415) 555-0134; card 4111 1111 1111 1111, not 4111 1111 1111 1112."
    )
    assert _both(role, text=text)[f"{role}_pii_count"] == 3


def _pii_types(role: str) -> None:
    text = "Server 10.0.3.7, key AKIAIOSFODNN7EXAMPLE, SSN 123-45-6789."
    assert _both(role, text=text)[f"{role}_pii_types"] == ["aws_access_key", "ipv4", "us_ssn"]
    assert _both(role, text="No personal data here.")[f"{role}_pii_types"] == []


def _similarity(_: str) -> None:
    prompt = "How do I reverse a list in Python?"
    related = score(prompt=prompt, completion="Use my_list.reverse() or slicing: my_list[::-1] in Python.")
    unrelated = score(prompt=prompt, completion="The Eiffel Tower is in Paris and was finished in 1889.")
    assert related["completion_similarity_prompt"] > unrelated["completion_similarity_prompt"] + 0.1
    assert -1.0 <= unrelated["completion_similarity_prompt"] <= 1.0


def _refusal_score(_: str) -> None:
    refused = score(completion="I'm sorry, but I can't help with creating malware.")
    helped = score(completion="I can't wait to help you plan the trip! Day one: Lisbon.")
    assert refused["completion_refusal_score"] >= REFUSAL_THRESHOLD
    assert helped["completion_refusal_score"] < REFUSAL_THRESHOLD


def _refusal_flag(_: str) -> None:
    assert score(completion="I must decline this request.")["completion_refusal_flag"] is True
    assert (
        score(completion="I'm sorry to hear that. Here is how to reset it.")["completion_refusal_flag"]
        is False
    )
    quoted = 'If the bot says "I cannot help with that", rephrase the question.'
    assert score(completion=quoted)["completion_refusal_flag"] is False


def _refusal_signal(_: str) -> None:
    assert score(completion="I can't assist with that.")["completion_refusal_signal"] == "phrase"
    assert (
        score(completion=None, stop_reason="guardrail_intervened")["completion_refusal_signal"]
        == "stop_reason"
    )
    assert score(completion="Blocked.", guardrail=True)["completion_refusal_signal"] == "guardrail"
    assert score(completion="Paris is the capital of France.")["completion_refusal_signal"] == "none"


Check = Callable[[str], None]
CASES: dict[str, Check] = {
    **{f"{r}.text.chars": _chars for r in metrics.ROLES},
    **{f"{r}.text.words": _words for r in metrics.ROLES},
    **{f"{r}.text.tokens": _tokens for r in metrics.ROLES},
    **{f"{r}.sentiment.compound": _sentiment for r in metrics.ROLES},
    **{f"{r}.toxicity.score": _toxicity_score for r in metrics.ROLES},
    **{f"{r}.toxicity.flag": _toxicity_flag for r in metrics.ROLES},
    **{f"{r}.pii.count": _pii_count for r in metrics.ROLES},
    **{f"{r}.pii.types": _pii_types for r in metrics.ROLES},
    "completion.similarity.prompt": _similarity,
    "completion.refusal.score": _refusal_score,
    "completion.refusal.flag": _refusal_flag,
    "completion.refusal.signal": _refusal_signal,
}


def test_every_registered_metric_has_a_case() -> None:
    registered = {m.name for m in REGISTRY.metrics}
    assert registered == set(CASES), (
        f"metrics without a test: {sorted(registered - set(CASES))}; stale: {sorted(set(CASES) - registered)}"
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_metric_on_known_inputs(name: str) -> None:
    CASES[name](name.split(".")[0])


def test_columns_are_the_snake_case_names_and_all_are_returned() -> None:
    out = score()
    for metric in REGISTRY.metrics:
        assert metric.column == metric.name.replace(".", "_")
        assert metric.column in out


def test_registry_rejects_duplicates_and_bad_names() -> None:
    registry = metrics.Registry()
    fam = Family("x", (Metric("prompt.x.a", "int", "a"),), lambda b: {})
    registry.register(fam)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(fam)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Family("y", (Metric("prompt.x.a", "int", "a"),), lambda b: {}))
    with pytest.raises(ValueError, match="must start with"):
        registry.register(Family("z", (Metric("answer.z.a", "int", "a"),), lambda b: {}))


def test_a_null_in_gives_nulls_out() -> None:
    out = score(prompt=None, completion=None, input_tokens=None, output_tokens=None)
    for role in metrics.ROLES:
        for measure in ("text_chars", "text_words", "sentiment_compound", "toxicity_score", "pii_count"):
            assert out[f"{role}_{measure}"] is None, measure
        assert out[f"{role}_vector"] is None
    assert out["completion_similarity_prompt"] is None
    assert out["completion_refusal_score"] is None
    assert out["quality_flags"] is None


def test_an_empty_text_is_measured_but_not_modelled() -> None:
    out = score(prompt="", completion="   ")
    assert out["prompt_text_chars"] == 0
    assert out["prompt_text_words"] == 0
    assert out["completion_text_chars"] == 3
    assert out["prompt_sentiment_compound"] is None
    assert out["completion_toxicity_score"] is None
    assert out["prompt_vector"] is None
    assert out["completion_similarity_prompt"] is None
    assert out["completion_refusal_score"] is None
    assert out["quality_flags"] is None


def test_a_binary_text_is_flagged_and_gets_null_model_metrics() -> None:
    blob = "".join(chr(i % 32) for i in range(2000))
    out = score(prompt="Summarise this file.", completion=blob)
    assert out["quality_flags"] == ["completion_text:binary"]
    assert out["completion_text_chars"] == 2000
    assert out["completion_sentiment_compound"] is None
    assert out["completion_toxicity_score"] is None
    assert out["completion_vector"] is None
    assert out["prompt_sentiment_compound"] is not None  # the other text is still scored


def test_a_huge_text_is_scored_on_its_opening_and_flagged() -> None:
    huge = "This answer goes on and on. " * (MAX_TEXT_CHARS // 10)
    out = score(prompt=huge)
    assert out["quality_flags"] == ["prompt_text:truncated"]
    assert out["prompt_text_chars"] == len(huge)
    assert out["prompt_text_words"] == len(huge.split())  # counted over the whole text
    assert out["prompt_vector"] is not None
    assert out["prompt_sentiment_compound"] is not None


def test_identical_texts_are_embedded_once_per_batch() -> None:
    calls: list[int] = []

    class Counting:
        model_id = "counting"

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def encode(self, texts: list[str]) -> Any:
            calls.append(len(texts))
            return self.inner.encode(texts)

    real = metrics.encoder("static")
    texts = ["same prompt", "same prompt", "other", None, "same prompt"]
    vectors, hashes = metrics.embed_unique(Counting(real), texts)
    assert calls == [2]
    assert hashes[0] == hashes[1] == hashes[4] != hashes[2]
    assert hashes[3] is None
    assert vectors[3] is None
    assert (vectors[0] == vectors[4]).all()


def test_batch_rows_stay_aligned() -> None:
    rows = {
        "request_id": ["a", "b", "c"],
        "prompt_text": ["I love it!", None, "I hate it."],
        "completion_text": ["I can't help with that.", "Sure, here it is.", None],
        "stop_reason": ["end_turn", "end_turn", "end_turn"],
        "guardrail_intervened": [False, False, None],
        "input_tokens": [1, 2, 3],
        "output_tokens": [4, 5, None],
    }
    out = score_rows(rows)
    assert all(len(v) == 3 for v in out.values())
    assert out["prompt_sentiment_compound"][0] > 0 > out["prompt_sentiment_compound"][2]
    assert out["prompt_sentiment_compound"][1] is None
    assert out["completion_refusal_flag"] == [True, False, None]
    assert out["completion_text_tokens"] == [4, 5, None]


def test_known_vectors_are_used_instead_of_encoding() -> None:
    calls: list[list[str]] = []

    class Recording:
        model_id = "recording"

        def encode(self, texts: list[str]) -> Any:
            calls.append(texts)
            return metrics.encoder("static").encode(texts)

    stored = [0.5] * 256
    vectors, hashes = metrics.embed_unique(
        Recording(), ["seen before", "new text", "seen before"], [stored, None, stored]
    )
    assert calls == [["new text"]]
    assert vectors[0] is not None
    assert vectors[0].tolist() == stored
    assert hashes[0] == hashes[2] == metrics.text_hash("seen before")


def test_the_metrics_schema_file_matches_the_registry() -> None:
    from llmdrift.core import schemas

    columns = {c.name: c for c in schemas.load("invocation_metrics").columns}
    for metric in REGISTRY.metrics:
        assert metric.column in columns, metric.column
        assert columns[metric.column].type == metric.type, metric.column
        assert columns[metric.column].description == metric.description, metric.column


def test_words_count_the_whole_text_and_redaction_reads_all_of_it() -> None:
    from llmdrift.text import pii

    huge = "word " * 5000  # 25,000 characters: scored on its opening, counted in full
    assert score(prompt=huge)["prompt_text_words"] == 5000
    tail = "x" * 100_000 + " mail john@example.com"
    assert pii.redact(tail).endswith("mail [EMAIL]")

"""Tests for llmdrift.generate.text: synthetic prompt/completion text."""

from __future__ import annotations

import random
import re
import statistics
from collections import Counter
from string import Formatter

import pytest

from llmdrift.generate import text as T
from llmdrift.generate.text import (
    DOMAINS,
    NOVEL_DOMAINS,
    REFUSAL_STYLES,
    Conversation,
    Turn,
    apology_lookalike,
    conversation,
    guardrail_message,
    harmful_prompt,
    refusal,
    system_prompt,
    toxic_prompt,
)

ALL_DOMAINS = DOMAINS + NOVEL_DOMAINS
REQUIRED_DOMAINS = {
    "coding",
    "customer_support",
    "medical",
    "finance",
    "travel",
    "hr",
    "legal",
    "creative_writing",
    "education",
    "marketing",
}
TEST_CARDS = ("4111111111111111", "5555555555554444", "4012888888881881")
PROFANITY = (
    "idiot",
    "stupid",
    "damn",
    "crap",
    "hell",
    "shit",
    "garbage",
    "useless",
    "dumb",
    "moron",
    "pathetic",
    "worthless",
)
_STOP_TEXT = """a an the and or but if then so to of in on at for with by from as is are was were be been being it its
    this that these those i me my we our you your he she they them their his her what which who whom how when
    where why can could should would will shall may might do does did done have has had not no yes just about
    into over than too very also any some all more most much many such only own same up down out off again
    once here there both each few other nor now get got make made let want need please thanks thank hi hello
    hey ok so like one two three give tell help quick question keep use using it's i'm don't can't what's
    i've we're i'd you're"""
STOPWORDS = frozenset(_STOP_TEXT.split())
WORD_RE = re.compile(r"[a-z][a-z'-]+")


def _words(text: str) -> int:
    return len(text.split())


def _has_pii_marker(text: str) -> bool:
    digits = text.replace(" ", "").replace("-", "")
    return (
        "@example.com" in text
        or "@example.org" in text
        or "-555-01" in text
        or "(555) 01" in text
        or any(card in digits for card in TEST_CARDS)
    )


@pytest.fixture(scope="module")
def samples() -> dict[str, list[Conversation]]:
    """2,000 single-turn conversations per domain (baseline and novel), seeded per domain."""
    out: dict[str, list[Conversation]] = {}
    for i, domain in enumerate(ALL_DOMAINS):
        rng = random.Random(1000 + i)
        out[domain] = [conversation(rng, domain) for _ in range(2000)]
    return out


# ---------------------------------------------------------------------------------------------------------
# Constants and template integrity
# ---------------------------------------------------------------------------------------------------------


def test_domain_constants() -> None:
    assert len(DOMAINS) >= 10
    assert set(DOMAINS) >= REQUIRED_DOMAINS
    assert len(NOVEL_DOMAINS) >= 2
    assert not set(DOMAINS) & set(NOVEL_DOMAINS)
    assert len(set(ALL_DOMAINS)) == len(ALL_DOMAINS)
    assert REFUSAL_STYLES == ("anthropic", "amazon", "meta", "mistral", "cohere", "ai21", "openai")


def _all_templates(spec: T._Spec) -> list[str]:
    texts: list[str] = []
    for _intent, template, topic, _kind in spec.prompts:
        texts += [template, topic]
    for _intent, template, topic, _kind, _swaps in spec.followups:
        texts += [template, topic]
    for attr in (
        "situations",
        "constraints",
        "facts",
        "steps",
        "fix_steps",
        "bullets",
        "caveats",
        "shorts",
        "headings",
        "systems",
        "harmful",
        "asks",
        "mishaps",
        "safe_help",
        "pii_frames",
    ):
        texts += list(getattr(spec, attr))
    for heads, body, tails in spec.drafts.values():
        texts += [*heads, *body, *tails]
    for block in spec.blocks:
        texts += [*block.intros, *block.lines]
    return texts


@pytest.mark.parametrize("domain", ALL_DOMAINS)
def test_every_template_slot_has_a_vocabulary(domain: str) -> None:
    spec = T._SPECS[domain]
    dynamic = {"topic", "excerpt", "area", "ask", "mishap", "i", "ts"}
    missing = []
    for template in _all_templates(spec):
        for _, field, _, _ in Formatter().parse(template):
            if not field:
                continue
            name = field.partition("@")[0]
            if name in dynamic or name in spec.vocab:
                continue
            if name[-1:] in "23" and name[:-1] in spec.vocab:
                continue
            missing.append((field, template))
    assert not missing
    assert len(spec.prompts) >= 12
    assert len({intent for intent, *_ in spec.prompts}) >= 6  # several different intents
    for frame in spec.pii_frames:
        assert any(slot in frame for slot in ("{email}", "{phone}", "{card}")), frame


def test_code_snippets_format_for_every_language() -> None:
    spec = T._SPECS["coding"]
    for language in spec.vocab["language"]:
        assert language in T._CODE
        vals = T._Vals(random.Random(0), spec)
        vals["language"] = language
        for snippet in T._CODE[language]:
            assert snippet.format_map(vals).strip()


# ---------------------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------------------


def _everything(seed: int) -> list[object]:
    rng = random.Random(seed)
    out: list[object] = []
    for domain in ALL_DOMAINS:
        out.append(conversation(rng, domain, turns=2, with_system=True, length=1.5, pii=True))
        out.append(conversation(rng, domain))
        out.append(system_prompt(rng, domain))
        out.append(harmful_prompt(rng, domain))
        out.append(toxic_prompt(rng, domain))
        out.append(apology_lookalike(rng, domain))
        for style in REFUSAL_STYLES:
            out.append(refusal(rng, style, partial=True, domain=domain))
        out.append(guardrail_message(rng))
    return out


def test_same_seed_same_output() -> None:
    assert _everything(7) == _everything(7)


def test_different_seed_different_output() -> None:
    a, b = _everything(7), _everything(8)
    assert a != b
    convs_a = [x for x in a if isinstance(x, Conversation)]
    convs_b = [x for x in b if isinstance(x, Conversation)]
    same = sum(x.prompt == y.prompt for x, y in zip(convs_a, convs_b, strict=True))
    assert same <= len(convs_a) // 10


# ---------------------------------------------------------------------------------------------------------
# Variety and length distributions
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("domain", ALL_DOMAINS)
def test_prompts_are_at_least_95_percent_distinct(
    samples: dict[str, list[Conversation]], domain: str
) -> None:
    prompts = [c.prompt for c in samples[domain]]
    assert len(set(prompts)) / len(prompts) >= 0.95
    assert all(c.domain == domain and c.history == () and c.system is None for c in samples[domain])


def test_prompt_word_counts(samples: dict[str, list[Conversation]]) -> None:
    counts = [_words(c.prompt) for convs in samples.values() for c in convs]
    assert 22 <= statistics.median(counts) <= 45
    assert min(counts) >= 3
    long_share = sum(n > 300 for n in counts) / len(counts)
    assert 0.04 <= long_share <= 0.12  # ~8% carry a pasted context block
    assert sum(n > 1000 for n in counts) >= 100
    assert max(counts) <= 3600


def test_completion_word_counts(samples: dict[str, list[Conversation]]) -> None:
    counts = [_words(c.completion) for convs in samples.values() for c in convs]
    assert 120 <= statistics.median(counts) <= 185
    short_share = sum(n < 20 for n in counts) / len(counts)
    assert 0.025 <= short_share <= 0.09
    assert sum(n > 1000 for n in counts) >= 20
    assert max(counts) <= 3200
    for domain, convs in samples.items():
        per_domain = [_words(c.completion) for c in convs]
        assert 100 <= statistics.median(per_domain) <= 210, domain


def test_length_scales_completions() -> None:
    def median_words(length: float) -> float:
        rng = random.Random(5)
        return statistics.median(
            _words(conversation(rng, DOMAINS[i % len(DOMAINS)], length=length).completion)
            for i in range(1500)
        )

    base = median_words(1.0)
    assert 1.6 <= median_words(2.0) / base <= 2.5
    assert 0.35 <= median_words(0.5) / base <= 0.7


def test_coding_completions_contain_code_blocks(samples: dict[str, list[Conversation]]) -> None:
    with_code = sum("```" in c.completion for c in samples["coding"])
    assert with_code >= 200


# ---------------------------------------------------------------------------------------------------------
# History, system prompts, PII
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("turns", [0, 1, 2, 4])
def test_history_alternates_and_has_two_turns_per_exchange(turns: int) -> None:
    rng = random.Random(turns)
    for domain in ALL_DOMAINS:
        for _ in range(5):
            conv = conversation(rng, domain, turns=turns, with_system=True)
            assert len(conv.history) == 2 * turns
            for k, turn in enumerate(conv.history):
                assert isinstance(turn, Turn)
                assert turn.role == ("user" if k % 2 == 0 else "assistant")
                assert turn.text.strip()
            assert conv.prompt.strip()
            assert conv.completion.strip()
            assert conv.system is not None
            assert conv.system.strip()
            if turns:
                assert conv.prompt != conv.history[0].text


def test_system_prompts_vary_by_domain() -> None:
    rng = random.Random(3)
    for domain in ALL_DOMAINS:
        prompts = {system_prompt(rng, domain) for _ in range(30)}
        assert len(prompts) >= 5
        assert all(_words(p) >= 8 for p in prompts)


@pytest.mark.parametrize("turns", [0, 2])
def test_pii_prompts_contain_fake_personal_data(turns: int) -> None:
    rng = random.Random(11 + turns)
    for domain in ALL_DOMAINS:
        for _ in range(60):
            conv = conversation(rng, domain, turns=turns, pii=True)
            assert _has_pii_marker(conv.prompt), conv.prompt


def test_no_pii_unless_asked(samples: dict[str, list[Conversation]]) -> None:
    for convs in samples.values():
        for conv in convs[:400]:
            assert not _has_pii_marker(conv.prompt), conv.prompt
            assert not _has_pii_marker(conv.completion)


# ---------------------------------------------------------------------------------------------------------
# Refusals, harmful/toxic prompts, look-alikes, guardrail messages
# ---------------------------------------------------------------------------------------------------------


def test_every_style_and_partial_flag_gives_distinct_text() -> None:
    texts = []
    for style in REFUSAL_STYLES:
        for partial in (False, True):
            texts.append(refusal(random.Random(1), style, partial=partial, domain="finance"))
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize("style", REFUSAL_STYLES)
def test_partial_refusals_are_longer_than_full_ones(style: str) -> None:
    rng = random.Random(2)
    full = [refusal(rng, style, partial=False, domain=d) for d in ALL_DOMAINS for _ in range(3)]
    partial = [refusal(rng, style, partial=True, domain=d) for d in ALL_DOMAINS for _ in range(3)]
    assert min(_words(p) for p in partial) > max(_words(f) for f in full)
    assert len(set(full)) >= 4  # several variants per style
    assert all(_words(p) >= 40 for p in partial)


def test_partial_refusal_help_is_about_the_domain() -> None:
    text = refusal(random.Random(4), "anthropic", partial=True, domain="gardening")
    assert any(tip in text for tip in T._SPECS["gardening"].safe_help)


def test_harmful_prompts_vary() -> None:
    rng = random.Random(5)
    for domain in ALL_DOMAINS:
        prompts = {harmful_prompt(rng, domain) for _ in range(40)}
        assert len(prompts) >= 8
        assert all(_words(p) >= 6 for p in prompts)


def test_toxic_prompts_contain_profanity_or_insults() -> None:
    rng = random.Random(6)
    seen = set()
    for domain in ALL_DOMAINS:
        for _ in range(40):
            text = toxic_prompt(rng, domain)
            seen.add(text)
            lower = text.lower()
            assert any(word in lower for word in PROFANITY), text
    assert len(seen) >= 300


def test_apology_lookalikes_start_like_refusals_but_help() -> None:
    starts = (
        "I'm sorry",
        "I'm so sorry",
        "Sorry",
        "I can't",
        "Unfortunately",
        "The bot replied",
        "You mentioned",
        "I apologize",
        "I'm afraid",
        "No, I can't",
        "Quick note",
    )
    rng = random.Random(8)
    for domain in ALL_DOMAINS:
        for _ in range(20):
            text = apology_lookalike(rng, domain)
            assert text.startswith(starts), text[:80]
            assert _words(text) >= 40


def test_guardrail_messages() -> None:
    rng = random.Random(9)
    messages = Counter(guardrail_message(rng) for _ in range(300))
    assert "Sorry, the model cannot answer this question." in messages
    assert len(messages) >= 3


# ---------------------------------------------------------------------------------------------------------
# Argument validation
# ---------------------------------------------------------------------------------------------------------


def test_unknown_domain_raises_value_error_naming_it() -> None:
    rng = random.Random(0)
    calls = (
        lambda: conversation(rng, "astrology"),
        lambda: system_prompt(rng, "astrology"),
        lambda: refusal(rng, "openai", partial=False, domain="astrology"),
        lambda: harmful_prompt(rng, "astrology"),
        lambda: toxic_prompt(rng, "astrology"),
        lambda: apology_lookalike(rng, "astrology"),
    )
    for call in calls:
        with pytest.raises(ValueError, match="astrology"):
            call()


def test_unknown_style_raises_value_error() -> None:
    with pytest.raises(ValueError, match="gpt5"):
        refusal(random.Random(0), "gpt5", partial=True, domain="coding")


@pytest.mark.parametrize("turns", [-1, 1.5, True])
def test_bad_turns_raise(turns: object) -> None:
    with pytest.raises(ValueError, match="turns"):
        conversation(random.Random(0), "coding", turns=turns)  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [0, -1.0, float("nan"), float("inf")])
def test_bad_length_raises(length: float) -> None:
    with pytest.raises(ValueError, match="length"):
        conversation(random.Random(0), "coding", length=length)


# ---------------------------------------------------------------------------------------------------------
# Novel domains are a real topic shift
# ---------------------------------------------------------------------------------------------------------


def _top_content_words(prompts: list[str], k: int = 50) -> set[str]:
    """Most common content words by document frequency (a pasted block counts once)."""
    counts: Counter[str] = Counter()
    for prompt in prompts:
        counts.update({w for w in WORD_RE.findall(prompt.lower()) if len(w) > 2 and w not in STOPWORDS})
    return {w for w, _ in counts.most_common(k)}


def test_novel_domain_vocabulary_differs_from_baseline(samples: dict[str, list[Conversation]]) -> None:
    baseline = _top_content_words([c.prompt for d in DOMAINS for c in samples[d][:300]])
    for domain in NOVEL_DOMAINS:
        novel = _top_content_words([c.prompt for c in samples[domain][:1000]])
        jaccard = len(novel & baseline) / len(novel | baseline)
        assert jaccard < 0.2, (domain, sorted(novel & baseline))

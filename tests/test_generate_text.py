"""Tests for llmdrift.generate.text: synthetic prompt/completion text."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import random
import re
import statistics
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from string import Formatter
from typing import Any

import pytest

from llmdrift.core.storage import LocalStorage
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
from llmdrift.generate.traffic import Change, Scenario
from llmdrift.generate.writer import write_logs

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


# ---------------------------------------------------------------------------------------------------------
# The data files (llmdrift/generate/data) and the output they make, pinned
# ---------------------------------------------------------------------------------------------------------

DATA = Path(T.__file__).parent / "data"
# Entries whose blanks and surrounding spaces are the point ("" = no greeting, " Thanks!" is appended).
SPACED = {("common.toml", "prompts", "greetings"), ("common.toml", "prompts", "terse_prefixes")}
SPACED |= {("common.toml", "prompts", "thanks")}


def _parsed(name: str) -> dict[str, Any]:
    return tomllib.loads((DATA / name).read_text(encoding="utf-8"))


def _array_strings(value: object, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    """(path, string) for every string inside an array, however deep."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _array_strings(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                yield path, item
            else:
                yield from _array_strings(item, path)


def test_data_files_are_one_per_domain_plus_shared_ones() -> None:
    files = {p.relative_to(DATA).as_posix() for p in DATA.rglob("*") if p.is_file()}
    assert files == {"common.toml", "safety.toml", "code.toml", *(f"domains/{d}.toml" for d in ALL_DOMAINS)}
    for name in sorted(files):
        text = (DATA / name).read_text(encoding="utf-8")
        assert _parsed(name), name
        assert text.endswith("\n"), name
        # An editor that strips trailing spaces must not change the output (code snippets keep them).
        assert not [k for k, line in enumerate(text.splitlines(), 1) if line != line.rstrip()], name


def test_data_entries_are_non_blank_and_trimmed() -> None:
    for file in sorted(p.relative_to(DATA).as_posix() for p in DATA.rglob("*.toml")):
        for path, entry in _array_strings(_parsed(file), (file,)):
            if path[:3] in SPACED:
                continue
            assert entry.strip(), (path, entry)
            if file != "code.toml":  # snippets start and end with a newline
                assert entry == entry.strip(), (path, entry)


def test_loaded_data_has_what_the_generator_needs() -> None:
    assert set(T._REFUSALS) == set(T._PARTIAL_LEADS) == set(T._PARTIAL_TAILS) == set(REFUSAL_STYLES)
    assert set(T._OPENERS) == set(T._INTENTS)
    assert all(T._GUARDRAIL_MESSAGES)
    assert all(len(pool) >= 3 for pool in (T._TOXIC_FRAMES, T._HARMFUL_PRESSURE, T._LOOKALIKE_FRAMES))
    assert all(text and section in T._SECTIONS for text, section in T._LOOKALIKE_FRAMES)
    assert set(T._CODE) == set(T._FENCE) == set(T._SPECS["coding"].vocab["language"])
    for domain in ALL_DOMAINS:
        spec = T._SPECS[domain]
        assert spec.name == domain
        assert spec.area
        assert len(spec.safe_help) >= 3  # a partial refusal offers three to five tips
        assert len(spec.situations) >= 2
        pools = ("systems", "harmful", "asks", "mishaps", "facts", "steps", "fix_steps", "bullets", "shorts")
        assert all(getattr(spec, pool) for pool in pools)
        assert all(slot in spec.vocab for slot in spec.anchors)
        assert all(k in spec.vocab and parent in spec.vocab for k, (parent, _) in spec.linked.items())
        assert all(body for _heads, body, _tails in spec.drafts.values())
        assert {kind for *_, kind in spec.prompts} <= set(spec.drafts)
        for block in spec.blocks:
            assert block.intros
            assert (block.kind == "code") != bool(block.lines)
            assert all(slot in spec.vocab for slot in block.fixed)


def _coding() -> dict[str, Any]:
    return copy.deepcopy(_parsed("domains/coding.toml"))


def _set(data: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    *parents, last = path.split(".")
    table = data
    for key in parents:
        table = table[key]
    if value is None:
        del table[last]
    else:
        table[last] = value
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: _set(d, "vocabs", {}), "unknown key"),
        (lambda d: _set(d, "templates.fact", "A fact."), "unknown key"),
        (lambda d: _set(d, "templates.facts", None), "facts"),
        (lambda d: _set(d, "templates.shorts", "\n\n"), "shorts has no templates"),
        (lambda d: _set(d, "vocab.language", ["Python", " "]), "non-blank"),
        (lambda d: _set(d, "vocab.language", "Python | Go"), "array"),
        (lambda d: _set(d, "templates.prompts", "ponder | Think about {concept}. | {concept}"), "malformed"),
        (lambda d: _set(d, "templates.prompts", "draft/memo | Write a memo. | a memo"), "unknown draft kind"),
        (lambda d: _set(d, "linked.error.parent", "lang"), "parent"),
        (lambda d: _set(d, "blocks", []), "blocks"),
        (lambda d: d["blocks"][1].update(ts_step=[20, 0]) or d, "ts_step"),
        (lambda d: d["blocks"][0].update(lines="{ts} x") or d, "kind"),
        (lambda d: _set(d, "caveat_p", 1.5), "caveat_p"),
    ],
)
def test_a_malformed_domain_file_is_refused_with_its_place(
    change: Callable[[dict[str, Any]], dict[str, Any]], message: str
) -> None:
    T._spec("coding", _coding())  # the file as it is loads
    with pytest.raises(ValueError, match=message) as raised:
        T._spec("coding", change(_coding()))
    assert "domains/coding.toml" in str(raised.value)


# The generator's output is pinned: any change to the data files (or to the code) that alters what is
# generated for a fixed seed fails here. If the change is deliberate, update the hashes below in the same
# commit, and say so in its message; the demo's figures and the calibration studies depend on these bytes.
# PINNED_DATA_SHA256 covers every entry of the data files (a sample can miss an edited entry); comments and
# layout are free to change.
PINNED_DATA_SHA256 = "348cb9b26d53236333bf4aa661c17bfb07549fc6130c8cb329af7c741b955323"
PINNED_TEXT_SHA256 = "a8c890d27207c912d9325ad42cd5da5a09484f2f61bead3786792aa188a981e3"
PINNED_LOGS_SHA256 = "d0c8ba3ab04ce82c32a6a014dc7dd5b24ae4df39afeb7daa14fc6966f06bbfb2"
PINNED_SCENARIO = Scenario(  # about 300 records, with every kind of outcome (topic shift, refusals, toxicity)
    seed=11,
    start=date(2026, 11, 2),
    days=1,
    per_day=300,
    changes=(Change("topic_shift", 0.3), Change("refusal_rise", 0.12), Change("toxicity_rise", 0.08)),
    change_from=date(2026, 11, 2),
    malformed_rate=0.01,
    duplicate_rate=0.02,
    offload_rate=0.02,
)


def test_data_content_is_pinned() -> None:
    files = sorted(p.relative_to(DATA).as_posix() for p in DATA.rglob("*.toml"))
    content = json.dumps({name: _parsed(name) for name in files}, ensure_ascii=False)  # order kept
    assert hashlib.sha256(content.encode()).hexdigest() == PINNED_DATA_SHA256


def test_text_output_is_pinned() -> None:
    rng = random.Random(2026)
    out: list[object] = []
    for domain in ALL_DOMAINS:
        out.append(conversation(rng, domain, turns=2, with_system=True, length=1.5, pii=True))
        out += [conversation(rng, domain) for _ in range(20)]
        out += [system_prompt(rng, domain), harmful_prompt(rng, domain), toxic_prompt(rng, domain)]
        out.append(apology_lookalike(rng, domain))
        out += [refusal(rng, s, partial=p, domain=domain) for s in REFUSAL_STYLES for p in (False, True)]
        out.append(guardrail_message(rng))
    assert hashlib.sha256("\n".join(map(repr, out)).encode()).hexdigest() == PINNED_TEXT_SHA256


def test_generated_logs_are_pinned(tmp_path: Path) -> None:
    stats = write_logs(PINNED_SCENARIO, LocalStorage(), str(tmp_path))
    assert stats.records == 307
    digest = hashlib.sha256()
    for path in sorted(p for p in tmp_path.rglob("*") if p.is_file()):
        data = path.read_bytes()
        digest.update(path.relative_to(tmp_path).as_posix().encode() + b"\n")
        digest.update(gzip.decompress(data) if path.name.endswith(".gz") else data)  # no gzip header
    assert digest.hexdigest() == PINNED_LOGS_SHA256

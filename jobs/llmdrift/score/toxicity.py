"""Toxicity rule signal: threats, incitement, dehumanisation and second-person insults.

``pattern_score``: threats ("I'll burn your house down", "I know where you work"), incitement to self-harm
("go kill yourself"), dehumanising statements about a group ("... are vermin") and second-person insults ->
0.9. A match inside quotation marks (someone reporting abuse) or after a negation ("you're not an idiot") does
not count, and is reported as ``negated``.

These rarely use profanity, so a lexical model misses them. The patterns are one feature block
(``toxicity_rules``, with alt-profanity-check's probability) of the learned toxicity head
(``llmdrift.score.heads``), not a score on their own.
"""

from __future__ import annotations

import re

from llmdrift.score.spans import QUOTED, replace_spans

PATTERN_SCORE = 0.9
SCAN_CHARS = 2500
CURLY_APOSTROPHE = "\u2019"

_YOU = r"(?:you|your|ya|u)"
_TARGET = r"(?:you|your|ya|u|him|her|them|every one of you|all of you|each of you|somebody|someone)"
_GROUP_SLUR = r"(?:vermin|animals|rats|parasites|cockroaches|subhuman|filth|savages|terrorists)"
_INSULT = (
    r"(?:idiot|moron|loser|parasite|weasel|snake|numpty|freak|scum|pig|clown|imbecile|halfwit|"
    r"waste of (?:space|oxygen|air)|good-for-nothing)"
)
# Threats, incitement, doxxing and dehumanisation: each names its target, so ordinary sentences with the same
# verbs ("I'll break this down", "we will kill the process", "results are garbage") do not match.
_SEVERE = re.compile(
    "|".join(
        [
            r"\b(?:i|we)(?:'ll| will|'m going to| am going to|'re going to| are going to| gonna| swear i'll)"
            rf"(?: \w+)? (?:hurt|kill|shoot|stab|smash|burn|hunt|beat|strangle|choke|break|destroy|murder|end) {_TARGET}\b",
            rf"\b(?:i|we)(?:'ll| will|'m going to| am going to|'re going to| are going to| gonna) (?:find {_YOU}|"
            rf"find where {_YOU}|come for {_YOU}|make {_YOU} (?:pay|suffer)|show up at {_YOU})\b",
            rf"\b(?:i know|we know|i'll find out|i will find out|once i find out) where {_YOU} (?:live|work|sleep)",
            r"\b(?:watch your back|sleep with one eye open|won't be safe|end up in a ditch|coming for you|"
            r"you're dead|you'll regret|you will regret|bringing a (?:knife|gun)|run you over)\b",
            r"\b(?:kill|off|hang|end) (?:yo)?urself\b|\bkys\b|\bjump off a (?:bridge|cliff|building)\b|"
            r"\bdo (?:us|the world|everyone) (?:all )?a favou?r and\b|\bnobody would miss you\b",
            rf"\b(?:posting|post|share|sharing|leak|leaking) {_YOU} (?:address|photos|number|home)\b",
            r"\b(?:people|folks|immigrants|refugees|foreigners|women|men|they|them)"
            rf" (?:are|is) (?:all |just |nothing but |basically )?(?:{_GROUP_SLUR}|a plague|a burden|trash|garbage)\b",
            rf"\b(?-i:[A-Z])\w+s are (?:all |just |nothing but )?{_GROUP_SLUR}\b",
            r"\bbreed like (?:rats|rabbits|animals)\b",
        ]
    ),
    re.IGNORECASE,
)
# Second-person insults: "you're a worthless idiot", "you absolute numpty", "shut up, you ...".
_INSULTING = re.compile(
    "|".join(
        [
            rf"\byou(?:'re| are)\b(?: \w+){{0,4}}? (?:{_INSULT}|trash|garbage|worthless|pathetic|disgusting|stupid|"
            r"dumb|useless)\b",
            rf"\byou(?: [\w-]+){{0,2}} {_INSULT}\b",
            r"\b(?:shut up|stop talking|get lost|piss off)\b[^.!?\n]{0,30}\byou\b",
        ]
    ),
    re.IGNORECASE,
)
_NEGATION_BEFORE = re.compile(
    r"\b(?:not|never|no one|nobody|isn't|aren't|wasn't|don't|doesn't|didn't|wouldn't)\b[^.!?\n]{0,30}$",
    re.IGNORECASE,
)
_NEGATION_INSIDE = re.compile(r"\b(?:not|never)\b|n't\b", re.IGNORECASE)
_SENTENCE_START = re.compile(r"[.!?\n]")

# "I don't hate them", "we would never hurt anyone": a negated verb of hostility states its absence
_NEGATED_HOSTILITY = re.compile(
    r"\b(?:don't|do not|doesn't|does not|didn't|did not|never|wouldn't|would never|won't|will never|can't|"
    r"cannot|not)\s+(?:\w+\s+)?(?:hate|despise|loathe|hurt|harm|attack|kill|insult)\w*\b",
    re.IGNORECASE,
)


def _matches(scan: str) -> list[tuple[re.Match[str], str]]:
    """Every pattern match with its status: ``quoted`` (inside quotation marks: someone reporting or
    discussing it), ``negated`` ("you're not an idiot") or ``hit``."""
    out: list[tuple[re.Match[str], str]] = []
    for pattern, check_inside in ((_SEVERE, False), (_INSULTING, True)):
        for m in pattern.finditer(scan):
            before = scan[: m.start()]
            if before.count('"') % 2 == 1 or before.count("\u201c") > before.count("\u201d"):
                out.append((m, "quoted"))
                continue
            sentence_start = max((e.end() for e in _SENTENCE_START.finditer(scan, 0, m.start())), default=0)
            if _NEGATION_BEFORE.search(scan[sentence_start : m.start()]) or (
                check_inside and _NEGATION_INSIDE.search(m.group(0))
            ):
                out.append((m, "negated"))
            else:
                out.append((m, "hit"))
    return out


def scan(text: str) -> tuple[float, bool, str]:
    """One pass of the patterns over a text: (``PATTERN_SCORE`` or 0, negated, masked text); see
    :func:`pattern_score` and :func:`masked`, which are this one scan's parts."""
    norm = text.replace(CURLY_APOSTROPHE, "'")
    matches = _matches(norm[:SCAN_CHARS])
    statuses = {status for _, status in matches}
    score = PATTERN_SCORE if "hit" in statuses else 0.0
    negated = "hit" not in statuses and "negated" in statuses
    if not any(c in norm for c in '"\u201c') and not _NEGATION_INSIDE.search(norm):
        return score, negated, text  # nothing to mask (most texts): the same string, so its vector is reused
    if len(norm) > SCAN_CHARS:
        matches = _matches(norm)
    spans = [(m.start(), m.end(), " negatedinsult ") for m, status in matches if status == "negated"]
    spans += [(m.start(), m.end(), " negatedhostility ") for m in _NEGATED_HOSTILITY.finditer(norm)]
    spans += [(m.start(), m.end(), " quotedtext ") for m in QUOTED.finditer(norm)]
    return score, negated, replace_spans(norm, spans) if spans else text


def pattern_score(text: str | None) -> tuple[float, bool]:
    """(``PATTERN_SCORE`` or 0, negated): a threat, incitement, dehumanisation or insult outside quotes and
    negation scores; ``negated`` is true when the only matches were negated ("you're not an idiot")."""
    if not text:
        return 0.0, False
    score, negated, _ = scan(text)
    return score, negated


def masked(text: str) -> str:
    """The text as the toxicity head reads its words: quotations, negated insults and negated hostility
    replaced by placeholder words, so that reporting or denying abuse does not read as abuse."""
    return scan(text)[2]

"""Text content for synthetic Amazon Bedrock invocation logs.

This module writes the *words* of synthetic LLM traffic; it knows nothing about request bodies, model ids or
timestamps. It produces:

* ``conversation``: a user prompt and an assistant completion in one of the topic ``DOMAINS`` (or one of the
  ``NOVEL_DOMAINS`` used to inject a topic shift), optionally with a system prompt, earlier user/assistant
  turns and fake personal data in the prompt. Prompts are built from many intent templates per domain (explain,
  draft, fix, compare, plan, summarize, rewrite, ...) with slots filled from domain vocabularies, in terse,
  polite or detailed phrasing; about 8% carry a pasted context block (a code file, a log excerpt, a patient
  note, a contract clause list, an itinerary, ...) of 300 to 3,000 words. Completion word counts are
  lognormal-ish (median about 150 words at ``length=1.0``, about 5% under 20 words, a tail to about 2,500) and
  are assembled from domain sentences in paragraphs, steps, bullet lists, headings and code blocks that reuse
  the prompt's slot values.
* ``system_prompt``, ``refusal`` (full or partial, phrased the way each provider family's models tend to),
  ``harmful_prompt``, ``toxic_prompt``, ``apology_lookalike`` (helpful answers that start like a refusal, for
  testing refusal detectors) and ``guardrail_message``.

The vocabularies and templates are data, in TOML files of the ``data/`` folder next to this module:
``common.toml`` (slots and phrasing shared by all domains), ``safety.toml`` (refusals by provider family,
guardrail messages, harmful and toxic prompt frames), ``code.toml`` (the coding domain's snippets) and
``domains/<domain>.toml`` (one per domain). They are read and checked once, at import; this module keeps the
logic (how templates are picked, filled and assembled) and the few values that are formulas (fake emails,
phone numbers, SSN-like ids, IPs, request ids). ``README.md`` in this package describes the file format.

All personal data is fake: example.com/example.org emails, 555-01xx phone numbers, test card numbers,
invalid-range SSN-like ids, documentation IP ranges, the AWS documentation example access key and invented
names. Output depends only on the state of the ``random.Random`` passed in, on the arguments and on the
data files.
"""

from __future__ import annotations

import math
import random
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from importlib.resources.abc import Traversable
from string import Formatter
from typing import Any

__all__ = [
    "DOMAINS",
    "NOVEL_DOMAINS",
    "REFUSAL_STYLES",
    "Conversation",
    "Turn",
    "apology_lookalike",
    "conversation",
    "guardrail_message",
    "harmful_prompt",
    "refusal",
    "system_prompt",
    "toxic_prompt",
]

DOMAINS: tuple[str, ...] = (
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
)
NOVEL_DOMAINS: tuple[str, ...] = ("crypto_trading", "gardening")
REFUSAL_STYLES: tuple[str, ...] = ("anthropic", "amazon", "meta", "mistral", "cohere", "ai21", "openai")


@dataclass(frozen=True)
class Turn:
    """One message of a conversation."""

    role: str  # "user" or "assistant"
    text: str


@dataclass(frozen=True)
class Conversation:
    """A generated exchange: optional system prompt, earlier turns, the latest prompt and its answer."""

    domain: str
    system: str | None
    history: tuple[Turn, ...]
    prompt: str
    completion: str


# ---------------------------------------------------------------------------------------------------------
# Reading the data files (import time only)
# ---------------------------------------------------------------------------------------------------------

_Entry = tuple[str, str, str, str]  # (intent, template, topic template, draft kind or "")
_Followup = tuple[str, str, str, str, tuple[str, ...]]  # _Entry + slots switched to their "2" value
_DraftGroup = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # (heads, body, tails)

_INTENTS = (
    "explain",
    "howto",
    "fix",
    "draft",
    "code",
    "list",
    "compare",
    "plan",
    "summarize",
    "rewrite",
    "review",
)
_FOLLOWUP_INTENTS = (*_INTENTS, "shorten", "expand", "example")
_SECTIONS = ("para", "bullets", "steps", "fixsteps", "plan", "factlist", "code", "draft", "compare")

_DATA: Traversable = resources.files("llmdrift.generate") / "data"


def _load(name: str) -> dict[str, Any]:
    """Parse ``data/<name>`` (a TOML file; ``name`` may have a folder, e.g. ``domains/coding.toml``)."""
    path = _DATA
    for part in name.split("/"):
        path = path / part
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _known(data: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    """Reject keys the code does not read (a misspelt key would otherwise be ignored silently)."""
    unknown = [key for key in data if key not in keys]
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; expected some of: {', '.join(keys)}")


def _table(data: dict[str, Any], key: str, where: str, *, required: bool = True) -> dict[str, Any]:
    value = data.get(key, None if required else {})
    if not isinstance(value, dict):
        raise ValueError(f"{where}: [{key}] must be a table")
    return value


def _text(data: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{where}: {key} must be a string")
    return value


def _strings(data: dict[str, Any], key: str, where: str, *, blanks: bool = False) -> tuple[str, ...]:
    """A non-empty array of strings; ``blanks`` allows empty strings (weights for "nothing added")."""
    value = data.get(key)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(x, str) and (blanks or x.strip()) for x in value)
    ):
        kind = "strings" if blanks else "non-blank strings"
        raise ValueError(f"{where}: {key} must be a non-empty array of {kind}")
    return tuple(value)


def _pools(
    data: dict[str, Any], key: str, where: str, *, required: bool = True
) -> dict[str, tuple[str, ...]]:
    """A table of vocabularies: slot (or value) -> array of strings."""
    table = _table(data, key, where, required=required)
    return {name: _strings(table, name, f"{where} [{key}]") for name in table}


def _records(data: dict[str, Any], key: str, where: str, fields: dict[str, type]) -> list[dict[str, Any]]:
    """A non-empty array of inline tables with exactly ``fields`` (name -> type)."""
    value = data.get(key)
    if (
        not isinstance(value, list)
        or not value
        or not all(
            isinstance(x, dict)
            and set(x) == set(fields)
            and all(isinstance(x[f], t) for f, t in fields.items())
            for x in value
        )
    ):
        shape = ", ".join(f"{f} = <{t.__name__}>" for f, t in fields.items())
        raise ValueError(f"{where}: {key} must be a non-empty array of {{ {shape} }}")
    return value


def _template_table(
    data: dict[str, Any], key: str, keys: tuple[str, ...], where: str
) -> dict[str, tuple[str, ...]]:
    """A table with exactly ``keys``, each a multi-line string of templates."""
    table = _table(data, key, where)
    missing = [k for k in keys if k not in table]
    if missing:
        raise ValueError(f"{where}: [{key}] needs {', '.join(missing)}")
    _known(table, keys, f"{where} [{key}]")
    return {k: _templates(table, k, f"{where} [{key}]") for k in table}


_ARTICLE_RE = re.compile(r"\b([Aa])n? \{(\w+)\}")


def _lines(text: str) -> tuple[str, ...]:
    """One template per non-empty line; ``a {slot}`` becomes ``{slot@a}`` so the article fits the value."""
    return tuple(
        _ARTICLE_RE.sub(r"{\2@\1}", line.strip()) for line in text.strip().splitlines() if line.strip()
    )


def _templates(data: dict[str, Any], key: str, where: str, *, required: bool = True) -> tuple[str, ...]:
    """A multi-line string of templates, one per line (see ``_lines``)."""
    lines = _lines(_text(data, key, where, None if required else ""))
    if required and not lines:
        raise ValueError(f"{where}: {key} has no templates")
    return lines


def _with_article(value: str, article: str) -> str:
    """``a``/``an`` (or ``A``/``An``) + value; values that already start with a determiner are kept as is."""
    low = value.lower()
    if low.startswith(("a ", "an ", "the ", "our ", "my ", "your ")):
        return value
    if low.startswith(("uni", "use", "usu", "one", "eu")):
        an = False
    elif low.startswith(("hour", "honest", "8", "11", "18")) or (
        value[:2].isupper() and value[0] in "AEFHILMNORSX"
    ):
        an = True
    else:
        an = low[:1] in ("a", "e", "i", "o", "u")
    return (article + "n " if an else article + " ") + value


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _entries(text: str, where: str, *, followups: bool = False) -> tuple[_Entry, ...]:
    """Lines of ``intent[/draft kind] | template | topic``; the topic may be omitted for follow-ups."""
    allowed = _FOLLOWUP_INTENTS if followups else _INTENTS
    out: list[_Entry] = []
    for line in _lines(text):
        parts = [p.strip() for p in line.split(" | ")]
        if len(parts) == 2 and followups:
            parts.append("")
        intent, _, kind = parts[0].partition("/")
        if len(parts) != 3 or intent not in allowed:
            raise ValueError(f"{where}: malformed template line: {line!r}")
        out.append((intent, parts[1], parts[2], kind))
    return tuple(out)


def _draft_groups(groups: dict[str, str]) -> dict[str, _DraftGroup]:
    """Draft artifacts by kind; in each, ``> `` lines are openings, ``< `` lines are sign-offs."""
    out: dict[str, _DraftGroup] = {}
    for kind, text in groups.items():
        lines = _lines(text)
        heads = tuple(x[2:] for x in lines if x.startswith("> "))
        tails = tuple(x[2:].replace("\\n", "\n") for x in lines if x.startswith("< "))
        body = tuple(x for x in lines if not x.startswith(("> ", "< ")))
        out[kind] = (heads, body, tails)
    return out


def _slot_stems(template: str) -> set[str]:
    """Domain slot names used by a template (``city2``/``city@a`` count as ``city``)."""
    out = set()
    for _, field, _, _ in Formatter().parse(template):
        if field:
            stem = field.partition("@")[0]
            if stem[-1:] in ("2", "3"):
                stem = stem[:-1]
            if stem not in _COMMON_VOCAB:
                out.add(stem)
    return out


def _focus(entry: _Entry, pools: dict[str, tuple[str, ...]]) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Split each sentence pool into sentences that mention the prompt's slots and the rest."""
    wanted = _slot_stems(entry[1]) | _slot_stems(entry[2])
    out: dict[str, tuple[tuple[str, ...], ...]] = {}
    for name, pool in pools.items():
        related = tuple(t for t in pool if _slot_stems(t) & wanted)
        if related and len(related) < len(pool):
            out[name] = (related, tuple(t for t in pool if t not in related))
    return out


def _with_swaps(entries: tuple[_Entry, ...], vocab: dict[str, tuple[str, ...]]) -> tuple[_Followup, ...]:
    """Follow-ups that mention ``{city2}`` switch the conversation to that value: record which slots."""
    out: list[_Followup] = []
    for intent, template, topic, kind in entries:
        swaps = tuple(
            dict.fromkeys(
                field[:-1]
                for _, field, _, _ in Formatter().parse(template)
                if field and field.endswith("2") and field[:-1] in vocab
            )
        )
        out.append((intent, template, topic, kind, swaps))
    return tuple(out)


def _code(text: str) -> str:
    """Turn a code snippet with ``@@slot@@`` placeholders into a ``str.format`` template."""
    pieces = text.strip("\n").replace("{", "{{").replace("}", "}}").split("@@")
    if len(pieces) % 2 == 0:
        raise ValueError(f"unbalanced @@ placeholder in snippet: {text[:40]!r}")
    return "".join(p if i % 2 == 0 else "{" + p + "}" for i, p in enumerate(pieces))


# ---------------------------------------------------------------------------------------------------------
# Shared vocabularies and phrasing (data/common.toml)
# ---------------------------------------------------------------------------------------------------------

_COMMON = _load("common.toml")
_known(_COMMON, ("vocab", "prompts", "openers", "followup_openers", "answers"), "common.toml")
_SHARED_VOCAB = _pools(_COMMON, "vocab", "common.toml")
if not {"person", "card", "awskey"} <= set(_SHARED_VOCAB):
    raise ValueError("common.toml: [vocab] needs person, card and awskey")

# Fake personal data that follows a formula: emails of the invented people, reserved 555-01xx phone
# numbers, invalid-range SSN-like ids, documentation IP ranges (RFC 5737) and hex request ids.
_PEOPLE = _SHARED_VOCAB["person"]
_EMAILS = tuple(
    f"{p.split()[0].lower()}.{p.split()[1].lower()}@{dom}"
    for p in _PEOPLE
    for dom in ("example.com", "example.org")
) + tuple(f"{p.split()[0].lower()}{n}@example.com" for p in _PEOPLE for n in (7, 42, 1989))
_PHONES = tuple(
    f"+1-{area}-555-01{d:02d}"
    for area in ("202", "312", "415", "617", "206", "303")
    for d in range(3, 100, 8)
) + tuple(f"(555) 01{x}-{y:04d}" for x in range(10) for y in (1234, 4471, 9082, 3310, 7765))
_SSNS = (
    tuple(f"987-65-432{d}" for d in range(10))
    + tuple(f"000-{(17 * k) % 100:02d}-{(7919 * k) % 10000:04d}" for k in range(1, 9))
    + tuple(f"9{(37 * k) % 100:02d}-{(53 * k) % 100:02d}-{(6007 * k) % 10000:04d}" for k in range(1, 13))
)
_IPS = tuple(f"192.0.2.{i}" for i in (4, 17, 23, 55, 101, 142, 200, 254)) + tuple(
    f"198.51.100.{i}" for i in (7, 12, 38, 77, 129, 180, 233)
)
_RIDS = tuple(f"{(k * 2654435761) & 0xFFFFFFFF:08x}" for k in range(1, 257))

_COMMON_VOCAB: dict[str, tuple[str, ...]] = {
    **_SHARED_VOCAB,
    "email": _EMAILS,
    "phone": _PHONES,
    "ssn": _SSNS,
    "ip": _IPS,
    "rid": _RIDS,
    "ms": tuple(str(k) for k in range(12, 4000, 37)),
}

_PROMPTS = _table(_COMMON, "prompts", "common.toml")
_known(
    _PROMPTS,
    ("greetings", "terse_prefixes", "thanks", "constraints", "followups", "pii_frames", "system_rules"),
    "common.toml [prompts]",
)
# (greeting, whether the following text should start lower-case)
_GREETINGS: tuple[tuple[str, bool], ...] = tuple(
    (g["text"], g["lower"])
    for g in _records(_PROMPTS, "greetings", "common.toml [prompts]", {"text": str, "lower": bool})
)
_TERSE_PREFIXES = _strings(_PROMPTS, "terse_prefixes", "common.toml [prompts]", blanks=True)
_THANKS = _strings(_PROMPTS, "thanks", "common.toml [prompts]", blanks=True)
_GENERIC_CONSTRAINTS = _templates(_PROMPTS, "constraints", "common.toml [prompts]")
_GENERIC_FOLLOWUPS = _entries(
    _text(_PROMPTS, "followups", "common.toml [prompts]"), "common.toml [prompts] followups", followups=True
)
_GENERIC_PII_FRAMES = _templates(_PROMPTS, "pii_frames", "common.toml [prompts]")
_SYSTEM_RULES = _templates(_PROMPTS, "system_rules", "common.toml [prompts]")

_OPENERS = _template_table(_COMMON, "openers", _INTENTS, "common.toml")
_FOLLOWUP_OPENERS = _template_table(
    _COMMON, "followup_openers", ("shorten", "expand", "example"), "common.toml"
)
_ANSWERS = _template_table(
    _COMMON, "answers", ("headings", "compare_headings", "connectors", "closers"), "common.toml"
)
_GENERIC_HEADINGS = _ANSWERS["headings"]
_COMPARE_HEADINGS = _ANSWERS["compare_headings"]
_CONNECTORS = _ANSWERS["connectors"]
_CLOSERS = _ANSWERS["closers"]

# ---------------------------------------------------------------------------------------------------------
# Domain specifications (data/domains/<domain>.toml)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    """A kind of pasted context block: a code file, a log, a note, a clause list, ..."""

    intros: tuple[str, ...]
    lines: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()  # slots that keep the conversation's value in every line
    kind: str = "text"  # "text": one template per line; "code": snippets in the conversation's language
    sep: str = "\n"
    fence: bool = False
    ts_step: tuple[int, int] = (1, 400)  # seconds between consecutive {ts} values (min, max)


@dataclass(frozen=True)
class _Spec:
    """Everything needed to write text for one domain."""

    name: str
    area: str
    vocab: dict[str, tuple[str, ...]]
    linked: dict[str, tuple[str, dict[str, tuple[str, ...]]]]  # slot -> (parent slot, parent value -> pool)
    prompts: tuple[_Entry, ...]
    focus: tuple[dict[str, tuple[tuple[str, ...], ...]], ...]  # per prompt: pool -> (related, others)
    situations: tuple[str, ...]
    constraints: tuple[str, ...]
    followups: tuple[_Followup, ...]
    facts: tuple[str, ...]
    steps: tuple[str, ...]
    fix_steps: tuple[str, ...]
    bullets: tuple[str, ...]
    caveats: tuple[str, ...]
    caveat_p: float
    shorts: tuple[str, ...]
    drafts: dict[str, _DraftGroup]
    headings: tuple[str, ...]
    plan_label: str
    anchors: tuple[str, ...]
    blocks: tuple[_Block, ...]
    systems: tuple[str, ...]
    harmful: tuple[str, ...]
    asks: tuple[str, ...]
    mishaps: tuple[str, ...]
    safe_help: tuple[str, ...]
    pii_frames: tuple[str, ...]


_SPEC_KEYS = ("area", "anchors", "plan_label", "caveat_p", "vocab", "linked", "templates", "drafts", "blocks")
_ENTRY_TEMPLATES = ("prompts", "followups")  # lines of "intent | template | topic"
_REQUIRED_TEMPLATES = (
    "systems",
    "situations",
    "constraints",
    "pii_frames",
    "facts",
    "steps",
    "bullets",
    "caveats",
    "shorts",
    "harmful",
    "asks",
    "mishaps",
    "safe_help",
)
_OPTIONAL_TEMPLATES = ("fix_steps", "headings")  # fix_steps default to steps; common headings are added
_BLOCK_KEYS = ("intros", "lines", "header", "fixed", "kind", "sep", "fence", "ts_step")


def _block(data: object, where: str) -> _Block:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: each [[blocks]] entry must be a table")
    _known(data, _BLOCK_KEYS, where)
    kind = _text(data, "kind", where, "text")
    lines = _templates(data, "lines", where, required=kind != "code")
    if kind not in ("text", "code") or (kind == "code" and lines):
        raise ValueError(f"{where}: kind must be text (with lines) or code (without lines)")
    fence = data.get("fence", False)
    step = data.get("ts_step", [1, 400])
    if not isinstance(fence, bool):
        raise ValueError(f"{where}: fence must be true or false")
    if not (
        isinstance(step, list)
        and len(step) == 2
        and all(type(s) is int for s in step)
        and 0 <= step[0] <= step[1]
    ):
        raise ValueError(f"{where}: ts_step must be [min, max] seconds")
    return _Block(
        intros=_templates(data, "intros", where),
        lines=lines,
        header=_strings(data, "header", where) if "header" in data else (),
        fixed=_strings(data, "fixed", where) if "fixed" in data else (),
        kind=kind,
        sep=_text(data, "sep", where, "\n"),
        fence=fence,
        ts_step=(step[0], step[1]),
    )


def _spec(name: str, data: dict[str, Any]) -> _Spec:
    """Build one domain's ``_Spec`` from its data file (``data``: the parsed ``domains/<name>.toml``)."""
    where = f"domains/{name}.toml"
    _known(data, _SPEC_KEYS, where)
    merged = dict(_COMMON_VOCAB)
    merged.update(_pools(data, "vocab", where))
    links: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {}
    for key, link in _table(data, "linked", where, required=False).items():
        link_where = f"{where} [linked.{key}]"
        if not isinstance(link, dict):
            raise ValueError(f"{link_where}: must be a table")
        _known(link, ("parent", "pools"), link_where)
        parent = _text(link, "parent", link_where)
        if key not in merged or parent not in merged:
            raise ValueError(f"{link_where}: {key} and its parent {parent} need a [vocab] entry too")
        links[key] = (parent, _pools(link, "pools", link_where))
    templates = _table(data, "templates", where)
    _known(templates, _ENTRY_TEMPLATES + _REQUIRED_TEMPLATES + _OPTIONAL_TEMPLATES, f"{where} [templates]")
    t: dict[str, tuple[str, ...]] = {
        key: _templates(templates, key, f"{where} [templates]", required=key in _REQUIRED_TEMPLATES)
        for key in _REQUIRED_TEMPLATES + _OPTIONAL_TEMPLATES
    }
    prompts = _entries(_text(templates, "prompts", f"{where} [templates]"), f"{where} [templates] prompts")
    followups = _entries(
        _text(templates, "followups", f"{where} [templates]"),
        f"{where} [templates] followups",
        followups=True,
    )
    if not prompts or not followups:
        raise ValueError(f"{where}: [templates] needs prompts and followups")
    drafts = _table(data, "drafts", where)
    groups = _draft_groups({kind: _text(drafts, kind, f"{where} [drafts]") for kind in drafts})
    if not groups:
        raise ValueError(f"{where}: [drafts] needs at least one kind")
    default_kind = next(iter(groups))
    entries = tuple((i, tpl, top, k or default_kind) for i, tpl, top, k in prompts)
    for entry in entries:
        if entry[3] not in groups:
            raise ValueError(f"{where}: unknown draft kind {entry[3]!r} in {entry[1]!r}")
    pools = {
        "facts": t["facts"],
        "steps": t["steps"],
        "fix_steps": t["fix_steps"] or t["steps"],
        "bullets": t["bullets"],
    }
    focus = tuple(_focus(entry, pools) for entry in entries)
    blocks = data.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        raise ValueError(f"{where}: needs at least one [[blocks]] entry")
    caveat_p = data.get("caveat_p", 0.35)
    if isinstance(caveat_p, bool) or not isinstance(caveat_p, int | float) or not 0 <= caveat_p <= 1:
        raise ValueError(f"{where}: caveat_p must be a number within [0, 1]")
    return _Spec(
        name=name,
        area=_text(data, "area", where),
        vocab=merged,
        linked=links,
        prompts=entries,
        focus=focus,
        situations=t["situations"],
        constraints=t["constraints"] + _GENERIC_CONSTRAINTS,
        followups=_with_swaps(followups + _GENERIC_FOLLOWUPS, merged),
        facts=pools["facts"],
        steps=pools["steps"],
        fix_steps=pools["fix_steps"],
        bullets=pools["bullets"],
        caveats=t["caveats"],
        caveat_p=float(caveat_p),
        shorts=t["shorts"],
        drafts=groups,
        headings=t["headings"] + _GENERIC_HEADINGS,
        plan_label=_text(data, "plan_label", where, "Step"),
        anchors=_strings(data, "anchors", where) if "anchors" in data else (),
        blocks=tuple(_block(b, f"{where} [[blocks]] #{k + 1}") for k, b in enumerate(blocks)),
        systems=t["systems"],
        harmful=t["harmful"],
        asks=t["asks"],
        mishaps=t["mishaps"],
        safe_help=t["safe_help"],
        pii_frames=t["pii_frames"] + _GENERIC_PII_FRAMES,
    )


# ---------------------------------------------------------------------------------------------------------
# Generation machinery
# ---------------------------------------------------------------------------------------------------------

_COPRIME_CACHE: dict[int, tuple[int, ...]] = {}


def _strides(n: int) -> tuple[int, ...]:
    strides = _COPRIME_CACHE.get(n)
    if strides is None:
        strides = tuple(s for s in range(1, n) if math.gcd(s, n) == 1) or (1,)
        _COPRIME_CACHE[n] = strides
    return strides


def _wc(text: str) -> int:
    """Cheap word count for generated prose (single spaces and newlines between words)."""
    return text.count(" ") + text.count("\n") + 1


class _Vals(dict[str, str]):
    """Slot values of one conversation, drawn lazily and then reused so prompt and answer agree.

    ``city2``/``city3`` draw from the ``city`` vocabulary and differ from ``city`` when possible.
    """

    __slots__ = ("_rng", "_spec")

    def __init__(self, rng: random.Random, spec: _Spec) -> None:
        super().__init__()
        self._rng = rng
        self._spec = spec

    def __missing__(self, key: str) -> str:
        if "@" in key:  # "{city@a}": article + value; not cached, the value may still be switched
            stem, _, article = key.partition("@")
            return _with_article(self[stem], article)
        if key == "excerpt":
            value = _excerpt(self._rng, self._spec, self)
            self[key] = value
            return value
        spec = self._spec
        vocab = spec.vocab
        rng = self._rng
        pool = vocab.get(key)
        if pool is not None and key not in spec.linked:
            value = pool[int(rng.random() * len(pool))]
        else:
            last = key[-1:]
            stem = key[:-1] if pool is None and last in ("2", "3") else key
            pool = vocab.get(stem)
            if pool is None:
                raise KeyError(key)
            link = spec.linked.get(stem)
            if link is not None:
                pool = link[1].get(self[link[0]], pool)
            taken = (self.get(stem), self.get(stem + "2"), self.get(stem + "3"))
            value = pool[int(rng.random() * len(pool))]
            tries = 0
            while value in taken and tries < 8:
                value = pool[int(rng.random() * len(pool))]
                tries += 1
        self[key] = value
        return value

    def refreshed(self) -> _Vals:
        """A fresh set of values that keeps the topic and the domain's anchor slots."""
        new = _Vals(self._rng, self._spec)
        for key in ("topic", *self._spec.anchors):
            if key in self:
                new[key] = self[key]
        return new


_EPOCH = datetime(2023, 6, 1)


class _Fresh:
    """Mapping for pasted blocks: a new value for every slot occurrence, with line counters and timestamps."""

    __slots__ = ("_fixed", "_rng", "_step", "_t", "_vals", "_vocab", "i")

    def __init__(self, rng: random.Random, spec: _Spec, vals: _Vals, block: _Block) -> None:
        self._rng = rng
        self._vocab = spec.vocab
        self._vals = vals
        self._fixed = block.fixed
        self._step = block.ts_step
        self._t = rng.randrange(300) * 86400 + rng.randrange(7 * 3600, 18 * 3600)
        self.i = 0

    def __getitem__(self, key: str) -> str:
        if key == "i":
            return str(self.i)
        if key == "ts":
            self._t += self._rng.randint(*self._step)
            return (_EPOCH + timedelta(seconds=self._t)).strftime("%Y-%m-%d %H:%M:%S")
        if key in self._fixed:
            return self._vals[key]
        if "@" in key:
            stem, _, article = key.partition("@")
            return _with_article(self[stem], article)
        pool = self._vocab.get(key)
        if pool is None:
            pool = self._vocab[key[:-1]]
        return pool[int(self._rng.random() * len(pool))]


class _Deck:
    """Draws templates from a pool without repeats until the pool is exhausted, then starts a new pass with
    fresh slot values. The first pass can go through several segments in turn (related sentences first)."""

    __slots__ = ("_full", "_left", "_n", "_passes", "_pool", "_pos", "_rng", "_segments", "_step", "_vals")

    def __init__(
        self,
        rng: random.Random,
        pool: tuple[str, ...],
        vals: _Vals,
        segments: tuple[tuple[str, ...], ...] = (),
    ) -> None:
        self._rng = rng
        self._full = pool
        self._segments = segments or (pool,)
        self._pool = pool
        self._n = len(pool)
        self._vals = vals
        self._left = 0
        self._pos = 0
        self._step = 1
        self._passes = 0

    def draw(self) -> str:
        if self._left == 0:
            rng = self._rng
            if self._passes < len(self._segments):
                self._pool = self._segments[self._passes]
            else:
                self._pool = self._full
                self._vals = self._vals.refreshed()
            self._passes += 1
            self._n = len(self._pool)
            if self._n == 0:
                return ""
            strides = _strides(self._n)
            self._pos = int(rng.random() * self._n)
            self._step = strides[int(rng.random() * len(strides))]
            self._left = self._n
        template = self._pool[self._pos]
        self._pos = (self._pos + self._step) % self._n
        self._left -= 1
        if template[0] == "{":
            return _cap(template.format_map(self._vals))
        return template.format_map(self._vals)


class _Writer:
    """Assembles one completion section by section until a word budget is used."""

    __slots__ = ("_decks", "focus", "kind", "parts", "rng", "spec", "vals", "words")

    def __init__(
        self,
        rng: random.Random,
        spec: _Spec,
        vals: _Vals,
        kind: str = "",
        focus: dict[str, tuple[tuple[str, ...], ...]] | None = None,
    ) -> None:
        self.rng = rng
        self.spec = spec
        self.vals = vals
        self.kind = kind if kind in spec.drafts else next(iter(spec.drafts))
        self.focus = focus or {}
        self.parts: list[str] = []
        self.words = 0
        self._decks: dict[str, _Deck] = {}

    def deck(self, name: str, pool: tuple[str, ...]) -> _Deck:
        deck = self._decks.get(name)
        if deck is None:
            deck = _Deck(self.rng, pool, self.vals, self.focus.get(name, ()))
            self._decks[name] = deck
        return deck

    def add(self, text: str, words: int = -1) -> None:
        self.parts.append(text)
        self.words += _wc(text) if words < 0 else words

    def heading(self) -> None:
        level = "## " if self.rng.random() < 0.6 else "### "
        self.add(level + self.deck("headings", self.spec.headings).draw())

    def para(self, target: int, pool_name: str = "facts") -> None:
        deck = self.deck(pool_name, getattr(self.spec, pool_name))
        k = self.rng.randint(2, 5)
        sentences: list[str] = []
        words = 0
        for _ in range(k):
            s = deck.draw()
            sentences.append(s)
            words += _wc(s)
            if self.words + words >= target:
                break
        self.add(" ".join(sentences), words)

    def items(self, target: int, pool_name: str, style: str, lo: int = 3, hi: int = 7) -> None:
        deck = self.deck(pool_name, getattr(self.spec, pool_name))
        k = self.rng.randint(lo, hi)
        lines: list[str] = []
        words = 0
        label = self.spec.plan_label
        for j in range(1, k + 1):
            s = deck.draw()
            if style == "num":
                line = f"{j}. {s}"
            elif style == "plan":
                line = f"**{label} {j}:** {s}"
            else:
                line = "- " + s
            lines.append(line)
            words += _wc(line)
            if j >= 2 and self.words + words >= target:
                break
        self.add("\n".join(lines), words)

    def code(self) -> None:
        lang = self.vals["language"]
        pool = _CODE.get(lang)
        if pool is None:
            return
        snippet = pool[int(self.rng.random() * len(pool))].format_map(self.vals)
        self.add(f"```{_FENCE[lang]}\n{snippet}\n```", len(snippet.split()) + 2)

    def draft(self, target: int) -> None:
        rng = self.rng
        kind = self.kind
        heads, body, tails = self.spec.drafts[kind]
        out: list[str] = []
        if heads and rng.random() < 0.75:
            out.append(self.deck("heads:" + kind, heads).draw())
        vals = self.vals
        words = 0
        paragraph: list[str] = []
        size = rng.randint(1, 3)
        for k, template in enumerate(body):  # in order, skipping some sentences
            if k and rng.random() < 0.25:
                continue
            line = template.format_map(vals)
            paragraph.append(_cap(line) if template[0] == "{" else line)
            words += _wc(line)
            if len(paragraph) >= size:
                out.append(" ".join(paragraph))
                paragraph = []
                size = rng.randint(1, 3)
            if self.words + words >= target:
                break
        if paragraph:
            out.append(" ".join(paragraph))
        if tails and rng.random() < 0.7:
            out.append(self.deck("tails:" + kind, tails).draw())
        text = "\n\n".join(out)
        if rng.random() < 0.3:
            text = "---\n\n" + text + "\n\n---"
        self.add(text)

    def section(self, kind: str, target: int) -> None:
        if kind == "para":
            self.para(target)
        elif kind == "bullets":
            self.items(target, "bullets", "bullet")
        elif kind == "steps":
            self.items(target, "steps", "num", 3, 8)
        elif kind == "fixsteps":
            self.items(target, "fix_steps", "num", 3, 8)
        elif kind == "plan":
            self.items(target, "steps", "plan", 3, 7)
        elif kind == "factlist":
            self.items(target, "facts", "bullet", 3, 6)
        elif kind == "code":
            self.code()
        elif kind == "draft":
            self.draft(target)
        elif kind == "compare":
            heads = self.deck("compare_headings", _COMPARE_HEADINGS)
            self.add("### " + heads.draw())
            self.items(target, "bullets", "bullet", 2, 5)
            if self.words < target:
                self.add("### " + heads.draw())
                self.para(target)
        else:  # pragma: no cover - internal table error
            raise ValueError(f"unknown section kind: {kind!r}")


# First section and follow-on sections for each intent.
_FIRST_SECTION: dict[str, str] = {
    "explain": "para",
    "howto": "steps",
    "fix": "fixsteps",
    "draft": "draft",
    "code": "code",
    "list": "bullets",
    "compare": "compare",
    "plan": "plan",
    "summarize": "factlist",
    "rewrite": "draft",
    "review": "bullets",
}
_MORE_SECTIONS: dict[str, tuple[str, ...]] = {
    "explain": ("para", "para", "bullets", "factlist", "steps"),
    "howto": ("para", "bullets", "steps", "para"),
    "fix": ("para", "bullets", "fixsteps", "para"),
    "draft": ("para", "bullets"),
    "code": ("para", "bullets", "code", "para"),
    "list": ("bullets", "para", "factlist"),
    "compare": ("para", "compare", "bullets"),
    "plan": ("plan", "bullets", "para"),
    "summarize": ("factlist", "steps", "para"),
    "rewrite": ("para", "bullets"),
    "review": ("para", "bullets", "steps"),
}
_CODING_EXTRA: dict[str, tuple[str, ...]] = {
    "explain": ("code",),
    "howto": ("code", "code"),
    "fix": ("code", "code"),
    "review": ("code",),
    "compare": ("code",),
    "code": ("code",),
}

# Completion length model: mixture of short answers and a lognormal body.
_SHORT_P = 0.052
_MU = math.log(136.0)
_SIGMA = 0.82
_MAX_WORDS = 2500.0
_MIN_WORDS = 21.0


def _target_words(rng: random.Random, length: float) -> int:
    if rng.random() < _SHORT_P:
        return 0
    words = rng.lognormvariate(_MU, _SIGMA) * length
    return int(min(max(words, _MIN_WORDS * min(length, 1.0)), _MAX_WORDS * length))


def _completion(
    rng: random.Random,
    spec: _Spec,
    vals: _Vals,
    intent: str,
    target: int,
    openers: tuple[str, ...] | None = None,
    kind: str = "",
    focus: dict[str, tuple[tuple[str, ...], ...]] | None = None,
) -> str:
    if target <= 0:
        return _cap(spec.shorts[int(rng.random() * len(spec.shorts))].format_map(vals))
    w = _Writer(rng, spec, vals, kind, focus)
    pool = openers if openers is not None else _OPENERS[intent]
    w.add(pool[int(rng.random() * len(pool))].format_map(vals))
    w.section(_FIRST_SECTION[intent], target)
    more = _MORE_SECTIONS[intent]
    if spec.name == "coding":
        more = more + _CODING_EXTRA.get(intent, ())
    big = target > 260
    last = _FIRST_SECTION[intent]
    while w.words < target:
        heading = big and rng.random() < 0.55
        if heading:
            w.heading()
        elif rng.random() < 0.12:
            w.add(_CONNECTORS[int(rng.random() * len(_CONNECTORS))])
        section = more[int(rng.random() * len(more))]
        if section == last and not heading and section != "para":
            section = "para"  # two lists in a row would read as one broken list
        w.section(section, target)
        last = section
    if spec.caveats and rng.random() < spec.caveat_p:
        w.add(spec.caveats[int(rng.random() * len(spec.caveats))].format_map(vals))
    if rng.random() < 0.45:
        w.add(_CLOSERS[int(rng.random() * len(_CLOSERS))])
    return "\n\n".join(w.parts)


def _excerpt(rng: random.Random, spec: _Spec, vals: _Vals) -> str:
    """A short inline paste (3-7 lines, or one code snippet) for prompts that say "this ..."."""
    block = spec.blocks[0]
    if block.kind == "code":
        lang = vals["language"]
        snippets = _CODE[lang]
        snippet = snippets[int(rng.random() * len(snippets))].format_map(vals)
        return f"\n```{_FENCE[lang]}\n{snippet}\n```"
    fresh = _Fresh(rng, spec, vals, block)
    lines: list[str] = list(block.header)
    for k in range(rng.randint(3, 7)):
        fresh.i = k + 1
        lines.append(block.lines[int(rng.random() * len(block.lines))].format_map(fresh))
    body = block.sep.join(lines)
    return f"\n\n{body}\n"


def _context_block(rng: random.Random, spec: _Spec, vals: _Vals) -> tuple[str, str]:
    """A pasted block of 300-3,000 words; returns (intro line, block text)."""
    block = spec.blocks[int(rng.random() * len(spec.blocks))]
    target = int(math.exp(rng.uniform(math.log(300.0), math.log(3000.0))))
    fresh = _Fresh(rng, spec, vals, block)
    parts: list[str] = list(block.header)
    words = sum(len(h.split()) for h in block.header)
    if block.kind == "code":
        lang = vals["language"]
        pool = _CODE[lang]
        while words < target:
            fresh.i += 1
            snippet = pool[int(rng.random() * len(pool))].format_map(fresh)
            parts.append(snippet)
            words += len(snippet.split())
        body = f"```{_FENCE[lang]}\n" + "\n\n\n".join(parts) + "\n```"
    else:
        lines = block.lines
        while words < target:
            fresh.i += 1
            line = lines[int(rng.random() * len(lines))].format_map(fresh)
            parts.append(line)
            words += len(line.split())
        body = block.sep.join(parts)
        if block.fence:
            body = f"```\n{body}\n```"
    intro = block.intros[int(rng.random() * len(block.intros))].format_map(vals)
    return intro, body


def _casual(text: str) -> str:
    """Lower-case the first letter and drop the final punctuation mark, the way people type quickly."""
    if not text:
        return text
    text = text[0].lower() + text[1:]
    if text[-1] in ".?!" and not text.endswith("..."):
        text = text[:-1]
    return text


def _typo(rng: random.Random, text: str) -> str:
    """Swap two adjacent letters somewhere in the text."""
    n = len(text)
    for _ in range(4):
        i = int(rng.random() * (n - 1)) if n > 1 else 0
        a, b = text[i : i + 1], text[i + 1 : i + 2]
        if a.isalpha() and b.isalpha() and a != b:
            return text[:i] + b + a + text[i + 2 :]
    return text


def _pii_sentence(rng: random.Random, spec: _Spec, vals: _Vals) -> str:
    frames = spec.pii_frames
    return frames[int(rng.random() * len(frames))].format_map(vals)


def _compose_prompt(
    rng: random.Random, spec: _Spec, vals: _Vals, template: str, *, allow_block: bool, pii: bool
) -> str:
    core = _cap(template.format_map(vals))
    r = rng.random()
    if r < 0.18:  # terse
        prefix = _TERSE_PREFIXES[int(rng.random() * len(_TERSE_PREFIXES))]
        text = prefix + core[:1].lower() + core[1:] if prefix else core
        if rng.random() < 0.6:
            text = _casual(text)
    else:
        greeting, lower = _GREETINGS[int(rng.random() * len(_GREETINGS))]
        if lower:
            core = core[:1].lower() + core[1:]
        if r < 0.5:  # polite
            text = greeting + core
            if rng.random() < 0.6:
                text += " " + spec.constraints[int(rng.random() * len(spec.constraints))].format_map(vals)
        else:  # detailed, with some context about the user
            situations = spec.situations
            k = int(rng.random() * len(situations))
            situation = situations[k].format_map(vals)
            if rng.random() < 0.45:
                k2 = (k + 1 + int(rng.random() * (len(situations) - 1))) % len(situations)
                situation += " " + situations[k2].format_map(vals)
            if lower:
                situation = situation[:1].lower() + situation[1:]
            if rng.random() < 0.5:
                text = greeting + situation + " " + core
            else:
                text = greeting + core + " " + situation
            if rng.random() < 0.75:
                text += " " + spec.constraints[int(rng.random() * len(spec.constraints))].format_map(vals)
        text += _THANKS[int(rng.random() * len(_THANKS))]
    roll = rng.random()
    if roll < 0.05:
        text = _typo(rng, text)
    elif roll < 0.08:
        text = text.lower()
    if pii:
        sentence = _pii_sentence(rng, spec, vals)
        text = sentence + " " + text if rng.random() < 0.35 else text + " " + sentence
    if allow_block and rng.random() < 0.08:
        intro, block = _context_block(rng, spec, vals)
        if rng.random() < 0.55:
            text = f"{text}\n\n{intro}\n\n{block}"
        else:
            text = f"{intro}\n\n{block}\n\n{text}"
    return text


def _compose_followup(rng: random.Random, spec: _Spec, vals: _Vals, template: str, *, pii: bool) -> str:
    text = template.format_map(vals)
    roll = rng.random()
    if roll < 0.3:
        text = _casual(text)
    elif roll < 0.36:
        text = _typo(rng, text)
    if pii:
        text = text + " " + _pii_sentence(rng, spec, vals)
    return text


def _get_spec(domain: str) -> _Spec:
    spec = _SPECS.get(domain) if isinstance(domain, str) else None
    if spec is None:
        known = ", ".join((*DOMAINS, *NOVEL_DOMAINS))
        raise ValueError(f"unknown domain {domain!r}; expected one of: {known}")
    return spec


def _system_text(rng: random.Random, spec: _Spec, vals: _Vals) -> str:
    text = spec.systems[int(rng.random() * len(spec.systems))].format_map(vals)
    extra = rng.randint(0, 3)
    if extra:
        rules = _SYSTEM_RULES
        start = int(rng.random() * len(rules))
        step = _strides(len(rules))[int(rng.random() * len(_strides(len(rules))))]
        picked = [rules[(start + k * step) % len(rules)].format_map(vals) for k in range(extra)]
        text = text + " " + " ".join(picked)
    return text


# ---------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------


def conversation(
    rng: random.Random,
    domain: str,
    *,
    turns: int = 0,
    with_system: bool = False,
    length: float = 1.0,
    pii: bool = False,
) -> Conversation:
    """Generate one conversation in ``domain``.

    ``turns`` earlier user/assistant exchanges go into ``history`` (``2 * turns`` items); ``length``
    scales the completion length distribution; ``pii=True`` puts one or two pieces of fake personal data
    into the prompt.
    """
    spec = _get_spec(domain)
    if isinstance(turns, bool) or not isinstance(turns, int) or turns < 0:
        raise ValueError(f"turns must be a non-negative int, got {turns!r}")
    if (
        isinstance(length, bool)
        or not isinstance(length, (int, float))
        or not math.isfinite(length)
        or length <= 0
    ):
        raise ValueError(f"length must be a finite number > 0, got {length!r}")
    vals = _Vals(rng, spec)
    system = _system_text(rng, spec, vals) if with_system else None
    index = int(rng.random() * len(spec.prompts))
    intent, template, topic, kind = spec.prompts[index]
    focus = spec.focus[index]
    vals["topic"] = topic.format_map(vals)
    first = _compose_prompt(rng, spec, vals, template, allow_block=True, pii=pii and turns == 0)
    if turns == 0:
        completion = _completion(rng, spec, vals, intent, _target_words(rng, length), kind=kind, focus=focus)
        return Conversation(domain, system, (), first, completion)

    history: list[Turn] = []
    user = first
    answer_intent, scale, openers = intent, 0.8, None
    followups = spec.followups
    for k in range(turns):
        target = _target_words(rng, length * scale)
        answer = _completion(rng, spec, vals, answer_intent, target, openers, kind, focus)
        history.append(Turn("user", user))
        history.append(Turn("assistant", answer))
        fu_intent, fu_template, fu_topic, fu_kind, swaps = followups[int(rng.random() * len(followups))]
        kind = fu_kind or kind
        if fu_topic:
            vals["topic"] = fu_topic.format_map(vals)
        user = _compose_followup(rng, spec, vals, fu_template, pii=pii and k == turns - 1)
        for stem in swaps:
            alias = stem + "2"
            vals[stem], vals[alias] = vals[alias], vals[stem]
        if fu_intent == "shorten":
            answer_intent, scale, openers = intent, 0.35, _FOLLOWUP_OPENERS["shorten"]
        elif fu_intent == "expand":
            answer_intent, scale, openers = intent, 1.6, _FOLLOWUP_OPENERS["expand"]
        elif fu_intent == "example":
            answer_intent = "code" if spec.name == "coding" else "explain"
            scale, openers = 0.9, _FOLLOWUP_OPENERS["example"]
        else:
            answer_intent, scale, openers = fu_intent, 1.0, None
    target = _target_words(rng, length * scale)
    completion = _completion(rng, spec, vals, answer_intent, target, openers, kind, focus)
    return Conversation(domain, system, tuple(history), user, completion)


def system_prompt(rng: random.Random, domain: str) -> str:
    """A plausible system prompt for an application in ``domain``."""
    spec = _get_spec(domain)
    return _system_text(rng, spec, _Vals(rng, spec))


def refusal(rng: random.Random, style: str, *, partial: bool, domain: str) -> str:
    """A refusal phrased the way ``style``'s models typically phrase one.

    ``partial=False`` gives a full refusal; ``partial=True`` declines part of the request and then offers
    several sentences of safe, general help about ``domain``.
    """
    full = _REFUSALS.get(style) if isinstance(style, str) else None
    if full is None:
        raise ValueError(f"unknown refusal style {style!r}; expected one of: {', '.join(REFUSAL_STYLES)}")
    spec = _get_spec(domain)
    vals = _Vals(rng, spec)
    vals["area"] = spec.area
    if not partial:
        return full[int(rng.random() * len(full))].format_map(vals)
    leads = _PARTIAL_LEADS[style]
    tails = _PARTIAL_TAILS[style]
    lead = leads[int(rng.random() * len(leads))].format_map(vals)
    help_pool = spec.safe_help
    start = int(rng.random() * len(help_pool))
    strides = _strides(len(help_pool))
    step = strides[int(rng.random() * len(strides))]
    k = rng.randint(3, min(5, len(help_pool)))
    tips = [help_pool[(start + j * step) % len(help_pool)].format_map(vals) for j in range(k)]
    body = "\n".join("- " + t for t in tips) if rng.random() < 0.5 else " ".join(tips)
    tail = tails[int(rng.random() * len(tails))].format_map(vals)
    return f"{lead}\n\n{body}\n\n{tail}"


def harmful_prompt(rng: random.Random, domain: str) -> str:
    """A mild, non-graphic request that a model should refuse, loosely related to ``domain``."""
    spec = _get_spec(domain)
    vals = _Vals(rng, spec)
    text = spec.harmful[int(rng.random() * len(spec.harmful))].format_map(vals)
    roll = rng.random()
    if roll < 0.25:
        greeting, lower = _GREETINGS[int(rng.random() * len(_GREETINGS))]
        text = greeting + (text[:1].lower() + text[1:] if lower else text)
    elif roll < 0.4:
        text = _casual(text)
    elif roll < 0.55:
        text += " " + _HARMFUL_PRESSURE[int(rng.random() * len(_HARMFUL_PRESSURE))]
    return text


def toxic_prompt(rng: random.Random, domain: str) -> str:
    """A rude, insulting user message with profanity aimed at the bot or a coworker, about a task in
    ``domain``. No slurs, no protected groups, no threats."""
    spec = _get_spec(domain)
    vals = _Vals(rng, spec)
    vals["ask"] = spec.asks[int(rng.random() * len(spec.asks))].format_map(vals)
    text = _TOXIC_FRAMES[int(rng.random() * len(_TOXIC_FRAMES))].format_map(vals)
    roll = rng.random()
    if roll < 0.15:
        text = text.upper()
    elif roll < 0.3:
        text = text.lower()
    return text


def apology_lookalike(rng: random.Random, domain: str) -> str:
    """A helpful completion whose first words look like a refusal or an apology (for testing refusal
    detectors): "I'm sorry to hear ...", "I can't wait to ...", "Unfortunately there's no single answer ...",
    or an answer that quotes a refusal."""
    spec = _get_spec(domain)
    vals = _Vals(rng, spec)
    topic = spec.prompts[int(rng.random() * len(spec.prompts))][2]
    vals["topic"] = topic.format_map(vals)
    vals["mishap"] = spec.mishaps[int(rng.random() * len(spec.mishaps))].format_map(vals)
    frame = _LOOKALIKE_FRAMES[int(rng.random() * len(_LOOKALIKE_FRAMES))]
    w = _Writer(rng, spec, vals)
    w.add(frame[0].format_map(vals))
    target = max(60, int(rng.lognormvariate(math.log(110.0), 0.5)))
    w.section(frame[1], target)
    while w.words < target:
        w.section("para" if rng.random() < 0.6 else "bullets", target)
    if rng.random() < 0.4:
        w.add(_CLOSERS[int(rng.random() * len(_CLOSERS))])
    return "\n\n".join(w.parts)


def guardrail_message(rng: random.Random) -> str:
    """The canned text an Amazon Bedrock guardrail returns when it blocks a request or a response."""
    return _GUARDRAIL_MESSAGES[int(rng.random() * len(_GUARDRAIL_MESSAGES))]


# ---------------------------------------------------------------------------------------------------------
# Refusals, guardrail messages, harmful and toxic prompt frames (data/safety.toml)
# ---------------------------------------------------------------------------------------------------------


def _by_style(data: dict[str, Any], part: str) -> dict[str, tuple[str, ...]]:
    """One part (full, partial_leads, partial_tails) of every refusal style's templates."""
    styles = _table(data, "refusals", "safety.toml")
    if sorted(styles) != sorted(REFUSAL_STYLES):
        raise ValueError(f"safety.toml: [refusals] needs exactly the styles {', '.join(REFUSAL_STYLES)}")
    out: dict[str, tuple[str, ...]] = {}
    for style in REFUSAL_STYLES:
        where = f"safety.toml [refusals.{style}]"
        table = _table(styles, style, "safety.toml [refusals]")
        _known(table, ("full", "partial_leads", "partial_tails"), where)
        out[style] = _templates(table, part, where)
    return out


_SAFETY = _load("safety.toml")
_known(
    _SAFETY,
    ("guardrail_messages", "harmful_pressure", "toxic_frames", "lookalike_frames", "refusals"),
    "safety.toml",
)
_GUARDRAIL_MESSAGES = _strings(_SAFETY, "guardrail_messages", "safety.toml")
_HARMFUL_PRESSURE = _templates(_SAFETY, "harmful_pressure", "safety.toml")
_TOXIC_FRAMES = _templates(_SAFETY, "toxic_frames", "safety.toml")
# (first line, section kind that follows it)
_LOOKALIKE_FRAMES: tuple[tuple[str, str], ...] = tuple(
    (frame["text"], frame["section"])
    for frame in _records(_SAFETY, "lookalike_frames", "safety.toml", {"text": str, "section": str})
)
if not all(section in _SECTIONS for _, section in _LOOKALIKE_FRAMES):
    raise ValueError(f"safety.toml: lookalike_frames sections must be among {', '.join(_SECTIONS)}")
_REFUSALS = _by_style(_SAFETY, "full")
_PARTIAL_LEADS = _by_style(_SAFETY, "partial_leads")
_PARTIAL_TAILS = _by_style(_SAFETY, "partial_tails")

# ---------------------------------------------------------------------------------------------------------
# Code snippets of the coding domain, keyed by the value of its {language} slot (data/code.toml)
# ---------------------------------------------------------------------------------------------------------


def _snippets(data: dict[str, Any]) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """(language -> Markdown fence name, language -> ``str.format`` templates)."""
    fences: dict[str, str] = {}
    snippets: dict[str, tuple[str, ...]] = {}
    for language in data:
        where = f"code.toml [{language}]"
        table = _table(data, language, "code.toml")
        _known(table, ("fence", "snippets"), where)
        fences[language] = _text(table, "fence", where)
        try:
            snippets[language] = tuple(_code(s) for s in _strings(table, "snippets", where))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return fences, snippets


_FENCE, _CODE = _snippets(_load("code.toml"))

# ---------------------------------------------------------------------------------------------------------
# Domains (data/domains/<domain>.toml)
# ---------------------------------------------------------------------------------------------------------

_SPECS: dict[str, _Spec] = {
    name: _spec(name, _load(f"domains/{name}.toml")) for name in (*DOMAINS, *NOVEL_DOMAINS)
}

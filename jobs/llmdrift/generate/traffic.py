"""Synthetic Bedrock traffic, hour by hour: which caller called which model how, and what came back.

Every hour is generated from its own random stream (seed, hour), so an hour's records do not depend on
which other hours are generated: a longer run extends a shorter one. Changes (topic shift, model swap,
refusal rise, toxicity rise, length change) can be switched on from a given day, to demonstrate and
measure drift detection.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from llmdrift.generate import text
from llmdrift.generate.bodies import Exchange, bodies
from llmdrift.generate.catalog import CALLERS, MODELS, Caller, ModelUse, inference_region, model_id

CHANGE_DEFAULTS: dict[str, float] = {
    "topic_shift": 0.3,  # share of calls moved to a topic never seen before
    "model_swap": 1.0,  # share of the busiest caller's main-model calls moved to another model
    "refusal_rise": 0.15,  # rate of requests that get refused
    "toxicity_rise": 0.10,  # rate of toxic prompts
    "length_change": 2.0,  # completion length multiplier
}
SWAP_FROM, SWAP_TO = "amazon.nova-lite-v1:0", "anthropic.claude-haiku-4-5-20251001-v1:0"

ERROR_CODES = (
    ("ThrottlingException", 0.55),
    ("ValidationException", 0.15),
    ("ModelTimeoutException", 0.1),
    ("ServiceUnavailableException", 0.08),
    ("InternalServerException", 0.05),
    ("AccessDeniedException", 0.04),
    ("ModelErrorException", 0.03),
)
TOOLS = ("search_orders", "run_sql_query", "lookup_policy", "get_weather", "create_ticket")


@dataclass(frozen=True)
class Change:
    kind: str
    strength: float

    @classmethod
    def parse(cls, spec: str) -> Change:
        """``kind`` or ``kind:strength``, e.g. ``topic_shift:0.2``."""
        kind, _, value = spec.partition(":")
        if kind not in CHANGE_DEFAULTS:
            raise ValueError(f"unknown change {kind!r}; choose from {', '.join(CHANGE_DEFAULTS)}")
        try:
            strength = float(value) if value else CHANGE_DEFAULTS[kind]
        except ValueError:
            raise ValueError(f"change {spec!r}: strength must be a number") from None
        if strength < 0 or (kind != "length_change" and strength > 1):
            raise ValueError(f"change {spec!r}: strength out of range")
        return cls(kind, strength)


@dataclass(frozen=True)
class Scenario:
    seed: int = 7
    start: date = date(2026, 11, 2)
    days: int = 4
    per_day: int = 1500  # mean invocations on a weekday
    changes: tuple[Change, ...] = ()
    change_from: date | None = None
    error_rate: float = 0.015
    refusal_rate: float = 0.03
    toxic_rate: float = 0.015
    offload_bytes: int = 25_000  # bodies larger than this (JSON bytes) are offloaded to data/
    offload_rate: float = 0.002  # and this share of the others
    duplicate_rate: float = 0.001  # records delivered twice
    malformed_rate: float = 0.0  # records damaged like the truncated published samples
    bucket: str = "llmdrift-demo-logs"
    key_prefix: str = "bedrock/invocation-logs"
    callers: tuple[Caller, ...] = CALLERS

    def __post_init__(self) -> None:
        if self.days < 1 or self.per_day < 1:
            raise ValueError("days and per_day must be at least 1")
        for name in (
            "error_rate",
            "refusal_rate",
            "toxic_rate",
            "offload_rate",
            "duplicate_rate",
            "malformed_rate",
        ):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be within [0, 1]")

    def hours(self) -> list[datetime]:
        first = datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)
        return [first + timedelta(hours=h) for h in range(24 * self.days)]

    def active(self, hour: datetime) -> dict[str, float]:
        if self.change_from is None or hour.date() < self.change_from:
            return {}
        return {c.kind: c.strength for c in self.changes}


@dataclass
class Generated:
    record: dict[str, Any]
    account: str
    region: str
    event_time: datetime
    folder_hour: datetime
    offloaded: dict[str, Any] = field(default_factory=dict)  # "input"/"output" -> body written under data/
    # Ground truth, not written to the logs: for tests and calibration studies.
    domain: str = ""
    outcome: str = (
        "normal"  # normal | refusal | partial_refusal | guardrail | toxic | apology | tool_use | error
    )
    refused: bool = False  # the completion is a refusal or a guardrail message (toxic prompts included)


# ------------------------------------------------------------------------------------------- rhythm


def _hour_weight(hour: datetime) -> float:
    h = hour.hour
    daytime = math.exp(-((h - 15) ** 2) / (2 * 3.5**2)) + 0.5 * math.exp(-((h - 9) ** 2) / (2 * 2.5**2))
    weekend = 0.45 if hour.weekday() >= 5 else 1.0
    return (0.12 + daytime) * weekend


_DAY_TOTAL = sum(_hour_weight(datetime(2026, 11, 2, h, tzinfo=UTC)) for h in range(24))


def expected_per_hour(scenario: Scenario, hour: datetime) -> float:
    return scenario.per_day * _hour_weight(hour) / _DAY_TOTAL


# ------------------------------------------------------------------------------------------- helpers


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _tokens(*texts: str | None) -> int:
    return sum(max(1, math.ceil(len(t) / 4)) for t in texts if t)


def _identity(rng: random.Random, caller: Caller) -> str:
    if caller.kind == "user":
        return f"arn:aws:iam::{caller.account}:user/{caller.name}"
    session = rng.choice(
        (
            f"i-0{rng.getrandbits(56):014x}",
            f"{caller.name}-fn",
            f"botocore-session-{rng.randint(10**9, 10**10 - 1)}",
        )
    )
    return f"arn:aws:sts::{caller.account}:assumed-role/{caller.name}/{session}"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _truncate_words(completion: str, limit_tokens: int) -> str:
    words = completion.split(" ")
    return " ".join(words[: max(1, int(limit_tokens * 0.75))])


# ------------------------------------------------------------------------------------------- one record


def _exchange(
    rng: random.Random,
    caller: Caller,
    spec_style: str,
    family: str,
    caches: bool,
    active: dict[str, float],
    scenario: Scenario,
) -> tuple[Exchange, str, str, bool]:
    """The conversation and what happened; returns (exchange, domain, outcome, completion is a refusal)."""
    domain = _pick(rng, caller.domains)
    if "topic_shift" in active and rng.random() < active["topic_shift"]:
        domain = text.NOVEL_DOMAINS[0]
    length = caller.length * active.get("length_change", 1.0)
    turns = rng.randint(1, 4) if rng.random() < caller.multi_turn_rate else 0
    with_system = rng.random() < caller.system_rate
    conv = text.conversation(
        rng, domain, turns=turns, with_system=with_system, length=length, pii=rng.random() < caller.pii_rate
    )
    prompt, completion, stop, outcome = conv.prompt, conv.completion, "end_turn", "normal"
    refused = False
    refusal_rate = active.get("refusal_rise", scenario.refusal_rate)
    toxic_rate = active.get("toxicity_rise", scenario.toxic_rate)
    roll = rng.random()
    if roll < refusal_rate:
        prompt = text.harmful_prompt(rng, domain)
        if caller.guardrail and rng.random() < 0.4:
            completion, stop, outcome = text.guardrail_message(rng), "guardrail_intervened", "guardrail"
        else:
            partial = rng.random() < 0.3
            completion = text.refusal(rng, spec_style, partial=partial, domain=domain)
            outcome = "partial_refusal" if partial else "refusal"
        refused = True
    elif roll < refusal_rate + toxic_rate:
        prompt, outcome = text.toxic_prompt(rng, domain), "toxic"
        if rng.random() < 0.3:
            completion = text.refusal(rng, spec_style, partial=False, domain=domain)
            refused = True
    elif roll < refusal_rate + toxic_rate + 0.01:
        completion, outcome = text.apology_lookalike(rng, domain), "apology"
    ex = Exchange(conv.system, conv.history, prompt, completion, stop=stop)
    if (
        caller.tools
        and stop == "end_turn"
        and rng.random() < 0.08
        and family in ("anthropic_messages", "nova", "mistral_chat", "openai_chat")
    ):
        ex.tool_name, ex.stop, outcome = rng.choice(TOOLS), "tool_use", "tool_use"
        refused = False
        if rng.random() < 0.5:
            ex.completion = ""
    ex.max_tokens = rng.choice((512, 1024, 2048, 4096))
    ex.temperature = rng.choice((0.0, 0.2, 0.5, 0.7, 1.0))
    out_tokens = _tokens(ex.completion)
    if out_tokens > ex.max_tokens:
        ex.completion, ex.stop, out_tokens = (
            _truncate_words(ex.completion, ex.max_tokens),
            "max_tokens",
            ex.max_tokens,
        )
    system_tokens = _tokens(ex.system)
    ex.input_tokens = (
        system_tokens
        + _tokens(*(t.text for t in ex.history))
        + _tokens(ex.prompt)
        + 3 * (len(ex.history) + 1)
    )
    if caches and ex.system and system_tokens > 40:
        cache = rng.random()
        if cache < 0.5:
            ex.cache_read_tokens, ex.input_tokens = system_tokens, ex.input_tokens - system_tokens
        elif cache < 0.6:
            ex.cache_write_tokens, ex.input_tokens = system_tokens, ex.input_tokens - system_tokens
    ex.output_tokens = out_tokens
    return ex, domain, outcome, refused


def make_record(rng: random.Random, scenario: Scenario, hour: datetime) -> Generated:
    active = scenario.active(hour)
    caller = rng.choices(scenario.callers, weights=[c.weight for c in scenario.callers])[0]
    use: ModelUse = rng.choices(caller.models, weights=[m.weight for m in caller.models])[0]
    if "model_swap" in active and use.base_id == SWAP_FROM and rng.random() < active["model_swap"]:
        use = replace(use, base_id=SWAP_TO)
    spec = MODELS[use.base_id]
    operation = _pick(rng, caller.operations)
    event_time = hour + timedelta(seconds=rng.randrange(3600))
    request_id = _uuid(rng)
    rec: dict[str, Any] = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": event_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "accountId": caller.account,
        "identity": {"arn": _identity(rng, caller)},
        "region": caller.region,
        "requestId": request_id,
        "operation": operation,
        "modelId": model_id(use, caller.region, caller.account),
    }
    routed = inference_region(use, caller.region, rng.random())
    if routed:
        rec["inferenceRegion"] = routed
    if caller.metadata or caller.trace_ids:
        meta = dict(caller.metadata)
        if caller.trace_ids:
            meta["traceId"] = _uuid(rng)
        rec["requestMetadata"] = meta

    ex, domain, outcome, refused = _exchange(
        rng, caller, spec.refusal_style, spec.family, spec.caches, active, scenario
    )
    ex.extra = {
        "msg_id": f"{rng.getrandbits(96):024x}",
        "tool_id": f"{rng.getrandbits(64):016x}",
        "model_name": spec.body_name,
    }
    ex.first_byte_ms = int(spec.first_byte_ms * rng.uniform(0.6, 1.8) + ex.input_tokens * 0.02)
    ex.latency_ms = ex.first_byte_ms + int(ex.output_tokens * spec.ms_per_token * rng.uniform(0.8, 1.3))

    generated = Generated(
        rec, caller.account, caller.region, event_time, hour, domain=domain, outcome=outcome, refused=refused
    )
    if rng.random() < scenario.error_rate:
        generated.outcome, generated.refused = "error", False
        rec["errorCode"] = rng.choices([c for c, _ in ERROR_CODES], weights=[w for _, w in ERROR_CODES])[0]
        in_body, _ = bodies(spec.family, operation, ex, rng)
        rec["input"] = (
            {"inputContentType": "application/json", "inputBodyJson": in_body}
            if caller.text_delivery and rng.random() < 0.5
            else {}
        )
        rec["output"] = {}
        return generated
    in_body, out_body = bodies(spec.family, operation, ex, rng)
    inp: dict[str, Any] = {"inputContentType": "application/json"}
    out: dict[str, Any] = {"outputContentType": "application/json"}
    if caller.text_delivery:
        for side, section, body in (("input", inp, in_body), ("output", out, out_body)):
            key = f"{side}BodyJson"
            if len(json.dumps(body)) > scenario.offload_bytes or rng.random() < scenario.offload_rate:
                section[f"{side}BodyS3Path"] = ""  # filled in by the writer, which knows the folder
                generated.offloaded[side] = body
            else:
                section[key] = body
    inp["inputTokenCount"] = ex.input_tokens
    if ex.cache_read_tokens or ex.cache_write_tokens or (spec.caches and rng.random() < 0.5):
        inp["cacheReadInputTokenCount"] = ex.cache_read_tokens
        inp["cacheWriteInputTokenCount"] = ex.cache_write_tokens
    out["outputTokenCount"] = ex.output_tokens
    rec["input"], rec["output"] = inp, out
    if rng.random() < scenario.malformed_rate:
        _damage(rng, rec)
    if rng.random() < 0.5:  # the key order differs between deliveries (spec §1.2): never parse by position
        rec = {
            k: rec[k]
            for k in (
                *[k for k in rec if k not in ("schemaType", "schemaVersion", "identity")],
                "identity",
                "schemaType",
                "schemaVersion",
            )
        }
        generated.record = rec
    return generated


def _damage(rng: random.Random, rec: dict[str, Any]) -> None:
    """Damage a record the way published samples were truncated by their authors."""
    inp, out = rec["input"], rec["output"]
    choice = rng.random()
    if choice < 0.4 and isinstance(inp.get("inputBodyJson"), dict) and "messages" in inp["inputBodyJson"]:
        inp["inputBodyJson"]["messages"] = "[...truncated...]"
    elif choice < 0.7 and "outputBodyJson" in out:
        out["outputBodyJson"] = (
            ["[...truncated stream events...]"]
            if isinstance(out["outputBodyJson"], list)
            else {"output": "[...truncated...]"}
        )
    else:
        inp["inputTokenCount"] = "many"


def records_for_hour(scenario: Scenario, hour: datetime) -> list[Generated]:
    rng = random.Random(f"{scenario.seed}:{hour:%Y%m%d%H}")
    expected = expected_per_hour(scenario, hour)
    count = max(0, round(expected * rng.uniform(0.85, 1.15)))
    out = [make_record(rng, scenario, hour) for _ in range(count)]
    out.sort(key=lambda g: (g.event_time, g.record["requestId"]))
    for g in out:
        # A few records written near the end of an hour are delivered into the next hour's folder.
        if g.event_time.minute >= 58 and rng.random() < 0.3:
            g.folder_hour = hour + timedelta(hours=1)
    return out

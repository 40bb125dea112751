"""The demo organisation: models on Bedrock and the callers (IAM users, assumed roles) that use them.

Each caller is an application with its own volume (skewed, a few callers make most calls), topic mix,
models and model-id forms (bare ids, geo/global profiles, ARNs), operations, system prompts and request
metadata, so per-caller and per-model slices differ the way they do in a real account.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelSpec:
    base_id: str
    family: str  # see generate.bodies.FAMILIES
    refusal_style: str  # see generate.text.REFUSAL_STYLES
    ms_per_token: float  # generation speed
    first_byte_ms: int
    caches: bool = False  # supports prompt caching
    body_name: str = ""  # the model name Anthropic bodies carry


MODELS: dict[str, ModelSpec] = {
    m.base_id: m
    for m in (
        ModelSpec(
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            "anthropic_messages",
            "anthropic",
            18,
            700,
            True,
            "claude-3-5-sonnet-20240620",
        ),
        ModelSpec(
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "anthropic_messages",
            "anthropic",
            9,
            400,
            True,
            "claude-3-5-haiku-20241022",
        ),
        ModelSpec(
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic_messages",
            "anthropic",
            16,
            900,
            True,
            "claude-sonnet-4-5-20250929",
        ),
        ModelSpec(
            "anthropic.claude-haiku-4-5-20251001-v1:0",
            "anthropic_messages",
            "anthropic",
            8,
            450,
            True,
            "claude-haiku-4-5-20251001",
        ),
        ModelSpec("anthropic.claude-v2:1", "anthropic_text", "anthropic", 25, 800),
        ModelSpec("anthropic.claude-instant-v1", "anthropic_text", "anthropic", 10, 400),
        ModelSpec("amazon.titan-text-express-v1", "titan_text", "amazon", 12, 500),
        ModelSpec("amazon.titan-text-premier-v1:0", "titan_text", "amazon", 15, 600),
        ModelSpec("amazon.nova-micro-v1:0", "nova", "amazon", 4, 250, True),
        ModelSpec("amazon.nova-lite-v1:0", "nova", "amazon", 6, 300, True),
        ModelSpec("amazon.nova-pro-v1:0", "nova", "amazon", 10, 450, True),
        ModelSpec("meta.llama3-1-70b-instruct-v1:0", "llama3", "meta", 14, 600),
        ModelSpec("meta.llama3-8b-instruct-v1:0", "llama3", "meta", 6, 300),
        ModelSpec("meta.llama2-13b-chat-v1", "llama2", "meta", 10, 500),
        ModelSpec("mistral.mistral-7b-instruct-v0:2", "mistral_text", "mistral", 6, 300),
        ModelSpec("mistral.mixtral-8x7b-instruct-v0:1", "mistral_text", "mistral", 9, 400),
        ModelSpec("mistral.mistral-large-2407-v1:0", "mistral_chat", "mistral", 16, 700),
        ModelSpec("cohere.command-text-v14", "cohere_command", "cohere", 12, 500),
        ModelSpec("cohere.command-r-plus-v1:0", "cohere_chat", "cohere", 15, 600),
        ModelSpec("ai21.jamba-1-5-mini-v1:0", "jamba", "ai21", 7, 350),
        ModelSpec("openai.gpt-oss-120b-1:0", "openai_chat", "openai", 8, 400),
    )
}

# How a caller names a model in modelId.
ID_FORMS = ("bare", "geo", "global", "foundation_arn", "profile_arn", "application_profile", "provisioned")


@dataclass(frozen=True)
class ModelUse:
    base_id: str
    id_form: str = "bare"
    weight: float = 1.0
    opaque_id: str = ""  # application-inference-profile or provisioned-model resource id


@dataclass(frozen=True)
class Caller:
    name: str
    kind: str  # user | assumed_role
    weight: float  # share of traffic
    domains: dict[str, float]
    models: tuple[ModelUse, ...]
    operations: dict[str, float]
    system_rate: float = 0.5
    multi_turn_rate: float = 0.2
    length: float = 1.0
    metadata: dict[str, str] = field(default_factory=dict)
    trace_ids: bool = False
    tools: bool = False
    guardrail: bool = False
    pii_rate: float = 0.03
    region: str = "us-east-1"
    account: str = "111122223333"
    text_delivery: bool = True  # False: metadata-only records, as with text delivery disabled


CALLERS: tuple[Caller, ...] = (
    Caller(
        "support-bot-prod",
        "assumed_role",
        30.0,
        {"customer_support": 0.8, "travel": 0.1, "finance": 0.1},
        (
            ModelUse("amazon.nova-lite-v1:0", "geo", 3.0),
            ModelUse("anthropic.claude-3-5-haiku-20241022-v1:0", "geo"),
        ),
        {"ConverseStream": 0.8, "Converse": 0.2},
        system_rate=0.95,
        multi_turn_rate=0.45,
        metadata={"app": "support-bot", "team": "cx"},
        trace_ids=True,
        guardrail=True,
        pii_rate=0.08,
    ),
    Caller(
        "alice.chen",
        "user",
        12.0,
        {"coding": 0.85, "education": 0.15},
        (
            ModelUse("anthropic.claude-sonnet-4-5-20250929-v1:0", "global", 3.0),
            ModelUse("anthropic.claude-3-5-sonnet-20240620-v1:0", "bare"),
        ),
        {"Converse": 0.5, "InvokeModel": 0.3, "InvokeModelWithResponseStream": 0.2},
        system_rate=0.3,
        multi_turn_rate=0.35,
        length=1.3,
        tools=True,
    ),
    Caller(
        "legal-review-lambda",
        "assumed_role",
        9.0,
        {"legal": 0.9, "hr": 0.1},
        (ModelUse("anthropic.claude-sonnet-4-5-20250929-v1:0", "application_profile", 1.0, "k3x9q2lmw7ab"),),
        {"InvokeModel": 1.0},
        system_rate=1.0,
        multi_turn_rate=0.0,
        length=1.6,
        metadata={"app": "contract-review"},
    ),
    Caller(
        "travel-concierge",
        "assumed_role",
        8.0,
        {"travel": 0.85, "customer_support": 0.15},
        (ModelUse("meta.llama3-1-70b-instruct-v1:0", "geo", 2.0), ModelUse("meta.llama3-8b-instruct-v1:0")),
        {"InvokeModelWithResponseStream": 0.7, "InvokeModel": 0.3},
        system_rate=0.8,
        multi_turn_rate=0.4,
    ),
    Caller(
        "hr-assistant-ecs",
        "assumed_role",
        6.0,
        {"hr": 0.85, "legal": 0.15},
        (
            ModelUse("amazon.titan-text-premier-v1:0", "bare", 1.0),
            ModelUse("ai21.jamba-1-5-mini-v1:0", "bare", 1.0),
        ),
        {"InvokeModel": 0.7, "InvokeModelWithResponseStream": 0.3},
        system_rate=0.6,
        guardrail=True,
        pii_rate=0.1,
        metadata={"app": "hr-assistant", "team": "people"},
    ),
    Caller(
        "marketing-content",
        "assumed_role",
        6.0,
        {"marketing": 0.8, "creative_writing": 0.2},
        (
            ModelUse("cohere.command-r-plus-v1:0", "bare", 2.0),
            ModelUse("mistral.mistral-large-2407-v1:0", "bare"),
            ModelUse("cohere.command-text-v14", "bare", 0.5),
        ),
        {"InvokeModel": 0.6, "InvokeModelWithResponseStream": 0.4},
        length=1.4,
    ),
    Caller(
        "med-notes-summarizer",
        "assumed_role",
        5.0,
        {"medical": 1.0},
        (ModelUse("anthropic.claude-3-5-sonnet-20240620-v1:0", "provisioned", 1.0, "a1b2c3d4e5f6"),),
        {"InvokeModel": 1.0},
        system_rate=1.0,
        multi_turn_rate=0.0,
        pii_rate=0.15,
        guardrail=True,
    ),
    Caller(
        "bob.martinez",
        "user",
        4.0,
        {"finance": 0.8, "coding": 0.2},
        (ModelUse("amazon.nova-pro-v1:0", "foundation_arn"), ModelUse("openai.gpt-oss-120b-1:0", "bare")),
        {"Converse": 0.7, "InvokeModel": 0.3},
        system_rate=0.2,
        multi_turn_rate=0.25,
    ),
    Caller(
        "tutor-app",
        "assumed_role",
        5.0,
        {"education": 0.9, "creative_writing": 0.1},
        (
            ModelUse("amazon.nova-micro-v1:0", "profile_arn", 2.0),
            ModelUse("mistral.mixtral-8x7b-instruct-v0:1"),
            ModelUse("mistral.mistral-7b-instruct-v0:2", "bare", 0.5),
        ),
        {"ConverseStream": 0.5, "InvokeModel": 0.3, "InvokeModelWithResponseStream": 0.2},
        system_rate=0.9,
        multi_turn_rate=0.3,
        metadata={"app": "tutor"},
        trace_ids=True,
    ),
    Caller(
        "creative-studio",
        "assumed_role",
        3.0,
        {"creative_writing": 0.9, "marketing": 0.1},
        (
            ModelUse("anthropic.claude-v2:1"),
            ModelUse("anthropic.claude-instant-v1"),
            ModelUse("meta.llama2-13b-chat-v1", "bare", 0.5),
            ModelUse("amazon.titan-text-express-v1", "bare", 0.5),
        ),
        {"InvokeModelWithResponseStream": 0.6, "InvokeModel": 0.4},
        length=1.8,
    ),
    Caller(
        "eu-analytics",
        "assumed_role",
        2.0,
        {"finance": 0.5, "marketing": 0.3, "hr": 0.2},
        (
            ModelUse("amazon.nova-lite-v1:0", "geo"),
            ModelUse("anthropic.claude-haiku-4-5-20251001-v1:0", "geo"),
        ),
        {"Converse": 1.0},
        region="eu-west-1",
        account="444455556666",
        text_delivery=False,
    ),
    Caller(
        "dev-sandbox",
        "user",
        1.0,
        {"coding": 0.4, "customer_support": 0.2, "travel": 0.2, "medical": 0.2},
        (ModelUse("anthropic.claude-haiku-4-5-20251001-v1:0", "global"), ModelUse("cohere.command-text-v14")),
        {"Converse": 0.5, "InvokeModel": 0.5},
        system_rate=0.1,
    ),
)


_GEO = {
    "us-east-1": "us",
    "us-west-2": "us",
    "eu-west-1": "eu",
    "eu-central-1": "eu",
    "ap-northeast-1": "apac",
}


def model_id(use: ModelUse, region: str, account: str) -> str:
    """The modelId string this caller sends."""
    geo = _GEO.get(region, "us")
    base = use.base_id
    if use.id_form == "bare":
        return base
    if use.id_form == "geo":
        return f"{geo}.{base}"
    if use.id_form == "global":
        return f"global.{base}"
    if use.id_form == "foundation_arn":
        return f"arn:aws:bedrock:{region}::foundation-model/{base}"
    if use.id_form == "profile_arn":
        return f"arn:aws:bedrock:{region}:{account}:inference-profile/{geo}.{base}"
    if use.id_form == "application_profile":
        return f"arn:aws:bedrock:{region}:{account}:application-inference-profile/{use.opaque_id}"
    if use.id_form == "provisioned":
        return f"arn:aws:bedrock:{region}:{account}:provisioned-model/{use.opaque_id}"
    raise ValueError(f"unknown model id form {use.id_form!r}")


def inference_region(use: ModelUse, region: str, pick: float) -> str | None:
    """Where a cross-region profile routed the call (``pick`` in [0, 1)); None when not routed."""
    if use.id_form in ("geo", "profile_arn"):
        options = {
            "us": ["us-east-1", "us-east-2", "us-west-2"],
            "eu": ["eu-west-1", "eu-central-1", "eu-west-3"],
            "apac": ["ap-northeast-1", "ap-southeast-2"],
        }[_GEO.get(region, "us")]
        return options[int(pick * len(options))]
    if use.id_form == "global":
        options = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "ap-southeast-4"]
        return options[int(pick * len(options))]
    return None

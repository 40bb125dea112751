"""Bedrock model ids: bare ids, geo/global inference-profile ids and ARNs -> base model, provider, scope.

``modelId`` in a log record is one of
- a bare foundation-model id: ``anthropic.claude-3-5-sonnet-20240620-v1:0``  (scope ``in_region``)
- a geo or global inference-profile id: ``us.anthropic...``, ``eu.``, ``apac.``, ``global.`` (``geo``/``global``)
- an ARN: ``...:foundation-model/<id>``, ``...:inference-profile/<profile id>`` (resolved like the id inside),
  ``...:application-inference-profile/<opaque>`` (no base model without a user mapping),
  ``...:provisioned-model/<id>``, ``...:custom-model/...``, ``...:imported-model/...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_ARN = re.compile(
    r"^arn:aws[\w-]*:bedrock:(?P<region>[a-z0-9-]*):(?P<account>\d{12})?:"
    r"(?P<rtype>foundation-model|inference-profile|application-inference-profile|provisioned-model"
    r"|custom-model-deployment|custom-model|imported-model|prompt-router|default-prompt-router|prompt)"
    r"/(?P<rid>.+)$"
)
_PROFILE = re.compile(r"^(?P<scope>us-gov|us|eu|apac|jp|au|ca|global)\.(?P<base>[a-z0-9-]+\..+)$")

GEO_PREFIXES = ("us", "eu", "apac", "jp", "au", "ca", "us-gov")


@dataclass(frozen=True)
class ModelRef:
    base_model_id: str | None
    provider: str | None
    endpoint_scope: str  # in_region | geo | global | application_profile | provisioned | custom | unknown


def _provider(base: str) -> str | None:
    head, sep, _ = base.partition(".")
    return head if sep and head else None


def _from_id(model_id: str) -> ModelRef:
    m = _PROFILE.match(model_id)
    if m:
        scope = "global" if m["scope"] == "global" else "geo"
        return ModelRef(m["base"], _provider(m["base"]), scope)
    return ModelRef(model_id, _provider(model_id), "in_region")


@lru_cache(maxsize=4096)
def resolve_model_id(model_id: str | None) -> ModelRef:
    """Normalize a logged ``modelId``; never raises."""
    if not model_id:
        return ModelRef(None, None, "unknown")
    arn = _ARN.match(model_id)
    if not arn:
        return _from_id(model_id)
    rtype, rid = arn["rtype"], arn["rid"]
    if rtype in ("foundation-model", "inference-profile"):
        return _from_id(rid)
    if rtype == "application-inference-profile":
        return ModelRef(None, None, "application_profile")
    if rtype == "provisioned-model":
        return ModelRef(None, None, "provisioned")
    if rtype in ("custom-model", "custom-model-deployment", "imported-model"):
        # custom-model/<base model id>/<suffix>: the base it was customised from is a useful hint.
        base = rid.split("/")[0] if rtype == "custom-model" and "." in rid.split("/")[0] else None
        return ModelRef(base, _provider(base) if base else None, "custom")
    return ModelRef(None, None, "unknown")

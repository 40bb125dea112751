"""modelId normalisation: bare ids, geo/global profiles and every ARN kind."""

from __future__ import annotations

import pytest

from llmdrift.bedrock.models import ModelRef, resolve_model_id


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        (
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            ModelRef("anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic", "in_region"),
        ),
        (
            "us.anthropic.claude-3-5-haiku-20241022-v1:0",
            ModelRef("anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic", "geo"),
        ),
        ("apac.amazon.nova-micro-v1:0", ModelRef("amazon.nova-micro-v1:0", "amazon", "geo")),
        ("us-gov.meta.llama3-8b-instruct-v1:0", ModelRef("meta.llama3-8b-instruct-v1:0", "meta", "geo")),
        (
            "global.anthropic.claude-opus-4-6-v1",
            ModelRef("anthropic.claude-opus-4-6-v1", "anthropic", "global"),
        ),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1",
            ModelRef("amazon.titan-text-express-v1", "amazon", "in_region"),
        ),
        (
            "arn:aws:bedrock:us-west-2:565521294060:inference-profile/global.anthropic.claude-opus-4-7",
            ModelRef("anthropic.claude-opus-4-7", "anthropic", "global"),
        ),
        (
            "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.amazon.nova-lite-v1:0",
            ModelRef("amazon.nova-lite-v1:0", "amazon", "geo"),
        ),
        (
            "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/k3x9q2lmw7ab",
            ModelRef(None, None, "application_profile"),
        ),
        (
            "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/a1b2c3d4e5f6",
            ModelRef(None, None, "provisioned"),
        ),
        (
            "arn:aws:bedrock:us-east-1:111122223333:custom-model/amazon.titan-text-express-v1:0:8k/x1y2",
            ModelRef("amazon.titan-text-express-v1:0:8k", "amazon", "custom"),
        ),
        ("arn:aws:bedrock:us-east-1:111122223333:imported-model/abc123", ModelRef(None, None, "custom")),
        (
            "arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/meta.llama3-8b-instruct-v1:0",
            ModelRef("meta.llama3-8b-instruct-v1:0", "meta", "in_region"),
        ),
        (None, ModelRef(None, None, "unknown")),
        ("", ModelRef(None, None, "unknown")),
    ],
)
def test_resolve(model_id: str | None, expected: ModelRef) -> None:
    assert resolve_model_id(model_id) == expected

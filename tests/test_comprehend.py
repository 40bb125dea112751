"""The Amazon Comprehend backend, against botocore's Stubber.

Amazon Comprehend has no local server (no emulator or container runs its models), so these tests use
botocore's Stubber as the emulator: a real ``comprehend`` client whose requests are validated against the
service model and checked with ``expected_params``, answered with canned responses, and never sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from llmdrift.score import comprehend
from llmdrift.score.comprehend import ComprehendError, ComprehendScorer, utf8_chunks


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "comprehend", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


@pytest.fixture
def stub(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def scorer(client: Any, sleeps: list[float]) -> ComprehendScorer:
    return ComprehendScorer(client, sleep=sleeps.append)


def sentiment_result(index: int, positive: float, negative: float) -> dict[str, Any]:
    neutral = max(0.0, 1.0 - positive - negative)
    return {
        "Index": index,
        "Sentiment": "POSITIVE" if positive >= negative else "NEGATIVE",
        "SentimentScore": {"Positive": positive, "Negative": negative, "Neutral": neutral, "Mixed": 0.0},
    }


def toxic_result(toxicity: float) -> dict[str, Any]:
    return {"Labels": [{"Name": "INSULT", "Score": toxicity}], "Toxicity": toxicity}


def toxic_params(segments: list[str]) -> dict[str, Any]:
    return {"TextSegments": [{"Text": s} for s in segments], "LanguageCode": "en"}


# utf8_chunks


def test_chunks_ascii_prefer_whitespace() -> None:
    text = "word " * 100  # 500 bytes
    chunks = utf8_chunks(text, 64)
    assert "".join(chunks) == text
    assert all(len(c.encode()) <= 64 for c in chunks)
    assert chunks[0] == "word " * 12  # cut after the last space that fits (60 bytes), not mid-word
    assert all(c.endswith(" ") for c in chunks)


def test_chunks_without_whitespace_cut_at_limit() -> None:
    assert utf8_chunks("a" * 100, 30) == ["a" * 30, "a" * 30, "a" * 30, "a" * 10]
    # the only space lies outside the last fifth of the piece, so it is ignored
    text = "ab " + "x" * 100
    chunks = utf8_chunks(text, 50)
    assert chunks[0] == "ab " + "x" * 47
    assert "".join(chunks) == text


def test_chunks_multibyte_never_split() -> None:
    assert utf8_chunks("😀" * 10, 10) == ["😀😀"] * 5  # 4-byte characters: two fit in 10 bytes
    assert utf8_chunks("漢字" * 5, 7) == ["漢字", "漢字", "漢字", "漢字", "漢字"]  # 3-byte characters
    text = "😀 漢字 é" * 200 + "🏳️‍🌈" * 30
    for limit in (4, 5, 7, 16, 100, 1024):
        chunks = utf8_chunks(text, limit)
        assert "".join(chunks) == text
        assert all(0 < len(c.encode("utf-8")) <= limit for c in chunks)


def test_chunks_short_text_is_one_piece() -> None:
    assert utf8_chunks("  hello  ", 1024) == ["  hello  "]


def test_chunks_blank_and_bad_limit() -> None:
    assert utf8_chunks("", 100) == []
    assert utf8_chunks(" \n\t\u3000 ", 100) == []
    with pytest.raises(ValueError, match="at least 4"):
        utf8_chunks("abc", 3)


@given(st.text(min_size=1, max_size=300), st.integers(min_value=4, max_value=64))
def test_chunks_lossless_and_bounded(text: str, limit: int) -> None:
    chunks = utf8_chunks(text, limit)
    if text.isspace():
        assert chunks == []
    else:
        assert "".join(chunks) == text
        assert all(0 < len(c.encode("utf-8")) <= limit for c in chunks)


# sentiment


def test_sentiment_batches_of_25_mapped_back(scorer: ComprehendScorer, stub: Stubber) -> None:
    texts = [f"review number {i}" for i in range(60)]
    for start, size in ((0, 25), (25, 25), (50, 10)):
        batch = texts[start : start + size]
        # results come back in reverse order: only Index places them
        results = [sentiment_result(j, (start + j) / 100, 0.25) for j in reversed(range(size))]
        stub.add_response(
            "batch_detect_sentiment",
            {"ResultList": results, "ErrorList": []},
            {"TextList": batch, "LanguageCode": "en"},
        )
    scores = scorer.sentiment(texts)
    assert scores == [pytest.approx(i / 100 - 0.25) for i in range(60)]
    assert scorer.calls == 3
    assert scorer.errors == 0


def test_sentiment_nulls_and_duplicates(scorer: ComprehendScorer, stub: Stubber) -> None:
    stub.add_response(
        "batch_detect_sentiment",
        {"ResultList": [sentiment_result(0, 0.9, 0.05), sentiment_result(1, 0.1, 0.8)], "ErrorList": []},
        {"TextList": ["great answer", "awful answer"], "LanguageCode": "en"},
    )
    scores = scorer.sentiment(
        ["great answer", None, "   ", "great answer", "awful answer", " great answer\n"]
    )
    assert scores == [
        pytest.approx(0.85),
        None,
        None,
        pytest.approx(0.85),
        pytest.approx(-0.7),
        pytest.approx(0.85),
    ]
    assert scorer.calls == 1


def test_sentiment_all_blank_makes_no_call(scorer: ComprehendScorer, stub: Stubber) -> None:
    assert scorer.sentiment([None, "", " \n"]) == [None, None, None]
    assert scorer.sentiment([]) == []
    assert scorer.calls == 0


def test_sentiment_error_list_item_is_null(scorer: ComprehendScorer, stub: Stubber) -> None:
    stub.add_response(
        "batch_detect_sentiment",
        {
            "ResultList": [sentiment_result(0, 0.6, 0.1), sentiment_result(2, 0.0, 1.0)],
            "ErrorList": [{"Index": 1, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "boom"}],
        },
        {"TextList": ["fine", "odd", "bad"], "LanguageCode": "en"},
    )
    assert scorer.sentiment(["fine", "odd", "bad", "odd"]) == [pytest.approx(0.5), None, -1.0, None]
    assert scorer.errors == 1


def test_sentiment_long_text_truncated_on_a_character(scorer: ComprehendScorer, stub: Stubber) -> None:
    text = "x" + "日本語" * 2000  # 6,001 bytes, no whitespace
    head = "x" + ("日本語" * 2000)[:1666]  # 4,999 bytes: a 1,667th character would not fit
    assert len(head.encode("utf-8")) == 4999
    stub.add_response(
        "batch_detect_sentiment",
        {"ResultList": [sentiment_result(0, 0.2, 0.1)], "ErrorList": []},
        {"TextList": [head], "LanguageCode": "en"},
    )
    assert scorer.sentiment([text]) == [pytest.approx(0.1)]


def test_sentiment_language_is_passed(client: Any, stub: Stubber) -> None:
    scorer = ComprehendScorer(client, language="de")
    stub.add_response(
        "batch_detect_sentiment",
        {"ResultList": [sentiment_result(0, 0.7, 0.2)], "ErrorList": []},
        {"TextList": ["gut"], "LanguageCode": "de"},
    )
    assert scorer.sentiment(["gut"]) == [pytest.approx(0.5)]


# toxicity


def test_toxicity_long_text_split_max_taken(scorer: ComprehendScorer, stub: Stubber) -> None:
    sentences = [chr(ord("a") + k) * 99 + " " for k in range(26)] + ["z" * 99 + " "] * 4
    text = "".join(sentences)  # 3,000 bytes: three segments of 1,000 (each cut after a space)
    segments = ["".join(sentences[0:10]), "".join(sentences[10:20]), "".join(sentences[20:30]).rstrip()]
    stub.add_response(
        "detect_toxic_content",
        {"ResultList": [toxic_result(0.1), toxic_result(0.8), toxic_result(0.3)]},
        toxic_params(segments),
    )
    assert scorer.toxicity([text]) == [pytest.approx(0.8)]
    assert scorer.calls == 1


def test_toxicity_packs_segments_of_several_texts(scorer: ComprehendScorer, stub: Stubber) -> None:
    long_text = "b" * 1500  # two segments: 1,024 + 476 bytes
    texts: list[str | None] = [f"short {i}" for i in range(23)]
    texts.insert(5, long_text)
    texts.insert(9, None)
    texts.append("short 3")  # duplicate: no extra segment
    sent = [*(f"short {i}" for i in range(5)), "b" * 1024, "b" * 476, *(f"short {i}" for i in range(5, 23))]
    value = {segment: round(0.01 * (k + 1), 2) for k, segment in enumerate(sent)}
    for start in (0, 10, 20):
        batch = sent[start : start + 10]
        stub.add_response(
            "detect_toxic_content",
            {"ResultList": [toxic_result(value[s]) for s in batch]},
            toxic_params(batch),
        )
    scores = scorer.toxicity(texts)
    assert scorer.calls == 3  # 25 segments: 10 + 10 + 5
    assert scores[5] == pytest.approx(max(value["b" * 1024], value["b" * 476]))
    assert scores[9] is None
    for i, text in enumerate(texts):
        if text is not None and text.startswith("short"):
            assert scores[i] == pytest.approx(value[text])


def test_toxicity_call_byte_limit(
    scorer: ComprehendScorer, stub: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(comprehend, "TOXICITY_CALL_BYTES", 2500)
    texts = [c * 1000 for c in "pqrst"]
    for batch in (texts[0:2], texts[2:4], texts[4:5]):
        stub.add_response(
            "detect_toxic_content", {"ResultList": [toxic_result(0.5) for _ in batch]}, toxic_params(batch)
        )
    assert scorer.toxicity(texts) == [0.5] * 5
    assert scorer.calls == 3


def test_toxicity_caps_segments_per_text(scorer: ComprehendScorer, stub: Stubber) -> None:
    pieces = [chr(0x4E00 + k) * 341 + " " for k in range(30)]  # distinct 1,024-byte segments
    text = "".join(pieces)
    assert utf8_chunks(text, 1024) == pieces
    for start in (0, 10):  # only the first 20 segments are sent
        batch = pieces[start : start + 10]
        stub.add_response(
            "detect_toxic_content",
            {"ResultList": [toxic_result((start + k) / 100) for k in range(10)]},
            toxic_params(batch),
        )
    assert scorer.toxicity([text]) == [pytest.approx(0.19)]
    assert scorer.calls == 2


def test_toxicity_blank_makes_no_call(scorer: ComprehendScorer, stub: Stubber) -> None:
    assert scorer.toxicity([None, "", "\t "]) == [None, None, None]
    assert scorer.calls == 0


# retries


def test_throttling_then_success(scorer: ComprehendScorer, stub: Stubber, sleeps: list[float]) -> None:
    stub.add_client_error("batch_detect_sentiment", service_error_code="ThrottlingException")
    stub.add_client_error("batch_detect_sentiment", service_error_code="TooManyRequestsException")
    stub.add_client_error(
        "batch_detect_sentiment", service_error_code="InternalServerException", http_status_code=500
    )
    stub.add_response(
        "batch_detect_sentiment",
        {"ResultList": [sentiment_result(0, 0.4, 0.1)], "ErrorList": []},
        {"TextList": ["ok"], "LanguageCode": "en"},
    )
    assert scorer.sentiment(["ok"]) == [pytest.approx(0.3)]
    assert scorer.calls == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_retries_exhausted(client: Any, stub: Stubber, sleeps: list[float]) -> None:
    scorer = ComprehendScorer(client, max_retries=2, sleep=sleeps.append)
    for _ in range(3):
        stub.add_client_error("detect_toxic_content", service_error_code="ThrottlingException")
    with pytest.raises(ComprehendError, match=r"detect_toxic_content .*2 retries.*ThrottlingException"):
        scorer.toxicity(["hello"])
    assert scorer.calls == 3
    assert sleeps == [0.5, 1.0]


def test_backoff_is_capped(client: Any, stub: Stubber, sleeps: list[float]) -> None:
    scorer = ComprehendScorer(client, max_retries=8, sleep=sleeps.append)
    for _ in range(8):
        stub.add_client_error("detect_toxic_content", service_error_code="ThrottlingException")
    stub.add_response("detect_toxic_content", {"ResultList": [toxic_result(0.0)]}, toxic_params(["hi"]))
    assert scorer.toxicity(["hi"]) == [0.0]
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]


@pytest.mark.parametrize("code", ["InvalidRequestException", "TextSizeLimitExceededException"])
def test_non_retryable_error_raises_at_once(
    scorer: ComprehendScorer, stub: Stubber, sleeps: list[float], code: str
) -> None:
    stub.add_client_error("batch_detect_sentiment", service_error_code=code, service_message="no good")
    with pytest.raises(ComprehendError, match=rf"batch_detect_sentiment failed: {code}: no good"):
        scorer.sentiment(["text"])
    assert scorer.calls == 1
    assert sleeps == []


def test_wrong_result_count_raises(scorer: ComprehendScorer, stub: Stubber) -> None:
    stub.add_response("detect_toxic_content", {"ResultList": [toxic_result(0.1)]}, toxic_params(["a", "b"]))
    with pytest.raises(ComprehendError, match="1 results for 2 segments"):
        scorer.toxicity(["a", "b"])


# client creation


def test_client_made_lazily_without_botocore_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[dict[str, Any]] = []

    def fake_client(service: str, **kwargs: Any) -> str:
        made.append({"service": service, **kwargs})
        return "client"

    monkeypatch.setattr(boto3, "client", fake_client)
    scorer = ComprehendScorer(region="eu-west-1")
    assert scorer.sentiment([None]) == [None]
    assert made == []
    assert scorer.client == "client"
    assert scorer.client == "client"
    assert len(made) == 1
    assert made[0]["service"] == "comprehend"
    assert made[0]["region_name"] == "eu-west-1"
    assert made[0]["config"].retries == {"total_max_attempts": 1}

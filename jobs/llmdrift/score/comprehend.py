"""Optional Amazon Comprehend backend for sentiment and toxicity scores.

An alternative to the local text models (``llmdrift.score.heads``) for accounts that prefer AWS's managed
models. It costs per call, so calls are batched and identical texts are sent once per call of a method.

- Sentiment: ``BatchDetectSentiment`` (25 documents a call, 5,000 UTF-8 bytes each). A longer text is
  scored on its first 5,000 bytes (cut on a character, preferably a whitespace, boundary): the opening
  carries the tone, as in the local scorer. The score is ``Positive - Negative``, in [-1, 1].
- Toxicity: ``DetectToxicContent`` (10 segments a call, 1 KB each, 10 KB in all). A text is cut into
  segments of at most 1 KB; segments of several texts share calls; a text's score is the highest
  ``Toxicity`` of its segments. Only the first ``MAX_TOXICITY_SEGMENTS`` segments (about 20 KB) of a text
  are sent, which bounds the cost of very long texts.

Texts are stripped first; a null or blank text scores null without a call. Throttling and internal errors
are retried with exponential backoff (the client made here has botocore's own retries turned off, so
these are the only ones); other errors raise :class:`ComprehendError` at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from llmdrift.core.errors import LlmdriftError

SENTIMENT_BATCH = 25
SENTIMENT_MAX_BYTES = 5_000
TOXICITY_SEGMENTS_PER_CALL = 10
TOXICITY_SEGMENT_BYTES = 1_024
TOXICITY_CALL_BYTES = 10_240
MAX_TOXICITY_SEGMENTS = 20  # about the first 20 KB of a text
RETRYABLE_CODES = frozenset({"ThrottlingException", "TooManyRequestsException", "InternalServerException"})
BACKOFF_BASE = 0.5  # seconds before the first retry; doubled for each next one
BACKOFF_CAP = 20.0

_WHITESPACE_BYTES = (b" ", b"\t", b"\n", b"\r", b"\x0b", b"\x0c")


class ComprehendError(LlmdriftError, RuntimeError):
    """A Comprehend call failed (after retries, for throttling) or returned something unexpected."""


def utf8_chunks(text: str, max_bytes: int) -> list[str]:
    """Split ``text`` into consecutive pieces of at most ``max_bytes`` bytes each in UTF-8.

    Lossless (``"".join(chunks) == text``) and never splits a character. A piece ends after a whitespace
    character when one lies in its last fifth; otherwise it is cut at the last character boundary that
    fits. A blank text gives no pieces. Lone surrogates count as three bytes (``surrogatepass``).
    """
    if max_bytes < 4:
        raise ValueError(f"max_bytes must be at least 4 (one UTF-8 character), got {max_bytes}")
    if not text or text.isspace():
        return []
    data = text.encode("utf-8", "surrogatepass")
    chunks: list[str] = []
    start = 0
    while len(data) - start > max_bytes:
        end = start + max_bytes
        while data[end] & 0xC0 == 0x80:  # data[end] opens the next piece: back off to a lead byte
            end -= 1
        floor = end - max(1, max_bytes // 5)
        space = max(data.rfind(ws, floor, end) for ws in _WHITESPACE_BYTES)
        if space >= 0:
            end = space + 1
        chunks.append(data[start:end].decode("utf-8", "surrogatepass"))
        start = end
    chunks.append(data[start:].decode("utf-8", "surrogatepass"))
    return chunks


def _clean(text: str | None) -> str | None:
    """Strip ``text``; null when null or blank. Characters UTF-8 cannot carry become ``?``."""
    if text is None:
        return None
    stripped = text.strip()
    if not stripped:
        return None
    return stripped.encode("utf-8", "replace").decode("utf-8")


def _head(text: str, max_bytes: int) -> str:
    """The first at most ``max_bytes`` UTF-8 bytes of ``text``, cut as :func:`utf8_chunks` cuts."""
    # A character is at least one byte, so the first max_bytes characters hold the first max_bytes bytes.
    chunks = utf8_chunks(text[:max_bytes], max_bytes)
    return chunks[0] if chunks else ""


class ComprehendScorer:
    """Sentiment and toxicity through Amazon Comprehend.

    ``calls`` counts API requests made (retries included); ``errors`` counts documents that Comprehend
    reported in a sentiment ``ErrorList`` (those score null). Both accumulate over the scorer's life.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        region: str | None = None,
        language: str = "en",
        max_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self._client = client
        self.region = region
        self.language = language
        self.max_retries = max_retries
        self._sleep = sleep
        self.calls = 0
        self.errors = 0

    @property
    def client(self) -> Any:
        """The boto3 Comprehend client, made on first use when none was given."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(retries={"total_max_attempts": 1})  # retries are ours, with our backoff
            self._client = boto3.client("comprehend", region_name=self.region, config=config)
        return self._client

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Call ``operation`` (the client method name), retrying throttling and internal errors."""
        method = getattr(self.client, operation)
        for attempt in range(self.max_retries + 1):
            self.calls += 1
            try:
                response: dict[str, Any] = method(**params)
                return response
            except ClientError as exc:
                error = exc.response.get("Error", {})
                code = str(error.get("Code", "Unknown"))
                status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
                if code not in RETRYABLE_CODES and status < 500:
                    raise ComprehendError(f"{operation} failed: {code}: {error.get('Message', '')}") from exc
                if attempt == self.max_retries:
                    raise ComprehendError(
                        f"{operation} failed after {self.max_retries} retries: {code}: {error.get('Message', '')}"
                    ) from exc
                self._sleep(min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def sentiment(self, texts: Sequence[str | None]) -> list[float | None]:
        """Compound sentiment (``Positive - Negative``, in [-1, 1]) per text; null for null or blank text.

        A text over 5,000 UTF-8 bytes is scored on its first 5,000 bytes. A document Comprehend rejects
        (an ``ErrorList`` entry) scores null and is counted in ``errors``.
        """
        scores: list[float | None] = [None] * len(texts)
        positions: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            cleaned = _clean(text)
            if cleaned is not None:
                positions.setdefault(_head(cleaned, SENTIMENT_MAX_BYTES), []).append(i)
        unique = list(positions)
        for offset in range(0, len(unique), SENTIMENT_BATCH):
            batch = unique[offset : offset + SENTIMENT_BATCH]
            response = self._call("batch_detect_sentiment", TextList=batch, LanguageCode=self.language)
            self.errors += len(response.get("ErrorList", []))
            for result in response.get("ResultList", []):
                index = result["Index"]
                if not 0 <= index < len(batch):
                    raise ComprehendError(
                        f"batch_detect_sentiment returned index {index} for {len(batch)} texts"
                    )
                score = result["SentimentScore"]
                compound = max(-1.0, min(1.0, float(score["Positive"]) - float(score["Negative"])))
                for position in positions[batch[index]]:
                    scores[position] = compound
        return scores

    def toxicity(self, texts: Sequence[str | None]) -> list[float | None]:
        """Toxicity in [0, 1] per text (the highest over its 1 KB segments); null for null or blank text.

        Only the first ``MAX_TOXICITY_SEGMENTS`` segments of a text are scored. Identical segments are sent
        once per call of this method.
        """
        segments_of: list[list[str] | None] = []
        unique: dict[str, None] = {}  # every segment once, in first-seen order
        for text in texts:
            cleaned = _clean(text)
            if cleaned is None:
                segments_of.append(None)
                continue
            window = cleaned[: MAX_TOXICITY_SEGMENTS * TOXICITY_SEGMENT_BYTES]  # holds >= that many bytes
            chunks = utf8_chunks(window, TOXICITY_SEGMENT_BYTES)
            segments = [chunk for chunk in chunks if not chunk.isspace()][:MAX_TOXICITY_SEGMENTS]
            segments_of.append(segments)
            unique.update(dict.fromkeys(segments))

        found: dict[str, float] = {}
        batch: list[str] = []
        batch_bytes = 0
        for segment in unique:
            size = len(segment.encode("utf-8"))
            if batch and (
                len(batch) == TOXICITY_SEGMENTS_PER_CALL or batch_bytes + size > TOXICITY_CALL_BYTES
            ):
                self._score_toxicity(batch, found)
                batch, batch_bytes = [], 0
            batch.append(segment)
            batch_bytes += size
        if batch:
            self._score_toxicity(batch, found)
        return [max(found[s] for s in segments) if segments else None for segments in segments_of]

    def _score_toxicity(self, batch: list[str], into: dict[str, float]) -> None:
        response = self._call(
            "detect_toxic_content",
            TextSegments=[{"Text": segment} for segment in batch],
            LanguageCode=self.language,
        )
        results = response.get("ResultList", [])
        if len(results) != len(batch):
            raise ComprehendError(
                f"detect_toxic_content returned {len(results)} results for {len(batch)} segments"
            )
        for segment, result in zip(batch, results, strict=True):
            into[segment] = float(result["Toxicity"])

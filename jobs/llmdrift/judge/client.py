"""The judge's Bedrock client: one Converse call per judged exchange, with bounded concurrency and our retries.

:class:`JudgeClient` sends each :class:`JudgeRequest` (an invocation's prompt and completion) to the judge model
through the Bedrock Runtime Converse API, with the rubric's system prompt and user message
(:mod:`llmdrift.judge.rubric`), and returns one :class:`JudgeResponse` per request, in request order. It never
raises for a failed item: a call that fails, or a reply that is not a valid verdict, is a response with an
``error_code`` and a ``failure`` reason.

Retries are ours alone: the boto3 client is made with botocore's retries off (one attempt in total), so the
policy below is the whole policy and the tests can count attempts.

- Retried: throttling (``ThrottlingException``, any HTTP 429, ``ModelNotReadyException``), server errors
  (``InternalServerException``, ``ServiceUnavailableException``, any HTTP 5xx), ``ModelTimeoutException``,
  a read or connect timeout (``error_code="Timeout"``) and a dropped connection (``"ConnectionError"``).
- Not retried: every other error (``ValidationException``, ``AccessDeniedException``,
  ``ResourceNotFoundException``, ``ModelErrorException``, missing credentials...), and a reply that does not
  parse (a deterministic judge would answer the same).
- Backoff: full jitter. Before retry ``n`` (1-based) the worker sleeps a uniform random time in
  ``[0, min(max_delay, base_delay * 2 ** (n - 1))]``. Each request draws from its own ``random.Random``,
  seeded from ``seed`` and the request's position when a seed is given, so delays are reproducible
  whatever the thread scheduling.
- ``max_attempts`` counts every call of a request, the first included.

Texts never reach logs or exception messages: the log lines carry request ids, model id, attempt numbers,
error codes and counts. Error messages from the service are dropped (a validation message could quote the
input). The prompt, completion and raw reply are left out of the dataclasses' reprs. Note that botocore's own
DEBUG logging prints request bodies; do not enable it in production.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    HTTPClientError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from llmdrift.judge.rubric import ParseFailure, Rubric, Verdict, build_messages, load_rubric, parse_verdict

log = logging.getLogger(__name__)

RETRYABLE_CODES: Final = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "ModelNotReadyException",
        "InternalServerException",
        "InternalFailure",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "ModelTimeoutException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
TIMEOUT: Final = "Timeout"
CONNECTION_ERROR: Final = "ConnectionError"
PARSE_FAILURE: Final = "ParseFailure"
NO_TEXT: Final = "NoText"
DEFAULT_MAX_CHARS: Final = 4_000
DEFAULT_MAX_TOKENS: Final = 400


@dataclass(frozen=True)
class JudgeRequest:
    """One exchange to judge. ``request_id`` (the invocation's ``requestId``) is what logs name."""

    request_id: str
    prompt: str = field(repr=False)
    completion: str = field(repr=False)


@dataclass(frozen=True)
class JudgeResponse:
    """The outcome of judging one request.

    ``verdict`` is set when the call succeeded and the reply parsed; otherwise ``error_code`` says why
    (a service error code such as ``"ThrottlingException"`` or ``"ValidationException"``, ``"Timeout"``,
    ``"ConnectionError"``, ``"ParseFailure"``, ``"NoText"``) and ``failure`` describes it (codes, numbers and
    key names only). ``raw_text`` is the judge's reply when there was one (kept for audit, even when it did
    not parse). Token counts and ``latency_ms`` (Bedrock's ``metrics.latencyMs``) are those of the last
    successful call; ``elapsed_s`` is the wall time over all attempts and backoff sleeps.
    """

    request_id: str
    verdict: Verdict | None
    error_code: str | None
    failure: str | None
    raw_text: str | None = field(repr=False)
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int | None
    attempts: int
    elapsed_s: float
    stop_reason: str | None = None
    http_status: int | None = None

    @property
    def ok(self) -> bool:
        return self.verdict is not None

    @property
    def status(self) -> str:
        """``judged``, ``unparsed`` (a reply that is not a valid verdict) or ``failed`` (the call failed)."""
        if self.verdict is not None:
            return "judged"
        return "unparsed" if self.error_code in (PARSE_FAILURE, NO_TEXT) else "failed"


@dataclass(frozen=True)
class _CallError:
    code: str
    retryable: bool
    http_status: int | None


def backoff_delay(retry: int, base_delay: float, max_delay: float, rng: random.Random) -> float:
    """Full-jitter delay before retry ``retry`` (1 for the first retry): uniform in [0, min(cap, base*2^(n-1)))."""
    if retry < 1:
        raise ValueError(f"retry must be >= 1, got {retry}")
    ceiling = min(max_delay, base_delay * 2.0 ** min(retry - 1, 62))
    return rng.uniform(0.0, ceiling)


def classify_error(exc: BaseException) -> _CallError | None:
    """The code and retry decision for an exception of a Converse call; ``None`` when it is not a call error."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {}) or {}
        metadata = exc.response.get("ResponseMetadata", {}) or {}
        status_raw = metadata.get("HTTPStatusCode")
        status = int(status_raw) if isinstance(status_raw, int) else None
        code = str(error.get("Code") or (f"HTTP{status}" if status else "Unknown"))
        retryable = code in RETRYABLE_CODES or status == 429 or (status is not None and status >= 500)
        return _CallError(code, retryable, status)
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
        return _CallError(TIMEOUT, True, None)
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return _CallError(CONNECTION_ERROR, True, None)
    if isinstance(exc, BotoCoreError):  # credentials, parameter validation, unreadable response...
        return _CallError(type(exc).__name__, False, None)
    return None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _reply_text(response: dict[str, Any]) -> str | None:
    """The text blocks of ``output.message.content`` joined, or ``None`` when there is none."""
    output = response.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return None
    texts = [
        block["text"] for block in content if isinstance(block, dict) and isinstance(block.get("text"), str)
    ]
    return "".join(texts) if texts else None


class JudgeClient:
    """Judges exchanges with a Bedrock model through the Converse API (see the module docstring).

    ``model_id`` may be a bare model id, an inference-profile id or an ARN. ``endpoint_url`` points the
    client elsewhere (a test server). ``client`` replaces the boto3 client altogether. ``timeout_s`` is the
    connect and read timeout of one call. ``sleep`` and ``seed`` make the backoff observable and
    reproducible.
    """

    def __init__(
        self,
        model_id: str,
        region: str | None = None,
        endpoint_url: str | None = None,
        max_concurrency: int = 4,
        max_attempts: int = 6,
        base_delay: float = 0.5,
        max_delay: float = 20.0,
        timeout_s: float = 60,
        client: Any = None,
        *,
        rubric: Rubric | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
        seed: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not model_id:
            raise ValueError("model_id must not be empty")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        if base_delay < 0 or max_delay < 0:
            raise ValueError(f"base_delay and max_delay must be >= 0, got {base_delay} and {max_delay}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if max_chars < 1 or max_tokens < 1:
            raise ValueError(f"max_chars and max_tokens must be >= 1, got {max_chars} and {max_tokens}")
        self.model_id = model_id
        self.max_concurrency = max_concurrency
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout_s = timeout_s
        self.rubric = rubric if rubric is not None else load_rubric()
        self.max_chars = max_chars
        self.inference_config: dict[str, Any] = {"maxTokens": max_tokens, "temperature": temperature}
        self.seed = seed
        self._sleep = sleep
        self._client = client if client is not None else self._make_client(region, endpoint_url)

    def _make_client(self, region: str | None, endpoint_url: str | None) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            # botocore's "max_attempts" counts retries (1 would mean two calls); total_max_attempts=1 is one
            # call, so every retry is ours.
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=self.timeout_s,
            read_timeout=self.timeout_s,
            max_pool_connections=max(10, self.max_concurrency),
        )
        session = boto3.session.Session(region_name=region)  # its own session: the default one is not shared
        return session.client("bedrock-runtime", endpoint_url=endpoint_url, config=config)

    @property
    def client(self) -> Any:
        """The boto3 ``bedrock-runtime`` client (or the one given)."""
        return self._client

    def judge_many(self, items: Sequence[JudgeRequest]) -> list[JudgeResponse]:
        """Judge every item, ``max_concurrency`` calls at a time; the responses are in the order of ``items``."""
        if not items:
            return []
        started = time.monotonic()
        workers = min(self.max_concurrency, len(items))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="judge") as pool:
            responses = list(pool.map(self._judge_one, range(len(items)), items))
        verdicts = sum(1 for r in responses if r.ok)
        parse_failures = sum(1 for r in responses if r.status == "unparsed")
        log.info(
            "judged %d requests with %s (rubric %s) in %.1f s: %d verdicts, %d unparsed replies, "
            "%d failed calls, %d calls",
            len(responses),
            self.model_id,
            self.rubric.identity,
            time.monotonic() - started,
            verdicts,
            parse_failures,
            len(responses) - verdicts - parse_failures,
            sum(r.attempts for r in responses),
        )
        return responses

    def judge(self, item: JudgeRequest) -> JudgeResponse:
        """Judge one item (retries included), in this thread."""
        return self._judge_one(0, item)

    def _rng(self, index: int) -> random.Random:
        if self.seed is None:
            return random.Random()
        return random.Random(f"{self.seed}:{index}")

    def _judge_one(self, index: int, item: JudgeRequest) -> JudgeResponse:
        rng = self._rng(index)
        system, messages = build_messages(self.rubric, item.prompt, item.completion, self.max_chars)
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                response: dict[str, Any] = self._client.converse(
                    modelId=self.model_id,
                    messages=messages,
                    system=system,
                    inferenceConfig=self.inference_config,
                )
            except Exception as exc:
                error = classify_error(exc)
                if error is None:
                    raise
                if not error.retryable or attempt >= self.max_attempts:
                    log.warning(
                        "judge call for %s failed with %s after %d attempt(s)%s",
                        item.request_id,
                        error.code,
                        attempt,
                        "" if not error.retryable else " (retries exhausted)",
                    )
                    failure = (
                        f"{error.code} after {attempt} attempt(s)"
                        if error.http_status is None
                        else f"{error.code} (HTTP {error.http_status}) after {attempt} attempt(s)"
                    )
                    return JudgeResponse(
                        request_id=item.request_id,
                        verdict=None,
                        error_code=error.code,
                        failure=failure,
                        raw_text=None,
                        input_tokens=None,
                        output_tokens=None,
                        latency_ms=None,
                        attempts=attempt,
                        elapsed_s=time.monotonic() - started,
                        http_status=error.http_status,
                    )
                delay = backoff_delay(attempt, self.base_delay, self.max_delay, rng)
                log.info(
                    "judge call for %s: attempt %d/%d got %s; retrying in %.2f s",
                    item.request_id,
                    attempt,
                    self.max_attempts,
                    error.code,
                    delay,
                )
                self._sleep(delay)
                continue
            return self._outcome(item, response, attempt, started)

    def _outcome(
        self, item: JudgeRequest, response: dict[str, Any], attempts: int, started: float
    ) -> JudgeResponse:
        usage = response.get("usage") if isinstance(response.get("usage"), dict) else {}
        metrics = response.get("metrics") if isinstance(response.get("metrics"), dict) else {}
        stop = response.get("stopReason")
        stop_reason = stop if isinstance(stop, str) else None
        status = _int_or_none((response.get("ResponseMetadata") or {}).get("HTTPStatusCode"))
        text = _reply_text(response)
        parsed: Verdict | ParseFailure
        if text is None:
            code: str | None = NO_TEXT
            parsed = ParseFailure(f"no text in the reply (stopReason {stop_reason or 'absent'})")
        else:
            parsed = parse_verdict(text)
            code = None if isinstance(parsed, Verdict) else PARSE_FAILURE
        if isinstance(parsed, ParseFailure):
            log.warning("judge reply for %s not used: %s (stopReason %s)", item.request_id, code, stop_reason)
        return JudgeResponse(
            request_id=item.request_id,
            verdict=parsed if isinstance(parsed, Verdict) else None,
            error_code=code,
            failure=parsed.reason if isinstance(parsed, ParseFailure) else None,
            raw_text=text,
            input_tokens=_int_or_none((usage or {}).get("inputTokens")),
            output_tokens=_int_or_none((usage or {}).get("outputTokens")),
            latency_ms=_int_or_none((metrics or {}).get("latencyMs")),
            attempts=attempts,
            elapsed_s=time.monotonic() - started,
            stop_reason=stop_reason,
            http_status=status,
        )

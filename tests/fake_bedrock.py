"""A fake Amazon Bedrock Runtime server that speaks the Converse API well enough for the real boto3 client.

It listens on 127.0.0.1 on an ephemeral port (``http.server`` in a thread; point a client at it with
``endpoint_url``). What it implements, from botocore's ``bedrock-runtime`` service model (protocol
``rest-json``, operation ``Converse``: ``POST /model/{modelId}/converse``):

- Requests: ``POST /model/<modelId, percent-encoded>/converse`` with a JSON body (``messages``, ``system``,
  ``inferenceConfig``...). It checks that the request is SigV4-signed (an ``Authorization`` header of the
  form ``AWS4-HMAC-SHA256 Credential=.../bedrock/aws4_request``); the signature itself is not verified.
  Any other path or method gets a 404 ``UnknownOperationException``.
- Success: HTTP 200, ``Content-Type: application/json``, ``x-amzn-RequestId``, and the body
  ``{"output": {"message": {"role": "assistant", "content": [{"text": ...}]}}, "stopReason": ...,
  "usage": {"inputTokens", "outputTokens", "totalTokens"}, "metrics": {"latencyMs": ...}}``.
- Errors, as AWS rest-json services send them: the status code (ThrottlingException 429,
  InternalServerException 500, ServiceUnavailableException 503, ValidationException 400, ...), an
  ``x-amzn-ErrorType: <Code>:http://internal.amazon.com/coral/com.amazon.bedrock/`` header and a
  ``{"message": ...}`` body; with ``type_in_body`` the code goes in the body's ``__type`` instead of the
  header (botocore reads either).

Replies are scripted per request: :meth:`FakeBedrock.enqueue` queues replies used in arrival order, and a
``responder`` (a function of the :class:`ReceivedRequest`) answers when the queue is empty. A reply may be
delayed (``delay``: the server waits before answering, to trip a client timeout or to hold requests in
flight). Every request is recorded (``requests``), and ``max_in_flight`` is the highest number of requests
that were being handled at once.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

CONVERSE_PREFIX = "/model/"
CONVERSE_SUFFIX = "/converse"
ERROR_STATUS = {
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ModelTimeoutException": 408,
    "ModelErrorException": 424,
}


@dataclass(frozen=True)
class Reply:
    """What the server answers to one request: a model reply (``text``) or an error (``error_code``)."""

    text: str | None = None
    error_code: str | None = None
    status: int | None = None  # defaults: 200 for a reply, ERROR_STATUS[error_code] for an error
    message: str = ""
    delay: float = 0.0
    stop_reason: str = "end_turn"
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: int = 0
    type_in_body: bool = False
    raw_body: bytes | None = None  # sent as it is, with ``status`` (overrides everything else)

    @classmethod
    def verdict(cls, verdict: Mapping[str, Any], **kwargs: Any) -> Reply:
        return cls(text=json.dumps(verdict), **kwargs)

    @classmethod
    def error(cls, code: str, message: str = "", **kwargs: Any) -> Reply:
        return cls(error_code=code, message=message, **kwargs)

    @classmethod
    def throttle(cls, **kwargs: Any) -> Reply:
        return cls.error(
            "ThrottlingException", "Too many requests, please wait before trying again.", **kwargs
        )

    def http_status(self) -> int:
        if self.status is not None:
            return self.status
        if self.error_code is not None:
            return ERROR_STATUS.get(self.error_code, 400)
        return 200


@dataclass
class ReceivedRequest:
    """One request as the server saw it."""

    method: str
    raw_path: str  # as on the request line, still percent-encoded
    model_id: str | None  # decoded from the path
    headers: dict[str, str]
    body: dict[str, Any] | None
    received_at: float = field(default_factory=time.monotonic)

    @property
    def user_text(self) -> str:
        """All the text blocks of the request's messages, joined (for responders that key on content)."""
        texts: list[str] = []
        for message in (self.body or {}).get("messages", []):
            for block in message.get("content", []):
                if isinstance(block, dict) and isinstance(block.get("text"), str):
                    texts.append(block["text"])
        return "\n".join(texts)


Responder = Callable[[ReceivedRequest], Reply]


class KeyedScript:
    """A responder that answers by key: the first key found in a request's text picks its own reply queue.

    ``KeyedScript({"item-1": [Reply.throttle(), ok], "item-2": [ok]}, default=ok)``: each request whose text
    contains ``item-1`` takes the next reply of that queue; the last reply of a queue repeats once the others
    are used; ``default`` answers requests that match no key. Thread-safe.
    """

    def __init__(self, script: Mapping[str, Iterable[Reply]], default: Reply | None = None) -> None:
        self._queues = {key: deque(replies) for key, replies in script.items()}
        self._default = default
        self._lock = threading.Lock()

    def __call__(self, request: ReceivedRequest) -> Reply:
        text = request.user_text
        with self._lock:
            for key, queue in self._queues.items():
                if key in text and queue:
                    return queue.popleft() if len(queue) > 1 else queue[0]
        if self._default is None:
            raise LookupError("no scripted reply for a request")  # answered as a 500 by the server
        return self._default


class FakeBedrock:
    """The server. Use as a context manager, or call :meth:`start` and :meth:`stop`."""

    def __init__(self, responder: Responder | None = None) -> None:
        self.responder = responder
        self.requests: list[ReceivedRequest] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # scripting ------------------------------------------------------------------------------------------------
    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def _reply_for(self, request: ReceivedRequest) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self.responder is None:
            raise LookupError("no scripted reply for a request")
        return self.responder(request)

    # lifecycle ------------------------------------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake Bedrock server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeBedrock:
        handler = _make_handler(self)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.block_on_close = False  # a slow reply still sleeping must not hold up stop()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-bedrock", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers waiting out a delay
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeBedrock:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # bookkeeping used by the handler ---------------------------------------------------------------------------
    def _enter(self, request: ReceivedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def requests_for(self, key: str) -> list[ReceivedRequest]:
        """The recorded requests whose text contains ``key``."""
        with self._lock:
            return [request for request in self.requests if key in request.user_text]


def _error_body(code: str, message: str, type_in_body: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if type_in_body:
        body["__type"] = code
    return body


def _make_handler(fake: FakeBedrock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
                self.close_connection = True

        def _send_error(self, status: int, code: str, message: str, type_in_body: bool = False) -> None:
            headers = (
                {}
                if type_in_body
                else {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
            )
            body = json.dumps(_error_body(code, message, type_in_body)).encode()
            self._send(status, body, headers)

        def do_GET(self) -> None:
            self._drain()
            self._send_error(404, "UnknownOperationException", "")

        def _drain(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_POST(self) -> None:
            raw = self._drain()
            path = self.path.split("?", 1)[0]
            if not (path.startswith(CONVERSE_PREFIX) and path.endswith(CONVERSE_SUFFIX)):
                self._send_error(404, "UnknownOperationException", "")
                return
            encoded_id = path[len(CONVERSE_PREFIX) : -len(CONVERSE_SUFFIX)]
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            request = ReceivedRequest(
                method="POST",
                raw_path=self.path,
                model_id=unquote(encoded_id) if encoded_id and "/" not in encoded_id else None,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body if isinstance(body, dict) else None,
            )
            fake._enter(request)
            try:
                self._answer(request)
            finally:
                fake._leave()

        def _answer(self, request: ReceivedRequest) -> None:
            auth = request.headers.get("authorization", "")
            if not auth.startswith("AWS4-HMAC-SHA256 ") or "/bedrock/aws4_request" not in auth:
                self._send_error(
                    403, "UnrecognizedClientException", "The request is not SigV4-signed for bedrock."
                )
                return
            if request.model_id is None:
                self._send_error(
                    400, "ValidationException", "The model id in the path is not encoded as one label."
                )
                return
            if request.body is None or not isinstance(request.body.get("messages"), list):
                self._send_error(400, "ValidationException", "A JSON body with messages is required.")
                return
            try:
                reply = fake._reply_for(request)
            except LookupError:
                self._send_error(
                    500, "InternalServerException", "The fake has no reply scripted for this request."
                )
                return
            fake._wait(reply.delay)
            status = reply.http_status()
            if reply.raw_body is not None:
                self._send(status, reply.raw_body, {})
            elif reply.error_code is not None:
                self._send_error(status, reply.error_code, reply.message, reply.type_in_body)
            else:
                payload = {
                    "output": {"message": {"role": "assistant", "content": [{"text": reply.text or ""}]}},
                    "stopReason": reply.stop_reason,
                    "usage": {
                        "inputTokens": reply.input_tokens,
                        "outputTokens": reply.output_tokens,
                        "totalTokens": reply.input_tokens + reply.output_tokens,
                    },
                    "metrics": {"latencyMs": reply.latency_ms},
                }
                self._send(status, json.dumps(payload).encode(), {})

    return Handler

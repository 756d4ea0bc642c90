"""A local OpenAI-compatible chat-completions server for tests.

``OpenAIServer`` runs a real HTTP server (``ThreadingHTTPServer``) on 127.0.0.1 at a free port and
answers ``POST /v1/chat/completions`` in OpenAI's response shape::

    {"id": "chatcmpl-<n>", "object": "chat.completion", "created": <unix time>, "model": <model>,
     "choices": [{"index": 0, "message": {"role": "assistant", "content": <content>},
                  "finish_reason": "stop"}],
     "usage": {"prompt_tokens": int, "completion_tokens": int, "total_tokens": int}}

The content comes from a pluggable ``responder``: callable(request_json: dict) -> str (default:
``echo_responder``, ``"echo: <last user message>"``). Every request is recorded (arrival time,
method, path, headers, raw body, parsed JSON, status sent) in ``server.requests``. Faults are
scripted: each request takes the next queued ``Fault`` (then is served normally once the queue is
empty)::

    with OpenAIServer(responder=lambda req: '{"paths": []}') as srv:
        srv.add_faults(Fault.http(500), Fault.http(429, retry_after=1), Fault.truncated())
        client = LlmClient(LlmSettings(endpoint=srv.base_url))
        ...
        assert [r.status for r in srv.requests] == [500, 429, 200, 200]

Arrival times are ``time.monotonic()`` of the test process (the server runs in a thread of it).
Other paths answer 404 in OpenAI's error shape. Use ``start()`` / ``stop()`` or the context manager.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional

CHAT_PATH = "/v1/chat/completions"

Responder = Callable[[dict], str]


def echo_responder(request: dict) -> str:
    """``"echo: <content of the last user message>"`` (request: dict) -> str."""
    users = [m for m in request.get("messages", []) if isinstance(m, dict) and m.get("role") == "user"]
    return "echo: " + (str(users[-1].get("content", "")) if users else "")


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour, applied to one request.

    kind: "status" (an OpenAI-style error body with ``status``, ``message`` and, when set, a
    ``Retry-After: <retry_after>`` header), "truncated" (a 200 whose ``Content-Length`` announces
    the full body but only its first half is sent before the connection closes), "invalid_json"
    (a 200 with a consistent ``Content-Length`` and half a JSON body), "no_content" (a 200 JSON
    body whose ``choices`` is empty), "drop" (the connection closes without any response),
    "delay" (the normal reply, sent after ``delay_s`` seconds).
    """
    kind: str
    status: int = 200
    message: str = ""
    retry_after: Optional[str] = None
    delay_s: float = 0.0

    @staticmethod
    def http(status: int, message: str = "", retry_after: Optional[float | str] = None) -> "Fault":
        """An error reply with ``status`` (int); ``retry_after`` (seconds or HTTP date) adds the header."""
        ra = None if retry_after is None else (retry_after if isinstance(retry_after, str)
                                               else f"{retry_after:g}")
        return Fault("status", status=status, message=message or f"scripted error {status}", retry_after=ra)

    @staticmethod
    def truncated() -> "Fault":
        return Fault("truncated")

    @staticmethod
    def invalid_json() -> "Fault":
        return Fault("invalid_json")

    @staticmethod
    def no_content() -> "Fault":
        return Fault("no_content")

    @staticmethod
    def drop() -> "Fault":
        return Fault("drop")

    @staticmethod
    def delay(seconds: float) -> "Fault":
        return Fault("delay", delay_s=seconds)


@dataclass
class RecordedRequest:
    """One request as the server saw it. ``time``: float, ``time.monotonic()`` at arrival;
    ``headers``: dict[str, str] (names as sent); ``body``: bytes; ``json``: parsed body or None;
    ``status``: int sent (0 when the connection was dropped); ``fault``: Optional[Fault] applied."""
    time: float
    method: str
    path: str
    headers: dict
    body: bytes
    json: object
    status: int = 0
    fault: Optional[Fault] = None

    def header(self, name: str) -> Optional[str]:
        """A header's value by case-insensitive ``name`` (str), or None."""
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


@dataclass
class _State:
    responder: Responder
    faults: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0


def _error_body(status: int, message: str) -> bytes:
    kinds = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_denied",
             404: "not_found", 429: "rate_limit_exceeded"}
    return json.dumps({"error": {"message": message, "type": kinds.get(status, "server_error"),
                                 "param": None, "code": None}}).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: _State  # set on the subclass made per server

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, headers: Optional[dict] = None, declared: Optional[int] = None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) if declared is None else declared))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self):
        self._record_and_answer()

    def do_POST(self):
        self._record_and_answer()

    def _record_and_answer(self):
        arrival = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        st = self.state
        with st.lock:
            fault = st.faults.pop(0) if st.faults else None
            st.counter += 1
            n = st.counter
            rec = RecordedRequest(arrival, self.command, self.path, dict(self.headers.items()), raw, doc,
                                  fault=fault)
            st.requests.append(rec)

        if self.command != "POST" or self.path.split("?")[0] != CHAT_PATH:
            rec.status = 404
            self._send(404, _error_body(404, f"no route {self.command} {self.path}"))
            return
        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            return
        if fault is not None and fault.kind == "status":
            rec.status = fault.status
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
            self._send(fault.status, _error_body(fault.status, fault.message), headers)
            return
        if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
            rec.status = 400
            self._send(400, _error_body(400, "body must be JSON with a 'messages' list"))
            return
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.delay_s)
        content = st.responder(doc)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in doc["messages"] if isinstance(m, dict))
        completion_tokens = len(content.split())
        reply = {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": int(time.time()),
                 "model": doc.get("model", ""),
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                              "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                           "total_tokens": prompt_tokens + completion_tokens}}
        if fault is not None and fault.kind == "no_content":
            reply["choices"] = []
        body = json.dumps(reply).encode()
        rec.status = 200
        if fault is not None and fault.kind == "truncated":
            self.close_connection = True
            self._send(200, body[: len(body) // 2], declared=len(body))
            return
        if fault is not None and fault.kind == "invalid_json":
            self._send(200, body[: len(body) // 2])
            return
        self._send(200, body)


class OpenAIServer:
    """A local ``/v1/chat/completions`` server (see the module docstring).

    ``responder``: callable(request_json: dict) -> str, may be replaced at any time through the
    ``responder`` attribute. ``base_url``: str, ``"http://127.0.0.1:<port>/v1"`` (the value for
    ``LlmSettings.endpoint``). ``requests``: list[RecordedRequest], a snapshot in arrival order.
    """

    def __init__(self, responder: Optional[Responder] = None):
        self._state = _State(responder or echo_responder)
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> "OpenAIServer":
        """Bind 127.0.0.1 on a free port and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        handler = type("Handler", (_Handler,), {"state": self._state})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="openai-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> "OpenAIServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ----------------------------------------------------------------- configuration
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def responder(self) -> Responder:
        return self._state.responder

    @responder.setter
    def responder(self, fn: Responder) -> None:
        self._state.responder = fn

    def add_faults(self, *faults: Fault) -> None:
        """Queue ``faults`` (Fault): the next requests take them in order, one each."""
        with self._state.lock:
            self._state.faults.extend(faults)

    def pending_faults(self) -> int:
        """How many queued faults have not been used yet (int)."""
        with self._state.lock:
            return len(self._state.faults)

    # ----------------------------------------------------------------- observation
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def clear(self) -> None:
        """Forget recorded requests and queued faults."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.faults.clear()

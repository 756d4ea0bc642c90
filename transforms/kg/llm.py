"""An OpenAI-compatible chat client (rate limit, retries, response cache) and the reasoning prompts.

Pure module: no Beam import. The client speaks the ``/chat/completions`` API of OpenAI and of the
servers that copy it (vLLM, llama.cpp, Ollama, LiteLLM, Azure's ``/openai/v1``).

Endpoint rule: ``LlmSettings.endpoint`` is the API base URL, the one OpenAI's own SDK calls
``base_url`` (e.g. ``"http://127.0.0.1:8000/v1"``, ``"https://api.openai.com/v1"``). Requests go to
``<endpoint without trailing "/">/chat/completions``. A bare origin without any path
(``"http://127.0.0.1:8000"``) gets ``/v1`` appended first; any other path is used as given, so
``".../v1beta/openai"`` style bases keep working. ``chat_url`` applies this rule.

- Secrets: ``LlmSettings.api_key_env`` names the environment variable that holds the key. The key
  is read from the environment for every request (so a pickled client never carries it), sent only
  in the ``Authorization: Bearer`` header (no header when the variable is unset or empty), and
  removed from every error message; it is never logged and never written to the cache.
- Rate limit: all clients of one process that talk to the same chat URL share one limiter
  (module-level, thread-safe): consecutive request starts are at least ``1 / requests_per_second``
  apart (``0`` = no spacing). A 429 carrying ``Retry-After`` pauses that shared limiter, so every
  thread waits, not only the one refused. Separate processes (Beam workers) each have their own.
- Retries: connection errors, time-outs, truncated bodies, 408, 429, 5xx and 2xx bodies that are
  not JSON or lack a string ``choices[0].message.content`` are retried with exponential backoff and
  jitter (``backoff_s * 2**n``, capped at ``backoff_max_s``, drawn in [cap/2, cap]); a 429 with
  ``Retry-After`` waits that long instead (at most ``MAX_RETRY_AFTER_S``, so one reply cannot stall
  a worker for hours). Any other 4xx raises ``LlmError`` at once with
  the status and the server's message. After ``max_retries`` retries (``max_retries + 1``
  requests) ``LlmError`` is raised.
- Cache: with ``cache_dir`` set, a reply is stored under ``<cache_dir>/<key[:2]>/<key>.json``, where
  ``key`` is the SHA-256 of the canonical JSON of ``{model, messages, temperature, max_tokens,
  response_format}`` (the endpoint and the key are not part of it: the same request to another
  server of the same model is a hit). The file holds ``{"request": {...}, "content": "..."}`` and
  is written atomically (temporary name in the same directory, then rename). A hit sends no
  request. Only local directories are supported by the built-in store; for other file systems
  (``gs://...``) pass a ``store`` object with ``get(relpath) -> Optional[bytes]`` and
  ``put(relpath, data: bytes)`` (the Beam side can build one over ``FileSystems``).

Reasoning-step helpers (plain functions): ``prune_paths_messages`` / ``parse_pruned``,
``chain_messages``, ``answer_messages`` / ``parse_answer_letter``. Options are
``list[tuple[str, str]]`` of ``(label, text)``, e.g. ``[("A", "Aspirin"), ("B", "Heparin")]``.
The parsers tolerate JSON inside ```json fences and prose around the answer.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional, Protocol
from urllib.parse import urlsplit

import requests

from fetching.http import parse_retry_after

MAX_RETRY_AFTER_S = 300.0

log = logging.getLogger("leadsinstruct.kg.llm")

RETRY_STATUSES = frozenset({408, 429})  # plus every 5xx


class LlmError(Exception):
    """A chat request that cannot succeed: a client error (``status`` set) or retries exhausted.

    ``status``: Optional[int], the last HTTP status (None for connection errors / time-outs);
    ``attempts``: int, requests made for this call.
    """

    def __init__(self, message: str, status: Optional[int] = None, attempts: int = 0):
        super().__init__(message)
        self.status = status
        self.attempts = attempts


@dataclass(frozen=True)
class LlmSettings:
    """How to reach the model. Holds no secret: ``api_key_env`` is the NAME of the key's variable.

    endpoint: str, API base URL (see the module docstring for the rule);
    model: str; api_key_env: str; temperature: float; max_tokens: int;
    requests_per_second: float (0 = unlimited); max_retries: int (retries after the first request);
    timeout_s: float (connect and read time-out per request);
    cache_dir: Optional[str] (local directory; None = no cache);
    backoff_s / backoff_max_s: float, first backoff delay and its cap.
    """
    endpoint: str
    model: str = "gpt-4o-mini"
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.0
    max_tokens: int = 1024
    requests_per_second: float = 2.0
    max_retries: int = 5
    timeout_s: float = 60.0
    cache_dir: Optional[str] = None
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0

    def __post_init__(self):
        if not self.endpoint or not urlsplit(self.endpoint).scheme:
            raise ValueError(f"endpoint must be an http(s) URL, got {self.endpoint!r}")
        if self.requests_per_second < 0:
            raise ValueError("requests_per_second must be >= 0")
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")


def chat_url(endpoint: str) -> str:
    """The chat-completions URL of an API base URL (str -> str); see the module docstring."""
    base = endpoint.rstrip("/")
    if urlsplit(base).path in ("", "/"):
        base += "/v1"
    return base + "/chat/completions"


# --------------------------------------------------------------------------- rate limiter
class _Limiter:
    """Minimum spacing between request starts, plus pauses; shared by the threads of a process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._next = 0.0  # monotonic time before which no request may start (spacing)
        self._paused_until = 0.0  # monotonic time set by a Retry-After

    def acquire(self, interval: float) -> None:
        """Block until a request may start, then claim the start; ``interval``: float seconds."""
        while True:
            with self._lock:
                now = time.monotonic()
                slot = max(now, self._next, self._paused_until)
                if slot <= now:
                    self._next = now + interval
                    return
            time.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        """No request may start for ``seconds`` (float) from now."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)


_LIMITERS: dict[str, _Limiter] = {}
_LIMITERS_LOCK = threading.Lock()


def _limiter_for(url: str) -> _Limiter:
    with _LIMITERS_LOCK:
        lim = _LIMITERS.get(url)
        if lim is None:
            lim = _LIMITERS[url] = _Limiter()
        return lim


# --------------------------------------------------------------------------- cache
class CacheStore(Protocol):
    """Where cached replies live: ``relpath`` is ``"<key[:2]>/<key>.json"``."""

    def get(self, relpath: str) -> Optional[bytes]: ...

    def put(self, relpath: str, data: bytes) -> None: ...


class LocalCacheStore:
    """A ``CacheStore`` over a local directory ``root`` (str); writes are atomic (temp + rename)."""

    def __init__(self, root: str):
        self.root = root

    def get(self, relpath: str) -> Optional[bytes]:
        try:
            with open(os.path.join(self.root, relpath), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def put(self, relpath: str, data: bytes) -> None:
        path = os.path.join(self.root, relpath)
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, UTF-8 characters kept: the text that cache keys hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cache_key(request: dict) -> str:
    """SHA-256 hex of the canonical JSON of a request dict (model, messages, temperature,
    max_tokens, response_format)."""
    return hashlib.sha256(canonical_json(request).encode("utf-8")).hexdigest()


def cache_relpath(key: str) -> str:
    """``"<key[:2]>/<key>.json"`` for a hex key (str)."""
    return f"{key[:2]}/{key}.json"


# --------------------------------------------------------------------------- client
class LlmClient:
    """Chat completions with a shared rate limit, retries and an optional response cache.

    ``settings``: LlmSettings; ``store``: Optional[CacheStore] overriding the local store built from
    ``settings.cache_dir``. ``stats``: dict[str, int] with ``requests`` (HTTP requests sent,
    retries included), ``cache_hits``, ``retries`` and ``errors`` (LlmError raised).
    Create one per process (e.g. in a DoFn's ``setup``); it is safe to share between threads.
    """

    def __init__(self, settings: LlmSettings, store: Optional[CacheStore] = None):
        self.settings = settings
        self.url = chat_url(settings.endpoint)
        if store is None and settings.cache_dir:
            if "://" in settings.cache_dir:
                raise ValueError(f"cache_dir {settings.cache_dir!r}: the built-in cache supports local "
                                 "directories only; pass a store for other file systems")
            store = LocalCacheStore(settings.cache_dir)
        self.store = store
        self.stats = {"requests": 0, "cache_hits": 0, "retries": 0, "errors": 0}
        self._stats_lock = threading.Lock()
        self._session: Optional[requests.Session] = None
        self._session_lock = threading.Lock()
        self._rng = random.Random()

    def __getstate__(self):
        state = self.__dict__.copy()
        for k in ("_stats_lock", "_session_lock", "_session"):
            state.pop(k, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._stats_lock = threading.Lock()
        self._session_lock = threading.Lock()
        self._session = None

    # ----------------------------------------------------------------- public
    def request_dict(self, messages: list[dict], response_format_json: bool = False) -> dict:
        """The keyed request (no endpoint, no key): ``{model, messages, temperature, max_tokens,
        response_format}`` with ``response_format`` None or ``{"type": "json_object"}``."""
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages must be a non-empty list of {'role', 'content'} dicts")
        for m in messages:
            if not isinstance(m, dict) or "role" not in m or "content" not in m:
                raise ValueError(f"bad message {m!r}: expected a dict with 'role' and 'content'")
        s = self.settings
        return {"model": s.model, "messages": messages, "temperature": s.temperature,
                "max_tokens": s.max_tokens,
                "response_format": {"type": "json_object"} if response_format_json else None}

    def chat(self, messages: list[dict], *, response_format_json: bool = False) -> str:
        """Send ``messages`` (list of ``{"role": str, "content": str}``) and return the assistant
        message content (str), from the cache when it holds this exact request."""
        request = self.request_dict(messages, response_format_json)
        key = cache_key(request)
        if self.store is not None:
            hit = self._cache_get(key, request)
            if hit is not None:
                self._count("cache_hits")
                return hit
        content = self._post(request)
        if self.store is not None:
            record = {"request": request, "content": content}
            self.store.put(cache_relpath(key), (canonical_json(record) + "\n").encode("utf-8"))
        return content

    # ----------------------------------------------------------------- internals
    def _count(self, name: str, n: int = 1) -> None:
        with self._stats_lock:
            self.stats[name] += n

    def _http(self) -> requests.Session:
        with self._session_lock:
            if self._session is None:
                self._session = requests.Session()
            return self._session

    def _cache_get(self, key: str, request: dict) -> Optional[str]:
        data = self.store.get(cache_relpath(key))
        if data is None:
            return None
        try:
            record = json.loads(data)
        except ValueError:
            log.warning("unreadable cache entry %s; asking the model again", key)
            return None
        if (not isinstance(record, dict) or record.get("request") != request
                or not isinstance(record.get("content"), str)):
            log.warning("cache entry %s does not match its request; asking the model again", key)
            return None
        return record["content"]

    def _redact(self, text: str, key: Optional[str]) -> str:
        return text.replace(key, "[redacted]") if key else text

    def _backoff(self, retry: int) -> float:
        cap = min(self.settings.backoff_max_s, self.settings.backoff_s * (2 ** retry))
        return cap / 2 + self._rng.random() * cap / 2

    def _fail(self, message: str, status: Optional[int], attempts: int) -> LlmError:
        self._count("errors")
        return LlmError(message, status=status, attempts=attempts)

    def _post(self, request: dict) -> str:
        s = self.settings
        body = {k: v for k, v in request.items() if not (k == "response_format" and v is None)}
        limiter = _limiter_for(self.url)
        interval = 1.0 / s.requests_per_second if s.requests_per_second > 0 else 0.0
        last = "no attempt"
        last_status: Optional[int] = None
        delay = 0.0
        for attempt in range(s.max_retries + 1):
            if attempt:
                self._count("retries")
                log.info("retrying %s in %.2f s (retry %d of %d): %s", self.url, delay, attempt,
                         s.max_retries, last)
                if delay > 0:
                    time.sleep(delay)
            api_key = os.environ.get(s.api_key_env) or None
            headers = {"Content-Type": "application/json"}
            if api_key:
                headers["Authorization"] = f"Bearer {api_key}"
            limiter.acquire(interval)
            self._count("requests")
            try:
                resp = self._http().post(self.url, json=body, headers=headers, timeout=s.timeout_s)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as e:
                last, last_status = self._redact(f"{type(e).__name__}: {e}", api_key), None
                delay = self._backoff(attempt)
                continue
            status = resp.status_code
            last_status = status
            if 200 <= status < 300:
                content, problem = _content_of(resp.content)
                if content is not None:
                    return content
                last = f"HTTP {status} with an unusable body: {problem}"
                delay = self._backoff(attempt)
                continue
            message = self._redact(_server_message(resp), api_key)
            last = f"HTTP {status}: {message}"
            if status in RETRY_STATUSES or status >= 500:
                delay = self._backoff(attempt)
                wait = parse_retry_after(resp.headers.get("Retry-After")) if status == 429 else None
                if wait is not None:
                    limiter.pause(min(wait, MAX_RETRY_AFTER_S))  # the next acquire (of any thread) waits
                    delay = 0.0
                continue
            raise self._fail(f"{self.url} answered HTTP {status}: {message}", status, attempt + 1)
        raise self._fail(f"gave up on {self.url} after {s.max_retries + 1} requests; last error: {last}",
                         last_status, s.max_retries + 1)


def _content_of(raw: bytes) -> tuple[Optional[str], str]:
    """(content, "") from an OpenAI chat-completion body, or (None, what is wrong)."""
    try:
        doc = json.loads(raw)
    except ValueError as e:
        return None, f"not JSON ({e}); {len(raw)} bytes"
    try:
        content = doc["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None, "no choices[0].message.content"
    if not isinstance(content, str):
        return None, f"choices[0].message.content is {type(content).__name__}"
    return content, ""


def _server_message(resp: requests.Response) -> str:
    """The server's error message: ``error.message`` of an OpenAI error body, else the text."""
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"][:500]
        if isinstance(err, str):
            return err[:500]
        if isinstance(doc.get("message"), str):
            return doc["message"][:500]
    return (resp.text or resp.reason or "").strip()[:500]


# --------------------------------------------------------------------------- reply parsing
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.S)


def extract_json(reply: str) -> Any:
    """The first JSON object or array in a model reply (str): the whole reply, a fenced
    ```json block, or the first parseable ``{...}`` / ``[...]`` inside prose; None when none."""
    text = reply.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    for m in _FENCE.finditer(text):
        try:
            return json.loads(m.group(1).strip())
        except ValueError:
            continue
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                obj, _ = decoder.raw_decode(text, i)
            except ValueError:
                continue
            if isinstance(obj, (dict, list)) and obj:
                return obj
    return None


def _get_ci(d: dict, name: str) -> Any:
    for k, v in d.items():
        if isinstance(k, str) and k.lower() == name:
            return v
    return None


def _as_int(v: Any) -> Optional[int]:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and v.strip().isdigit():
        return int(v.strip())
    return None


def parse_pruned(reply: str, n_paths: int) -> list[int]:
    """0-based indices (list[int]) of the paths a pruning reply keeps, in the model's order,
    deduplicated, only those in ``range(n_paths)``. Reads ``{"paths": [{"index": <1-based>,
    "reason": ...}]}`` (key case ignored; entries may also be bare numbers, or the reply a bare
    list); returns [] when the reply holds no such JSON."""
    doc = extract_json(reply)
    if isinstance(doc, dict):
        entries = _get_ci(doc, "paths")
    else:
        entries = doc
    if not isinstance(entries, list):
        return []
    out: list[int] = []
    for e in entries:
        n = _as_int(_get_ci(e, "index")) if isinstance(e, dict) else _as_int(e)
        if n is None:
            continue
        i = n - 1
        if 0 <= i < n_paths and i not in out:
            out.append(i)
    return out


def _label_alt(labels: list[str]) -> str:
    return "|".join(re.escape(x) for x in sorted(labels, key=len, reverse=True))


def parse_answer_letter(reply: str, labels: list[str]) -> Optional[str]:
    """The option label (str, one of ``labels``) a reply chooses, or None.

    Tried in order, the last match of each winning: ``Answer: X`` (markdown bold and "option"
    allowed), ``answer is X``, ``(X)``, then a last line that is only the label (``X``, ``X.``,
    ``X)``, ``X. <option text>``). Labels match case-sensitively, as whole tokens.
    """
    if not labels or not reply:
        return None
    alt = _label_alt(labels)
    lab = rf"(?<![A-Za-z0-9])({alt})(?![A-Za-z0-9])"
    opt = r"(?:option\s+|choice\s+)?"
    patterns = [
        rf"(?i:answer)\s*\**\s*[:：]\s*\**\s*{opt}\(?\s*{lab}",
        rf"(?i:answer\s+(?:is|would\s+be|should\s+be)\s*[:：]?)\s*\**\s*{opt}\(?\s*{lab}",
        rf"\(\s*{lab}\s*\)",
    ]
    for p in patterns:
        found = re.findall(p, reply)
        if found:
            return found[-1]
    lines = [ln.strip() for ln in reply.strip().splitlines() if ln.strip()]
    if lines:
        m = re.match(rf"^[*_\s]*\(?({alt})\)?(?:[.):][*_\s]*(?:\s.*)?|[*_\s]*)$", lines[-1])
        if m:
            return m.group(1)
    return None


# --------------------------------------------------------------------------- prompts
def _render_options(options: list[tuple[str, str]]) -> str:
    return "\n".join(f"{label}. {text}" for label, text in options)


def _qa_block(question: str, options: list[tuple[str, str]]) -> str:
    parts = [f"Question:\n{question.strip()}"]
    if options:
        parts.append(f"Answer Choices:\n{_render_options(options)}")
    return "\n\n".join(parts)


def prune_paths_messages(question: str, options: list[tuple[str, str]], answer: str, paths: list[str],
                         keep: int) -> list[dict]:
    """Messages (list of ``{"role", "content"}``) asking the model to keep at most ``keep`` (int) of
    ``paths`` (list[str], e.g. ``"a->b->c"``, shown numbered from 1) that best connect the question
    to ``answer`` (str), most relevant first, as JSON ``{"paths": [{"index": int, "reason": str}]}``."""
    if keep < 1:
        raise ValueError("keep must be >= 1")
    numbered = "\n".join(f"{i}: {p}" for i, p in enumerate(paths, 1))
    system = ("You are a medical expert. You judge which knowledge-graph paths support the reasoning "
              "that leads from a clinical question to its answer. You reply with JSON only.")
    user = (f"{_qa_block(question, options)}\n\nAnswer:\n{answer.strip()}\n\n"
            f"Knowledge-graph paths (numbered):\n{numbered}\n\n"
            f"Select at most {keep} of these paths that are the most relevant to reasoning from the "
            "question to the answer, the most relevant first. Ignore paths that are irrelevant or "
            "medically wrong. Reply with JSON only, in this form:\n"
            '{"paths": [{"index": <path number>, "reason": "<one sentence>"}]}')
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def chain_messages(question: str, options: list[tuple[str, str]], paths: list[str], *,
                   answer: Optional[str] = None) -> list[dict]:
    """Messages asking for a step-by-step reasoning chain in the layout ``Finding reasoning
    paths:`` / ``Reasoning Process:`` / ``Conclusion:``, grounded on ``paths`` (list[str]) and, when
    given, the reference ``answer`` (str), without mentioning either was supplied. The reply is
    used as is (stripped)."""
    numbered = "\n".join(f"{i}. {p}" for i, p in enumerate(paths, 1))
    system = ("You are a medical expert who explains clinical reasoning clearly, step by step, "
              "in English.")
    ref = f"\n\nReference answer:\n{answer.strip()}" if answer else ""
    user = (f"{_qa_block(question, options)}{ref}\n\n"
            f"Medical knowledge relations that may help (entity -> entity chains):\n{numbered}\n\n"
            "Work out the answer to the question step by step. Write your reply in exactly this "
            "layout:\n\n"
            "Finding reasoning paths:\n"
            "1. <a chain of medical concepts you explore, written as A -> B -> C>\n"
            "2. ...\n\n"
            "Reasoning Process:\n"
            "<numbered steps of reasoning from the question's findings to the answer>\n\n"
            "Conclusion:\n"
            "<the answer and a one-sentence justification>\n\n"
            "Rules: write as if you found these relations yourself; never mention that relations, "
            "paths or a reference answer were provided. Use only the relations that are relevant; "
            "if a relation contradicts established medical knowledge, rely on medical knowledge "
            "instead and say why in the reasoning process.")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def answer_messages(question: str, options: list[tuple[str, str]], reasoning: str) -> list[dict]:
    """Messages asking the model to pick an option from ``reasoning`` (str) alone, ending with a
    line ``Answer: <label>`` (see ``parse_answer_letter``)."""
    labels = ", ".join(label for label, _ in options)
    system = ("You are a careful medical examiner. You answer multiple-choice questions using only "
              "the reasoning you are given.")
    user = (f"{_qa_block(question, options)}\n\nReasoning:\n{reasoning.strip()}\n\n"
            "Based only on the reasoning above (not on your own knowledge), which option does it "
            f"support? Reply briefly, and end with a final line of the form \"Answer: <label>\" "
            f"where <label> is one of {labels}.")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]

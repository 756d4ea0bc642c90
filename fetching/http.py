"""A polite HTTP client: a rate limit shared by threads and processes, retries with backoff.

- ``RateLimiter``: at most ``rate`` request starts in any one-second window (plus a safety margin),
  shared by every thread of a process and, through a lock file, by every process on the machine
  that names the same file (parallel fetch workers, a cron run overlapping a manual one). A
  ``Retry-After`` pauses that shared limiter, so every worker waits, not only the one refused.
- ``HttpClient.request``: retries connection errors, time-outs, truncated bodies, 429 and 5xx with
  exponential backoff and jitter, honouring ``Retry-After``; a body that fails its validator is
  retried too, then reported as ``InvalidBody``; any other 4xx raises ``HttpStatusError`` at once.
- Secrets (``api_key``) are sent in POST bodies, never in URLs, and ``redact`` removes them from
  every message this package logs, raises or writes.
"""
from __future__ import annotations

import email.utils
import fcntl
import json
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import requests

log = logging.getLogger("leadsinstruct.fetch")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class FetchError(Exception):
    """A request that cannot succeed (after retries, or at once for a client error)."""


class HttpStatusError(FetchError):
    def __init__(self, status: int, url: str, body: str):
        super().__init__(f"HTTP {status} from {url}: {body[:300]}")
        self.status, self.url, self.body = status, url, body


class RetriesExhausted(FetchError):
    def __init__(self, url: str, attempts: int, last: str):
        super().__init__(f"gave up on {url} after {attempts} attempts; last error: {last}")
        self.url, self.attempts, self.last = url, attempts, last


class InvalidBody(FetchError):
    """A 200 response whose body stayed truncated or malformed through every retry."""

    def __init__(self, url: str, attempts: int, reason: str, excerpt: str):
        super().__init__(f"invalid body from {url} after {attempts} attempts: {reason}")
        self.url, self.attempts, self.reason, self.excerpt = url, attempts, reason, excerpt


# --------------------------------------------------------------------------- secrets
_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


def register_secret(value: Optional[str]) -> None:
    """Remember a secret so that ``redact`` (and the log filter) hide it everywhere."""
    if value:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    for s in list(_SECRETS):
        text = text.replace(s, "***")
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that removes registered secrets from messages and their arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            try:
                message = record.getMessage()
            except (TypeError, ValueError):
                message = str(record.msg)
            if any(s in message for s in list(_SECRETS)):
                record.msg, record.args = redact(message), None  # the formatted line, cleaned
        return True


def install_log_redaction() -> None:
    """Add the redacting filter to the root logger's handlers and this package's logger."""
    filt = RedactingFilter()
    log.addFilter(filt)
    for h in logging.getLogger().handlers:
        h.addFilter(filt)


# --------------------------------------------------------------------------- rate limit
class RateLimiter:
    """At most ``rate`` request starts in any window of ``1 + margin`` seconds.

    Thread-safe. With ``lock_file`` the window log lives in that file under an exclusive
    ``flock``, so several processes on one machine share one limit.
    """

    KEEP = 10.0  # seconds of start history kept in the shared state

    def __init__(self, rate: float, margin: float = 0.05, lock_file: Optional[str] = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        if rate <= 0:
            raise ValueError("rate must be > 0 requests per second")
        self.rate, self.margin, self.lock_file = rate, margin, lock_file
        self._burst = max(1, int(rate)) if rate >= 1 else 1
        self._window = (1.0 if rate >= 1 else 1.0 / rate) + margin
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._starts: list[float] = []
        self._not_before = 0.0
        self.waited = 0.0
        if lock_file:
            os.makedirs(os.path.dirname(os.path.abspath(lock_file)), exist_ok=True)

    def _reserve(self, starts: list[float], not_before: float) -> tuple[list[float], float]:
        """(updated start log, seconds to wait) for one new request start."""
        now = self._clock()
        # the shared log keeps every start of the last KEEP seconds, not only this limiter's
        # burst: processes sharing the file with different rates each apply their own rule to it
        starts = [t for t in starts if t > now - max(self.KEEP, self._window)]
        recent = [t for t in starts if t > now - self._window]
        at = now if len(recent) < self._burst else recent[-self._burst] + self._window
        at = max(at, not_before)
        starts.append(at)  # a reservation in the future counts as a start: later callers queue behind it
        starts.sort()
        return starts, max(0.0, at - now)

    def _with_state(self, update):
        """Run ``update(starts, not_before) -> (starts, not_before, result)`` on the shared state."""
        with self._lock:
            if not self.lock_file:
                self._starts, self._not_before, result = update(self._starts, self._not_before)
                return result
            with open(self.lock_file, "a+") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                try:
                    f.seek(0)
                    raw = f.read().strip()
                    try:
                        state = json.loads(raw) if raw else {}
                        starts = [float(x) for x in state.get("starts", [])]
                        not_before = float(state.get("not_before", 0.0))
                    except (ValueError, TypeError, AttributeError):
                        starts, not_before = [], 0.0
                    starts, not_before, result = update(starts, not_before)
                    f.seek(0)
                    f.truncate()
                    f.write(json.dumps({"starts": starts, "not_before": not_before}))
                    f.flush()
                finally:
                    fcntl.flock(f, fcntl.LOCK_UN)
            return result

    def acquire(self) -> float:
        """Block until a request may start; returns the seconds waited.

        After waiting for its slot a caller checks for a pause set meanwhile (a ``Retry-After``
        seen by another worker) and, if there is one, waits it out and takes a fresh slot.
        """
        def update(starts, not_before):
            starts, wait = self._reserve(starts, not_before)
            return starts, not_before, wait

        waited = 0.0
        while True:
            wait = self._with_state(update)
            if wait > 0:
                self._sleep(wait)
                waited += wait
            not_before = self._with_state(lambda starts, nb: (starts, nb, nb))
            now = self._clock()
            if now >= not_before:
                break
            self._sleep(not_before - now)
            waited += not_before - now
        self.waited += waited
        return waited

    def pause(self, seconds: float) -> None:
        """No request may start for ``seconds`` (a server's Retry-After), in any thread or process."""
        until = self._clock() + seconds
        self._with_state(lambda starts, nb: (starts, max(nb, until), None))


# --------------------------------------------------------------------------- retries
@dataclass
class RetryPolicy:
    max_attempts: int = 6
    backoff_base: float = 0.5  # seconds before the 2nd attempt; doubles each time
    backoff_max: float = 60.0
    retry_after_max: float = 600.0  # a longer Retry-After is an error, not a wait
    timeout: float = 60.0  # seconds to connect / between bytes

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay after failed attempt number ``attempt`` (1-based): full jitter on base·2^(n-1)."""
        cap = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return cap / 2 + rng.random() * cap / 2


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class Stats:
    """Counts of one client (thread-safe increments through ``add``)."""
    requests: int = 0
    retries: int = 0
    bytes: int = 0
    by_outcome: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, outcome: str, n: int = 1) -> None:
        with self._lock:
            self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + n

    def snapshot(self) -> dict:
        with self._lock:
            return {"requests": self.requests, "retries": self.retries, "bytes": self.bytes,
                    **dict(sorted(self.by_outcome.items()))}


Validator = Callable[[bytes], Optional[str]]  # body → None when fine, else the reason


class HttpClient:
    """requests.Session with a shared ``RateLimiter`` and a ``RetryPolicy``."""

    def __init__(self, limiter: RateLimiter, policy: Optional[RetryPolicy] = None,
                 user_agent: str = "leadsinstruct", sleep: Callable[[float], None] = time.sleep,
                 seed: int = 0):
        self.limiter, self.policy = limiter, policy or RetryPolicy()
        self._local = threading.local()
        self._user_agent, self._sleep = user_agent, sleep
        self._rng = random.Random(seed)
        self.stats = Stats()

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers["User-Agent"] = self._user_agent
            self._local.session = s
        return s

    def request(self, method: str, url: str, *, params: Optional[dict] = None, data: Optional[dict] = None,
                validate: Optional[Validator] = None, stream_to=None) -> bytes:
        """The body of a successful response (validated), after retries; see module doc.

        With ``stream_to`` (a seekable binary file object) the body is written there in chunks and
        ``b""`` is returned; each attempt starts the file over; the caller validates the file.
        """
        policy = self.policy
        last = ""
        for attempt in range(1, policy.max_attempts + 1):
            self.limiter.acquire()
            with self.stats._lock:
                self.stats.requests += 1
            wait = None
            try:
                resp = self._session().request(method, url, params=params, data=data,
                                               timeout=policy.timeout, stream=True)
            except (requests.ConnectionError, requests.Timeout) as e:
                last = f"{type(e).__name__}: {redact(str(e))[:200]}"
                self.stats.add("connection_error" if isinstance(e, requests.ConnectionError) else "timeout")
            else:
                try:
                    status = resp.status_code
                    if status == 200:
                        if stream_to is not None:  # a retry starts the file over
                            stream_to.seek(0)
                            stream_to.truncate()
                        try:
                            body = self._read(resp, stream_to)
                        except (requests.ConnectionError, requests.Timeout,
                                requests.exceptions.ChunkedEncodingError,
                                requests.exceptions.ContentDecodingError) as e:
                            last = f"truncated body ({type(e).__name__})"
                            self.stats.add("truncated")
                        else:
                            reason = validate(body) if (validate and stream_to is None) else None
                            if reason is None:
                                self.stats.add("ok")
                                return body
                            last = f"invalid body: {reason}"
                            self.stats.add("invalid_body")
                            if attempt == policy.max_attempts:
                                raise InvalidBody(self._show(url), attempt, reason,
                                                  redact(body[:2000].decode("utf-8", "replace"))[:300])
                    elif status in RETRY_STATUSES:
                        text = redact(resp.text)[:300] if not stream_to else ""
                        last = f"HTTP {status} {text}".strip()
                        self.stats.add(f"http_{status}")
                        wait = parse_retry_after(resp.headers.get("Retry-After"))
                        if wait is not None and wait > policy.retry_after_max:
                            raise FetchError(f"{self._show(url)} asks to retry after {wait:.0f} s "
                                             f"(more than {policy.retry_after_max:.0f} s)")
                        if wait is not None:
                            self.limiter.pause(wait)  # the server's word holds for every worker
                    else:
                        self.stats.add(f"http_{status}")
                        raise HttpStatusError(status, self._show(url), redact(resp.text)[:500])
                finally:
                    resp.close()
            if attempt == policy.max_attempts:
                break
            with self.stats._lock:
                self.stats.retries += 1
            if wait is not None:  # the limiter holds this and every other request until then
                log.info("retrying %s after Retry-After %.2f s (attempt %d: %s)", self._show(url), wait, attempt,
                         last)
            else:
                delay = policy.backoff(attempt, self._rng)
                log.info("retrying %s in %.2f s (attempt %d: %s)", self._show(url), delay, attempt, last)
                self._sleep(delay)
        raise RetriesExhausted(self._show(url), policy.max_attempts, last)

    def _read(self, resp: requests.Response, stream_to) -> bytes:
        expected = resp.headers.get("Content-Length")
        n = 0
        chunks = []
        for chunk in resp.iter_content(chunk_size=1 << 20):
            n += len(chunk)
            if stream_to is not None:
                stream_to.write(chunk)
            else:
                chunks.append(chunk)
        with self.stats._lock:
            self.stats.bytes += n
        if expected is not None and expected.isdigit() and int(expected) != n \
                and not resp.headers.get("Content-Encoding"):
            raise requests.exceptions.ChunkedEncodingError(f"got {n} of {expected} bytes")
        return b"" if stream_to is not None else b"".join(chunks)

    @staticmethod
    def _show(url: str) -> str:
        return redact(url)

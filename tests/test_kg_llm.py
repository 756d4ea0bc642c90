"""transforms.kg.llm against a local OpenAI-compatible server (tests/openai_server.py)."""
from __future__ import annotations

import hashlib
import json
import pickle
import threading
import time

import pytest

from tests.openai_server import Fault, OpenAIServer
from transforms.kg.llm import (LlmClient, LlmError, LlmSettings, answer_messages, chain_messages, chat_url,
                               parse_answer_letter, parse_pruned, prune_paths_messages)

KEY_ENV = "KG_LLM_TEST_KEY"
KEY = "sk-test-4f9a1c77e0b2d3"
MESSAGES = [{"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Which vitamin deficiency causes scurvy?"}]


@pytest.fixture
def server():
    with OpenAIServer(responder=lambda req: "Vitamin C") as srv:
        yield srv


@pytest.fixture
def key_env(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


def make_settings(srv: OpenAIServer, **kw) -> LlmSettings:
    base = dict(endpoint=srv.base_url, model="test-model", api_key_env=KEY_ENV, requests_per_second=0,
                backoff_s=0.01, backoff_max_s=0.05, timeout_s=5.0)
    base.update(kw)
    return LlmSettings(**base)


def stats(requests=0, cache_hits=0, retries=0, errors=0) -> dict:
    return {"requests": requests, "cache_hits": cache_hits, "retries": retries, "errors": errors}


# --------------------------------------------------------------------------- request shape
def test_request_body_and_authorization_header(server, key_env):
    client = LlmClient(make_settings(server, temperature=0.2, max_tokens=77))
    assert client.chat(MESSAGES) == "Vitamin C"
    assert client.chat(MESSAGES, response_format_json=True) == "Vitamin C"
    reqs = server.requests
    assert len(reqs) == 2
    assert [(r.method, r.path, r.status) for r in reqs] == [("POST", "/v1/chat/completions", 200)] * 2
    assert reqs[0].json == {"model": "test-model", "messages": MESSAGES, "temperature": 0.2, "max_tokens": 77}
    assert reqs[1].json == {"model": "test-model", "messages": MESSAGES, "temperature": 0.2, "max_tokens": 77,
                            "response_format": {"type": "json_object"}}
    assert [r.header("Authorization") for r in reqs] == [f"Bearer {KEY}"] * 2
    assert reqs[0].header("Content-Type") == "application/json"
    assert client.stats == stats(requests=2)


def test_no_authorization_header_without_key(server, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    client = LlmClient(make_settings(server))
    assert client.chat(MESSAGES) == "Vitamin C"
    assert len(server.requests) == 1
    assert server.requests[0].header("Authorization") is None


def test_key_is_not_held_by_settings_or_pickled_client(server, key_env):
    settings = make_settings(server)
    client = LlmClient(settings)
    client.chat(MESSAGES)
    assert KEY not in repr(settings)
    assert KEY.encode() not in pickle.dumps(client)
    clone = pickle.loads(pickle.dumps(client))
    assert clone.chat(MESSAGES) == "Vitamin C"
    assert server.requests[-1].header("Authorization") == f"Bearer {KEY}"


def test_chat_url_rule(server):
    assert chat_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1/chat/completions"
    assert chat_url("http://127.0.0.1:8000/v1/") == "http://127.0.0.1:8000/v1/chat/completions"
    assert chat_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/v1/chat/completions"
    assert chat_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000/v1/chat/completions"
    assert chat_url("https://example.org/v1beta/openai") == "https://example.org/v1beta/openai/chat/completions"
    bare = f"http://127.0.0.1:{server.port}"
    assert LlmClient(make_settings(server, endpoint=bare)).chat(MESSAGES) == "Vitamin C"
    assert [r.path for r in server.requests] == ["/v1/chat/completions"]


# --------------------------------------------------------------------------- cache
def expected_key(model, messages, temperature, max_tokens, response_format) -> str:
    doc = {"model": model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens,
           "response_format": response_format}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_cache_hit_makes_no_request_and_holds_no_key(server, key_env, tmp_path):
    counter = iter(range(1, 100))
    server.responder = lambda req: f"reply {next(counter)} ä"
    cache = tmp_path / "cache"
    prompts = [MESSAGES, [{"role": "user", "content": "Second question, naïve?"}]]

    first = LlmClient(make_settings(server, cache_dir=str(cache)))
    got = [first.chat(prompts[0]), first.chat(prompts[1]), first.chat(prompts[0], response_format_json=True)]
    assert got == ["reply 1 ä", "reply 2 ä", "reply 3 ä"]
    assert len(server.requests) == 3
    assert first.stats == stats(requests=3)

    files = sorted(p for p in cache.rglob("*") if p.is_file())
    keys = [expected_key("test-model", prompts[0], 0.0, 1024, None),
            expected_key("test-model", prompts[1], 0.0, 1024, None),
            expected_key("test-model", prompts[0], 0.0, 1024, {"type": "json_object"})]
    assert files == sorted(cache / k[:2] / f"{k}.json" for k in keys)
    record = json.loads((cache / keys[2][:2] / f"{keys[2]}.json").read_text("utf-8"))
    assert record == {"request": {"model": "test-model", "messages": prompts[0], "temperature": 0.0,
                                  "max_tokens": 1024, "response_format": {"type": "json_object"}},
                      "content": "reply 3 ä"}
    for f in files:
        assert KEY.encode() not in f.read_bytes()
        assert KEY_ENV.encode() not in f.read_bytes()

    # a new client (another process, say) with the same cache: hits only, no request at all
    second = LlmClient(make_settings(server, cache_dir=str(cache)))
    again = [second.chat(prompts[0]), second.chat(prompts[1]), second.chat(prompts[0], response_format_json=True)]
    assert again == got
    assert len(server.requests) == 3
    assert second.stats == stats(cache_hits=3)

    # the endpoint is not part of the key: another server of the same model is a hit too
    with OpenAIServer(responder=lambda req: "other server") as other:
        third = LlmClient(make_settings(other, cache_dir=str(cache)))
        assert third.chat(prompts[1]) == "reply 2 ä"
        assert other.requests == []
        # a different temperature is a different request: a miss, then cached
        warm = LlmClient(make_settings(other, cache_dir=str(cache), temperature=0.7))
        assert warm.chat(prompts[1]) == "other server"
        assert len(other.requests) == 1
        assert warm.stats == stats(requests=1)
    assert len([p for p in cache.rglob("*") if p.is_file()]) == 4


def test_corrupt_cache_entry_is_a_miss_and_is_rewritten(server, tmp_path):
    cache = tmp_path / "c"
    k = expected_key("test-model", MESSAGES, 0.0, 1024, None)
    path = cache / k[:2] / f"{k}.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"request": {"model": "test-model"', "utf-8")
    client = LlmClient(make_settings(server, cache_dir=str(cache)))
    assert client.chat(MESSAGES) == "Vitamin C"
    assert client.chat(MESSAGES) == "Vitamin C"
    assert client.stats == stats(requests=1, cache_hits=1)
    assert json.loads(path.read_text("utf-8"))["content"] == "Vitamin C"


def test_gs_cache_dir_needs_a_store(server):
    with pytest.raises(ValueError, match="local directories only"):
        LlmClient(make_settings(server, cache_dir="gs://bucket/llm-cache"))


# --------------------------------------------------------------------------- retries
def test_retries_on_5xx(server):
    server.add_faults(Fault.http(500), Fault.http(503), Fault.http(502))
    client = LlmClient(make_settings(server))
    assert client.chat(MESSAGES) == "Vitamin C"
    assert [r.status for r in server.requests] == [500, 503, 502, 200]
    assert client.stats == stats(requests=4, retries=3)


def test_retries_on_truncated_and_unusable_bodies(server):
    server.add_faults(Fault.truncated(), Fault.invalid_json(), Fault.no_content(), Fault.drop())
    client = LlmClient(make_settings(server))
    assert client.chat(MESSAGES) == "Vitamin C"
    assert [(r.fault.kind if r.fault else None, r.status) for r in server.requests] == [
        ("truncated", 200), ("invalid_json", 200), ("no_content", 200), ("drop", 0), (None, 200)]
    assert client.stats == stats(requests=5, retries=4)


def test_retries_on_timeout(server):
    server.add_faults(Fault.delay(1.0))
    client = LlmClient(make_settings(server, timeout_s=0.3))
    t0 = time.monotonic()
    assert client.chat(MESSAGES) == "Vitamin C"
    assert time.monotonic() - t0 < 0.9  # did not wait for the slow reply
    assert len(server.requests) == 2
    assert client.stats == stats(requests=2, retries=1)


def test_429_retry_after_is_honoured(server):
    server.add_faults(Fault.http(429, "slow down", retry_after=1))
    client = LlmClient(make_settings(server))
    assert client.chat(MESSAGES) == "Vitamin C"
    reqs = server.requests
    assert [r.status for r in reqs] == [429, 200]
    gap = reqs[1].time - reqs[0].time
    assert 0.97 <= gap < 1.5
    assert client.stats == stats(requests=2, retries=1)


def test_429_pause_is_shared_by_clients_of_the_endpoint(server):
    server.add_faults(Fault.http(429, "slow down", retry_after=1))
    refused = LlmClient(make_settings(server, max_retries=0))
    with pytest.raises(LlmError) as err:
        refused.chat(MESSAGES)
    assert err.value.status == 429
    assert err.value.attempts == 1
    assert "slow down" in str(err.value)
    assert refused.stats == stats(requests=1, errors=1)
    other = LlmClient(make_settings(server))  # another client of the same endpoint waits too
    assert other.chat(MESSAGES) == "Vitamin C"
    reqs = server.requests
    assert [r.status for r in reqs] == [429, 200]
    assert 0.97 <= reqs[1].time - reqs[0].time < 1.5


def test_client_error_fails_at_once_without_leaking_the_key(server, key_env):
    server.add_faults(Fault.http(401, f"Incorrect API key provided: {KEY}."), Fault.http(500))
    client = LlmClient(make_settings(server))
    with pytest.raises(LlmError) as err:
        client.chat(MESSAGES)
    assert err.value.status == 401
    assert err.value.attempts == 1
    assert "HTTP 401" in str(err.value)
    assert "Incorrect API key provided: [redacted]." in str(err.value)
    assert KEY not in str(err.value)
    assert len(server.requests) == 1
    assert server.pending_faults() == 1
    assert client.stats == stats(requests=1, errors=1)


def test_gives_up_after_max_retries(server):
    server.add_faults(*[Fault.http(500, "boom")] * 4)
    client = LlmClient(make_settings(server, max_retries=2))
    with pytest.raises(LlmError) as err:
        client.chat(MESSAGES)
    assert err.value.status == 500
    assert err.value.attempts == 3
    assert "after 3 requests" in str(err.value) and "boom" in str(err.value)
    assert len(server.requests) == 3
    assert server.pending_faults() == 1
    assert client.stats == stats(requests=3, retries=2, errors=1)


# --------------------------------------------------------------------------- rate limit
def test_rate_limit_spaces_requests(server):
    client = LlmClient(make_settings(server, requests_per_second=20))
    t0 = time.monotonic()
    for i in range(5):
        client.chat([{"role": "user", "content": f"q{i}"}])
    elapsed = time.monotonic() - t0
    times = [r.time for r in server.requests]
    assert len(times) == 5
    assert elapsed >= 4 / 20
    assert times[-1] - times[0] >= 4 / 20 - 0.01
    assert min(b - a for a, b in zip(times, times[1:])) >= 1 / 20 - 0.01
    assert elapsed < 2.0


def test_rate_limit_is_shared_by_threads_and_clients(server):
    clients = [LlmClient(make_settings(server, requests_per_second=20)) for _ in range(2)]

    def work(c, tag):
        for i in range(3):
            c.chat([{"role": "user", "content": f"{tag}{i}"}])

    threads = [threading.Thread(target=work, args=(c, t)) for c, t in zip(clients, "ab")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times = sorted(r.time for r in server.requests)
    assert len(times) == 6
    assert times[-1] - times[0] >= 5 / 20 - 0.01
    assert min(b - a for a, b in zip(times, times[1:])) >= 1 / 20 - 0.01
    assert sum(c.stats["requests"] for c in clients) == 6


# --------------------------------------------------------------------------- prompts and parsers
OPTIONS = [("A", "Vitamin A"), ("B", "Vitamin B12"), ("C", "Vitamin C"), ("D", "Vitamin D")]
LABELS = [label for label, _ in OPTIONS]


def test_prune_paths_messages():
    msgs = prune_paths_messages("Which deficiency causes scurvy?", OPTIONS, "C. Vitamin C",
                                ["scurvy->ascorbic acid", "scurvy->collagen->ascorbic acid"], keep=3)
    assert [m["role"] for m in msgs] == ["system", "user"]
    user = msgs[1]["content"]
    assert "Question:\nWhich deficiency causes scurvy?" in user
    assert "Answer Choices:\nA. Vitamin A\nB. Vitamin B12\nC. Vitamin C\nD. Vitamin D" in user
    assert "Answer:\nC. Vitamin C" in user
    assert "1: scurvy->ascorbic acid\n2: scurvy->collagen->ascorbic acid" in user
    assert "at most 3 " in user
    assert '{"paths": [{"index": <path number>, "reason": "<one sentence>"}]}' in user
    with pytest.raises(ValueError):
        prune_paths_messages("q", OPTIONS, "a", ["x->y"], keep=0)


@pytest.mark.parametrize("reply, n, expected", [
    ('{"paths": [{"index": 2, "reason": "direct"}, {"index": 1, "reason": "also"}]}', 3, [1, 0]),
    ('Here are my picks:\n```json\n{"paths": [{"index": 3, "reason": "a"}, {"index": 3, "reason": "dup"},'
     ' {"index": 9, "reason": "out of range"}, {"index": 0, "reason": "zero"}]}\n```\nHope this helps.', 3, [2]),
    ('I would keep {"Paths": [{"Index": "2", "reason": "x"}, {"index": true}]} since it is direct.', 2, [1]),
    ("[2, 1, 2]", 2, [1, 0]),
    ('{"paths": [{"reason": "no index"}, {"index": 1.0, "reason": "float"}]}', 1, [0]),
    ('{"paths": "1"}', 3, []),
    ("None of the paths are relevant.", 3, []),
    ("", 3, []),
])
def test_parse_pruned(reply, n, expected):
    assert parse_pruned(reply, n) == expected


def test_chain_messages():
    msgs = chain_messages("Which deficiency causes scurvy?", OPTIONS, ["scurvy->ascorbic acid"])
    user = msgs[1]["content"]
    assert [m["role"] for m in msgs] == ["system", "user"]
    for header in ("Finding reasoning paths:", "Reasoning Process:", "Conclusion:"):
        assert user.count(header) == 1
    assert "1. scurvy->ascorbic acid" in user
    assert "never mention that relations, paths or a reference answer were provided" in user
    assert "Reference answer" not in user
    with_answer = chain_messages("q?", OPTIONS, ["x->y"], answer="C. Vitamin C")[1]["content"]
    assert "Reference answer:\nC. Vitamin C" in with_answer


def test_answer_messages():
    msgs = answer_messages("Which deficiency causes scurvy?", OPTIONS, "Step 1: scurvy is ...")
    user = msgs[1]["content"]
    assert "Reasoning:\nStep 1: scurvy is ..." in user
    assert '"Answer: <label>" where <label> is one of A, B, C, D.' in user


@pytest.mark.parametrize("reply, expected", [
    ("Scurvy follows ascorbate deficiency.\nAnswer: C", "C"),
    ("**Answer:** (B)", "B"),
    ("Final answer: option D.", "D"),
    ("So the answer is A.", "A"),
    ("Thus the correct answer is: **C** because collagen needs it.", "C"),
    ("First I thought Answer: A, but on reflection Answer: B", "B"),
    ("I'd go with (D) here.", "D"),
    ("Weighing the options, the best fit is\nB", "B"),
    ("Weighing the options:\nC. Vitamin C", "C"),
    ("Weighing the options:\n**D)**", "D"),
    ("The answer is a vitamin that the body cannot make.", None),
    ("Answer: E", None),
    ("A patient with this picture needs more tests.", None),
    ("No option fits.", None),
    ("", None),
])
def test_parse_answer_letter(reply, expected):
    assert parse_answer_letter(reply, LABELS) == expected


def test_parse_answer_letter_two_options():
    assert parse_answer_letter("The final decision is yes.\nAnswer: A. Yes", ["A", "B"]) == "A"
    assert parse_answer_letter("Answer: C", ["A", "B"]) is None

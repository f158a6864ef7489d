"""The ``openai`` backend against a scripted local server (127.0.0.1 only, no real waits)."""

from __future__ import annotations

import base64
import io
import json
import random
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import numpy as np
import pytest
import soundfile as sf

from audioreason.config import ConfigError, TeacherSpec, build_section
from audioreason.teachers.backends import build_backend
from audioreason.teachers.base import BackendError, ChatRequest, SamplingParams, item_seed, user_turn
from audioreason.teachers.http_backend import HttpOptions, OpenAIBackend, build_body, parse_response

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@dataclass
class Reply:
    """One scripted answer of the fake server."""

    status: int = 200
    body: Any = None
    """A dict is sent as JSON, a str as is."""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    """Seconds to stall before answering (to trip the client's timeout)."""


def completion(
    texts: list[str],
    *,
    finish: str = "stop",
    prompt_tokens: int = 7,
    completion_tokens: int = 11,
    shuffle: bool = False,
) -> dict[str, Any]:
    choices = [
        {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": finish}
        for i, t in enumerate(texts)
    ]
    if shuffle:
        choices.reverse()
    return {
        "id": "cmpl-1",
        "object": "chat.completion",
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class FakeServer:
    """A chat-completions server that answers from a script and records what it got.

    ``script`` is either a list of :class:`Reply` (consumed in order; running out is a 500
    so a test never hangs) or a function of the request body returning a :class:`Reply`.
    """

    def __init__(self):
        self.script: list[Reply] | Callable[[dict], Reply] = []
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw)
                with fake.lock:
                    fake.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    if callable(fake.script):
                        reply = None
                    elif fake.script:
                        reply = fake.script.pop(0)
                    else:
                        reply = Reply(500, "script exhausted")
                if reply is None:
                    reply = fake.script(body)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                data = (json.dumps(reply.body) if isinstance(reply.body, dict) else str(reply.body or "")).encode()
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and hung up

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server(monkeypatch):
    for var in PROXY_VARS:  # a proxy from the environment must not see the local calls
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    fake = FakeServer()
    yield fake
    fake.close()


def options(base_url: str, **overrides) -> HttpOptions:
    values = dict(
        base_url=base_url,
        api_key_env="",
        timeout_s=5.0,
        max_retries=2,
        backoff_s=0.5,
        max_backoff_s=4.0,
        concurrency=2,
        audio_sample_rate=16000,
    )
    values.update(overrides)
    return HttpOptions(**values)


def make_backend(server: FakeServer, sleeps: list[float], **overrides) -> OpenAIBackend:
    return OpenAIBackend("served-model", options(server.base_url, **overrides), sleep=sleeps.append)


def req(item_id: str = "item-1", text: str = "What do you hear?", **kw) -> ChatRequest:
    return ChatRequest(item_id=item_id, messages=user_turn(text, system="Be brief."), **kw)


GREEDY = SamplingParams()
SAMPLED = SamplingParams(n=2, temperature=0.7, top_p=0.9, max_tokens=32, seed=3)


# ------------------------------------------------------------------------- success


def test_success_returns_texts_tokens_and_sends_the_body(server, monkeypatch):
    monkeypatch.setenv("TEST_TEACHER_KEY", "sk-test-123")
    server.script = [
        Reply(200, completion(["first", None], finish="length", shuffle=True, prompt_tokens=13, completion_tokens=21))
    ]
    sleeps: list[float] = []
    backend = make_backend(server, sleeps, api_key_env="TEST_TEACHER_KEY")

    (gen,) = backend.generate([req()], SAMPLED)

    assert gen.texts == ["first", ""]  # sorted by index; null content is an empty output
    assert gen.finish_reasons == ["length", "length"]
    assert (gen.prompt_tokens, gen.completion_tokens) == (13, 21)
    assert (backend.calls, backend.retries, sleeps) == (1, 0, [])
    (got,) = server.received
    assert got["path"] == "/v1/chat/completions"
    assert got["headers"]["Authorization"] == "Bearer sk-test-123"
    body = got["body"]
    assert body["model"] == "served-model"
    assert (body["n"], body["temperature"], body["top_p"], body["max_tokens"]) == (2, 0.7, 0.9, 32)
    assert body["seed"] == item_seed(3, "item-1")
    assert "top_k" not in body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What do you hear?"},
    ]


def test_no_authorization_header_without_api_key_env(server):
    server.script = [Reply(200, completion(["ok"]))]
    make_backend(server, []).generate([req()], GREEDY)
    assert "Authorization" not in server.received[0]["headers"]


def test_missing_usage_counts_zero_tokens(server):
    payload = completion(["ok"])
    del payload["usage"]
    server.script = [Reply(200, payload)]
    (gen,) = make_backend(server, []).generate([req()], GREEDY)
    assert (gen.texts, gen.prompt_tokens, gen.completion_tokens) == (["ok"], 0, 0)


def test_empty_batch_sends_nothing(server):
    backend = make_backend(server, [])
    assert backend.generate([], GREEDY) == []
    assert backend.calls == 0 and server.received == []


# ------------------------------------------------------------------------- retries


def test_429_with_retry_after_then_success(server):
    server.script = [Reply(429, "slow down", {"Retry-After": "0"}), Reply(200, completion(["ok"]))]
    sleeps: list[float] = []
    backend = make_backend(server, sleeps)
    (gen,) = backend.generate([req()], GREEDY)
    assert gen.texts == ["ok"]
    assert (backend.calls, backend.retries) == (2, 1)
    assert sleeps == [0.0]  # Retry-After wins over the 0.5 s backoff
    assert len(server.received) == 2 and server.received[0]["body"] == server.received[1]["body"]


def test_retry_after_is_capped_by_max_backoff(server):
    server.script = [Reply(429, "", {"Retry-After": "3600"}), Reply(200, completion(["ok"]))]
    sleeps: list[float] = []
    make_backend(server, sleeps, max_backoff_s=4.0).generate([req()], GREEDY)
    assert sleeps == [4.0]


def test_500s_back_off_exponentially_then_succeed(server):
    server.script = [Reply(500, "boom"), Reply(503, "busy"), Reply(502, "bad gw"), Reply(200, completion(["ok"]))]
    sleeps: list[float] = []
    backend = make_backend(server, sleeps, max_retries=3, backoff_s=0.5, max_backoff_s=1.5)
    (gen,) = backend.generate([req()], GREEDY)
    assert gen.texts == ["ok"]
    assert sleeps == [0.5, 1.0, 1.5]  # 0.5 * 2**attempt, capped at max_backoff_s
    assert (backend.calls, backend.retries) == (4, 3)


def test_timeout_then_success(server):
    server.script = [Reply(200, completion(["late"]), delay_s=0.6), Reply(200, completion(["ok"]))]
    sleeps: list[float] = []
    backend = make_backend(server, sleeps, timeout_s=0.2)
    (gen,) = backend.generate([req()], GREEDY)
    assert gen.texts == ["ok"]
    assert (backend.calls, backend.retries, sleeps) == (2, 1, [0.5])


def test_timeouts_every_time_raise_naming_the_item(server):
    server.script = [Reply(200, completion(["late"]), delay_s=0.5) for _ in range(2)]
    sleeps: list[float] = []
    backend = make_backend(server, sleeps, timeout_s=0.2, max_retries=1)
    with pytest.raises(BackendError, match=r"clip-42.*2 attempt\(s\).*timeout") as info:
        backend.generate([req("clip-42")], GREEDY)
    assert server.base_url + "/chat/completions" in str(info.value)
    assert (backend.calls, backend.retries, sleeps) == (2, 1, [0.5])


def test_connection_refused_is_retried_then_raises():
    # A port that was just free: nothing listens there.
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as probe:
        port = probe.server_address[1]
    sleeps: list[float] = []
    backend = OpenAIBackend("m", options(f"http://127.0.0.1:{port}/v1", max_retries=1), sleep=sleeps.append)
    with pytest.raises(BackendError, match=r"item-1.*connection error"):
        backend.generate([req()], GREEDY)
    assert (backend.calls, backend.retries, sleeps) == (2, 1, [0.5])


def test_html_200_then_success(server):
    server.script = [Reply(200, "<html><body>502 Bad Gateway</body></html>"), Reply(200, completion(["ok"]))]
    sleeps: list[float] = []
    backend = make_backend(server, sleeps)
    (gen,) = backend.generate([req()], GREEDY)
    assert gen.texts == ["ok"]
    assert (backend.calls, backend.retries, sleeps) == (2, 1, [0.5])


def test_malformed_every_time_raises_with_body_excerpt(server):
    page = "<html>" + "x" * 500 + "</html>"
    server.script = [Reply(200, page), Reply(200, {"error": "no choices here"}), Reply(200, page)]
    sleeps: list[float] = []
    backend = make_backend(server, sleeps, max_retries=2)
    with pytest.raises(BackendError) as info:
        backend.generate([req("item-7")], GREEDY)
    message = str(info.value)
    assert "item-7" in message and "3 attempt(s)" in message and "not JSON" in message
    assert "<html>" + "x" * 194 in message and "x" * 201 not in message  # first 200 chars only
    assert (backend.calls, backend.retries, sleeps) == (3, 2, [0.5, 1.0])


def test_400_raises_without_retry(server):
    server.script = [Reply(400, {"error": {"message": "model does not support audio"}})]
    sleeps: list[float] = []
    backend = make_backend(server, sleeps)
    with pytest.raises(BackendError, match=r"item-1.*HTTP 400.*does not support audio"):
        backend.generate([req()], GREEDY)
    assert (backend.calls, backend.retries, sleeps) == (1, 0, [])


def test_wrong_number_of_choices_raises(server):
    server.script = [Reply(200, completion(["only one"]))]
    backend = make_backend(server, [])
    with pytest.raises(BackendError, match=r"item-1.*expected 2 choice\(s\), got 1"):
        backend.generate([req()], SAMPLED)
    assert backend.calls == 1


def test_retries_are_logged(server, caplog):
    server.script = [Reply(503, "busy"), Reply(200, completion(["ok"]))]
    with caplog.at_level("WARNING", logger="audioreason.teachers.http_backend"):
        make_backend(server, []).generate([req("logged-item")], GREEDY)
    (record,) = caplog.records
    assert record.levelname == "WARNING" and "logged-item" in record.getMessage() and "HTTP 503" in record.getMessage()


# ------------------------------------------------------------------------- media, order, seeds


def test_audio_goes_on_the_last_user_turn_as_base64_wav(server, tmp_path):
    clip = tmp_path / "clip.wav"
    sr = 8000
    sf.write(clip, 0.3 * np.sin(2 * np.pi * 440 * np.arange(sr // 10) / sr), sr)  # 0.1 s
    server.script = [Reply(200, completion(["a dog barks"]))]
    make_backend(server, [], audio_sample_rate=16000).generate([req(audio=str(clip))], GREEDY)

    system, user = server.received[0]["body"]["messages"]
    assert system == {"role": "system", "content": "Be brief."}
    assert user["role"] == "user"
    (audio_part,) = [p for p in user["content"] if p["type"] == "input_audio"]
    assert audio_part["input_audio"]["format"] == "wav"
    wav = base64.b64decode(audio_part["input_audio"]["data"])
    assert wav[:4] == b"RIFF"
    x, got_sr = sf.read(io.BytesIO(wav))
    assert got_sr == 16000 and len(x) == 1600  # resampled to audio_sample_rate
    assert user["content"][-1] == {"type": "text", "text": "What do you hear?"}


def test_concurrent_results_come_back_in_request_order(server):
    rng = random.Random(0)
    in_flight, peak = [0], [0]
    lock = threading.Lock()

    def echo(body: dict) -> Reply:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(rng.uniform(0.0, 0.05))  # finish out of order
        with lock:
            in_flight[0] -= 1
        return Reply(200, completion([body["messages"][-1]["content"].upper()]))

    server.script = echo
    backend = make_backend(server, [], concurrency=4)
    texts = [f"prompt {i}" for i in range(8)]
    gens = backend.generate([req(f"item-{i}", t) for i, t in enumerate(texts)], GREEDY)
    assert [g.texts for g in gens] == [[t.upper()] for t in texts]
    assert backend.calls == 8 and len(server.received) == 8
    assert 1 <= peak[0] <= 4


def test_build_body_seeds_and_top_k():
    sampling = SamplingParams(n=4, temperature=1.0, top_k=20, seed=11)
    a = build_body("m", req("a"), sampling, 16000)
    assert a["top_k"] == 20 and a["n"] == 4 and a["model"] == "m"
    assert a["seed"] == build_body("m", req("a"), sampling, 16000)["seed"]  # reruns repeat
    assert a["seed"] != build_body("m", req("b"), sampling, 16000)["seed"]  # items differ
    assert build_body("m", req("a"), replace(sampling, seed=12), 16000)["seed"] != a["seed"]
    assert "top_k" not in build_body("m", req("a"), replace(sampling, top_k=0), 16000)
    assert 0 <= item_seed(2**40, "a") < 2**31
    json.dumps(a)  # the body must be serialisable as is


def test_parse_response_sorts_by_index_and_defaults():
    payload = {
        "choices": [
            {"index": 1, "message": {"content": "b"}, "finish_reason": None},
            {"index": 0, "message": {"content": "a"}, "finish_reason": "stop"},
        ]
    }
    gen = parse_response(payload, 2)
    assert gen.texts == ["a", "b"] and gen.finish_reasons == ["stop", ""]
    assert (gen.prompt_tokens, gen.completion_tokens) == (0, 0)
    with pytest.raises(ValueError, match="expected 3"):
        parse_response(payload, 3)


# ------------------------------------------------------------------------- options


def test_missing_api_key_variable_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TEST_TEACHER_MISSING_KEY", raising=False)
    with pytest.raises(ConfigError, match="TEST_TEACHER_MISSING_KEY"):
        OpenAIBackend("m", options("http://127.0.0.1:9/v1", api_key_env="TEST_TEACHER_MISSING_KEY"))


@pytest.mark.parametrize(
    "override, key",
    [
        ({"base_url": "127.0.0.1:8000/v1"}, "base_url"),
        ({"timeout_s": 0.0}, "timeout_s"),
        ({"concurrency": 0}, "concurrency"),
        ({"audio_sample_rate": -1}, "audio_sample_rate"),
        ({"max_retries": -1}, "max_retries"),
        ({"backoff_s": -0.1}, "backoff_s"),
        ({"max_backoff_s": 0.1}, "max_backoff_s"),
        ({"api_key_env": "NOT A NAME"}, "api_key_env"),
    ],
)
def test_invalid_options_raise_config_error(override, key):
    with pytest.raises(ConfigError, match=key):
        options(**{"base_url": "http://127.0.0.1:8000/v1", **override})


def test_options_build_from_params_and_registry_builds_the_backend():
    raw = {
        "base_url": "http://127.0.0.1:8000/v1/",
        "api_key_env": "",
        "timeout_s": 30,
        "max_retries": 3,
        "backoff_s": 1,
        "max_backoff_s": 30,
        "concurrency": 8,
        "audio_sample_rate": 16000,
    }
    opts = build_section(HttpOptions, raw, "teachers.t.options")
    assert opts.timeout_s == 30.0 and isinstance(opts.timeout_s, float)
    with pytest.raises(ConfigError, match="teachers.t.options.concurrency"):
        build_section(HttpOptions, {**raw, "concurrency": "8"}, "teachers.t.options")

    backend = build_backend(TeacherSpec(backend="openai", model="served", batch_size=4, options=raw))
    assert isinstance(backend, OpenAIBackend)
    assert (backend.name, backend.model) == ("openai", "served")
    assert backend.url == "http://127.0.0.1:8000/v1/chat/completions"

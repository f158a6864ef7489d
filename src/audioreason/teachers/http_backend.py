"""The ``openai`` backend: chat completions from an OpenAI-compatible HTTP server.

Serves hosted models and ``vllm serve`` alike (the audio teacher of paper 01 §3.1, the
caption-to-question LLM of paper 03 §III.C). Each :class:`~audioreason.teachers.base.ChatRequest`
becomes one ``POST {base_url}/chat/completions`` asking for all ``n`` samples at once; the
clip travels inline as a base64 WAV ``input_audio`` part (:func:`~audioreason.teachers.media.openai_messages`).
Up to ``concurrency`` requests are in flight; results come back in request order.

Transient failures (429, 5xx, timeouts, dropped connections, and a 200 whose body is not
the API's JSON, as proxies return HTML error pages) are retried with capped exponential
backoff, honouring a numeric ``Retry-After``. Anything else fails at once with a
:class:`~audioreason.teachers.base.BackendError` naming the item.

Example ``params.yaml`` entry::

    teachers:
      textualizer:
        backend: openai
        model: Qwen/Qwen2-Audio-7B-Instruct
        batch_size: 64
        options:
          base_url: http://127.0.0.1:8000/v1
          api_key_env: ""
          timeout_s: 120.0
          max_retries: 5
          backoff_s: 1.0
          max_backoff_s: 60.0
          concurrency: 16
          audio_sample_rate: 16000
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import requests
from requests.adapters import HTTPAdapter

from audioreason.config import ConfigError
from audioreason.teachers.base import BackendError, ChatRequest, Generation, SamplingParams, item_seed
from audioreason.teachers.media import openai_messages

logger = logging.getLogger(__name__)

#: Characters of a failed response's body quoted in errors and logs.
_BODY_EXCERPT = 200


@dataclass(frozen=True)
class HttpOptions:
    """Where the server is and how hard to try (``teachers.<name>.options`` for ``openai``)."""

    base_url: str
    """API root such as ``http://127.0.0.1:8000/v1``; requests go to ``{base_url}/chat/completions``."""
    api_key_env: str
    """Environment variable holding the API key; ``""`` sends no ``Authorization`` header."""
    timeout_s: float
    """Seconds to wait for the connection and again for the response of one attempt."""
    max_retries: int
    """Retries after the first attempt of a request (0 = try once)."""
    backoff_s: float
    """Wait before the first retry; doubles with each further retry."""
    max_backoff_s: float
    """Longest wait between attempts, also capping a server's ``Retry-After``."""
    concurrency: int
    """Most requests in flight at once."""
    audio_sample_rate: int
    """Hz of the WAV sent to the server (what the served audio model ingests)."""

    def __post_init__(self):
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"HttpOptions.base_url must start with http:// or https://, got {self.base_url!r}")
        if self.api_key_env and (not self.api_key_env.replace("_", "").isalnum() or self.api_key_env[0].isdigit()):
            raise ConfigError(f"HttpOptions.api_key_env must name an environment variable, got {self.api_key_env!r}")
        for name in ("timeout_s", "concurrency", "audio_sample_rate"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"HttpOptions.{name} must be positive, got {getattr(self, name)!r}")
        for name in ("max_retries", "backoff_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"HttpOptions.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.max_backoff_s < self.backoff_s:
            raise ConfigError(
                f"HttpOptions.max_backoff_s ({self.max_backoff_s}) must be >= backoff_s ({self.backoff_s})"
            )


def build_body(model: str, request: ChatRequest, sampling: SamplingParams, audio_sample_rate: int) -> dict[str, Any]:
    """The JSON body of one chat-completions call for ``request``.

    Args:
        model: The served model name.
        request: The prompt; its clip, if any, is read and inlined as base64 WAV.
        sampling: Decoding settings; all ``n`` samples are asked for in one call.
        audio_sample_rate: Hz of the inlined WAV.

    Returns:
        A JSON-serialisable dict. ``top_k`` appears only when set (> 0): it is a vLLM
        extra that OpenAI's own API rejects.
    """
    body: dict[str, Any] = {
        "model": model,
        "messages": openai_messages(request, audio_sample_rate=audio_sample_rate),
        "n": sampling.n,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
        "seed": item_seed(sampling.seed, request.item_id),
    }
    if sampling.top_k > 0:
        body["top_k"] = sampling.top_k
    return body


def parse_response(payload: dict[str, Any], n: int) -> Generation:
    """A :class:`Generation` from a chat-completions response holding ``n`` choices.

    Raises:
        ValueError: the number of choices is not ``n``, or a choice lacks its message.
    """
    choices = list(payload["choices"])
    if len(choices) != n:
        raise ValueError(f"expected {n} choice(s), got {len(choices)}")
    if all(isinstance(c, dict) and "index" in c for c in choices):
        choices.sort(key=lambda c: c["index"])
    try:
        texts = [c["message"].get("content") or "" for c in choices]
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"a choice lacks its message ({e!r})") from e
    usage = payload.get("usage") or {}
    return Generation(
        texts=texts,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        finish_reasons=[c.get("finish_reason") or "" for c in choices],
    )


class _Retryable(Exception):
    """One attempt failed in a way worth retrying."""

    def __init__(self, reason: str, body: str = "", retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.body = body
        self.retry_after = retry_after


class _Fatal(Exception):
    """One attempt failed in a way retrying cannot fix (4xx other than 429, or another non-2xx)."""

    def __init__(self, reason: str, body: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.body = body


def _retry_after_s(response: requests.Response) -> float | None:
    """A numeric ``Retry-After`` in seconds; ``None`` when absent or an HTTP date."""
    value = response.headers.get("Retry-After")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return max(0.0, seconds) if seconds is not None else None


class OpenAIBackend:
    """Chat generation through an OpenAI-compatible ``/chat/completions`` endpoint.

    Attributes:
        retries: Retries done since construction (all threads, all calls).
        calls: HTTP requests sent since construction, retries included.
    """

    name = "openai"

    def __init__(
        self,
        model: str,
        options: HttpOptions,
        *,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ):
        """Check the API key is available and open a connection pool.

        Args:
            model: The served model name sent in every request.
            options: Server address, timeouts, retries and concurrency.
            sleep: Waits between attempts (tests pass a recorder).
            session: A ready :class:`requests.Session`; by default one with a
                connection pool as large as ``options.concurrency``.

        Raises:
            ConfigError: ``options.api_key_env`` names a variable that is not set.
        """
        self.model = model
        self.options = options
        self.url = options.base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Content-Type": "application/json"}
        if options.api_key_env:
            # Checked here rather than in HttpOptions: params are validated on machines
            # that never call the server and need no key.
            key = os.environ.get(options.api_key_env)
            if not key:
                raise ConfigError(
                    f"openai backend: environment variable {options.api_key_env} "
                    f"(api_key_env) is not set or empty; export the API key there"
                )
            self._headers["Authorization"] = f"Bearer {key}"
        if session is None:
            session = requests.Session()
            # The default pool keeps 10 connections; more threads would reconnect each call.
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=options.concurrency)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self._session = session
        self._sleep = sleep
        self._lock = threading.Lock()
        self.retries = 0
        self.calls = 0

    def generate(self, requests: Sequence[ChatRequest], sampling: SamplingParams) -> list[Generation]:
        """One :class:`Generation` of ``sampling.n`` texts per request, in request order.

        Raises:
            BackendError: a request failed for good (after its retries); the message
                names the item, the URL, the last status or exception and the body's start.
        """
        if not requests:
            return []
        workers = min(self.options.concurrency, len(requests))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai") as pool:
            futures = [pool.submit(self._generate_one, r, sampling) for r in requests]
            try:
                return [f.result() for f in futures]
            except BaseException:
                # Do not keep hammering a server that just failed one item for good.
                for f in futures:
                    f.cancel()
                raise

    def _count(self, *, calls: int = 0, retries: int = 0) -> None:
        with self._lock:
            self.calls += calls
            self.retries += retries

    def _generate_one(self, request: ChatRequest, sampling: SamplingParams) -> Generation:
        body = json.dumps(
            build_body(self.model, request, sampling, self.options.audio_sample_rate), ensure_ascii=False
        ).encode("utf-8")
        opts = self.options
        for attempt in range(opts.max_retries + 1):
            try:
                payload = self._post(body)
            except _Retryable as failure:
                if attempt == opts.max_retries:
                    raise BackendError(
                        f"{request.item_id}: POST {self.url} failed after {attempt + 1} attempt(s): "
                        f"{failure.reason}; body: {failure.body[:_BODY_EXCERPT]!r}"
                    ) from failure
                delay = min(opts.max_backoff_s, opts.backoff_s * 2**attempt)
                if failure.retry_after is not None:
                    delay = min(opts.max_backoff_s, failure.retry_after)
                logger.warning(
                    "%s: POST %s attempt %d/%d failed (%s); retrying in %.1f s",
                    request.item_id,
                    self.url,
                    attempt + 1,
                    opts.max_retries + 1,
                    failure.reason,
                    delay,
                )
                self._count(retries=1)
                self._sleep(delay)
                continue
            except _Fatal as failure:
                raise BackendError(
                    f"{request.item_id}: POST {self.url} failed: {failure.reason}; "
                    f"body: {failure.body[:_BODY_EXCERPT]!r}"
                ) from None
            try:
                return parse_response(payload, sampling.n)
            except ValueError as e:
                raise BackendError(
                    f"{request.item_id}: POST {self.url}: unusable response ({e}); "
                    f"body: {json.dumps(payload)[:_BODY_EXCERPT]!r}"
                ) from e
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _post(self, body: bytes) -> dict[str, Any]:
        """One attempt: the decoded JSON payload, or :class:`_Retryable` / :class:`_Fatal`."""
        self._count(calls=1)
        try:
            response = self._session.post(self.url, data=body, headers=self._headers, timeout=self.options.timeout_s)
        except requests.Timeout as e:
            raise _Retryable(f"timeout after {self.options.timeout_s} s ({type(e).__name__})") from e
        except requests.ConnectionError as e:
            raise _Retryable(f"connection error ({e})") from e
        text = response.text
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}", text, _retry_after_s(response))
        if not 200 <= status < 300:
            raise _Fatal(f"HTTP {status}", text)
        try:
            payload = response.json()
        except ValueError:
            raise _Retryable(f"HTTP {status} with a body that is not JSON", text) from None
        if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list):
            raise _Retryable(f"HTTP {status} without a choices list", text)
        return payload

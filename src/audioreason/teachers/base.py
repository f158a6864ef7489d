"""One interface for chat generation, whatever serves the model.

Three papers build their training data with a large model: paper 01 §3.1 textualizes
CoTA with an audio LLM, paper 03 §III.C writes questions from captions with an LLM,
paper 02 §3.1-3.2 samples a vision teacher's chains of thought and checks them against
the audio. A generation stage builds :class:`ChatRequest` objects and hands them, with
one :class:`SamplingParams`, to a :class:`TeacherBackend`; it never asks which backend
it has:

===============  ====================================================================
``vllm``         offline batched engine on GPU nodes (:mod:`.vllm_backend`)
``transformers`` ``generate`` on any local checkpoint, CPU-capable (:mod:`.hf_backend`)
``openai``       an OpenAI-compatible HTTP server: hosted models or ``vllm serve`` (:mod:`.http_backend`)
``oracle``       a simulator of the synthetic world's teachers (:mod:`.oracle`)
===============  ====================================================================
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings shared by every backend.

    Attributes:
        n: Samples per prompt (paper 02 §3.1: n traces for self-consistency).
        temperature: 0 means greedy (paper 01 §4.1 textualizes "with greedy search").
        top_p: Nucleus mass; 1.0 turns it off.
        top_k: Top-k cut; 0 turns it off (vLLM's -1).
        max_tokens: Most new tokens per sample.
        seed: Base seed; backends that can seed per request derive the request's seed from it.
    """

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    max_tokens: int = 256
    seed: int = 0

    def __post_init__(self):
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must lie in (0, 1], got {self.top_p}")
        if self.top_k < 0 or self.max_tokens < 1:
            raise ValueError(f"top_k must be >= 0 and max_tokens >= 1, got {self.top_k}, {self.max_tokens}")
        if self.n > 1 and self.temperature == 0:
            raise ValueError("n > 1 samples need temperature > 0 (greedy decoding repeats one answer)")

    @classmethod
    def from_section(cls, section: Any) -> "SamplingParams":
        """A stage's ``sampling`` params section (a dataclass with these fields) as backend settings."""
        return cls(**dataclasses.asdict(section))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ChatRequest:
    """One prompt to generate for.

    Attributes:
        item_id: The item's identity in its stage (a record id, ``<id>#<sample>``...); the
            cache key includes it.
        messages: OpenAI-style chat turns ``[{"role": ..., "content": str}]``. The clip, when
            there is one, belongs to the last user turn.
        audio: Path of the clip the model hears (``<parquet>#<row>`` for CoTA), or ``None``
            for a text-only prompt.
        video: Path of the (silent) video a vision teacher watches (paper 02 §3.1), or ``None``.
        template: Name of the prompt template (part of the cache key: a changed template
            regenerates).
        meta: What the stage knows about the item (record id, choices...). Real backends
            ignore it; the oracle reads it to find the clip's ground truth.
    """

    item_id: str
    messages: tuple[dict[str, str], ...]
    audio: str | None = None
    video: str | None = None
    template: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self):
        if not self.messages or self.messages[-1].get("role") != "user":
            raise ValueError(f"{self.item_id}: a request must end with a user turn")

    @property
    def prompt_text(self) -> str:
        """The last user turn's text (what most logs and the oracle look at)."""
        return self.messages[-1]["content"]

    def content_json(self) -> str:
        """The part of the request that determines the model's output (for the cache key)."""
        return json.dumps(
            {"messages": list(self.messages), "audio": self.audio, "video": self.video},
            sort_keys=True,
            ensure_ascii=False,
        )


@dataclass
class Generation:
    """The ``n`` samples a backend returned for one request.

    Attributes:
        texts: One string per sample (``len == n``); an empty string is a real (empty) output.
        prompt_tokens: Tokens the prompt took (0 where the backend cannot tell).
        completion_tokens: Tokens generated over all samples.
        finish_reasons: One per sample where the backend says (``stop``, ``length``).
    """

    texts: list[str]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Generation":
        return cls(
            texts=list(d["texts"]),
            prompt_tokens=int(d.get("prompt_tokens", 0)),
            completion_tokens=int(d.get("completion_tokens", 0)),
            finish_reasons=list(d.get("finish_reasons", [])),
        )


class BackendError(RuntimeError):
    """A backend could not produce a generation (after its retries); names the item."""


@runtime_checkable
class TeacherBackend(Protocol):
    """What a generation stage needs from a model server.

    ``generate`` returns one :class:`Generation` per request, in request order, each with
    ``sampling.n`` texts. It may be called many times (the cache hands it only the
    missing items, in batches).
    """

    name: str
    model: str

    def generate(self, requests: Sequence[ChatRequest], sampling: SamplingParams) -> list[Generation]: ...


def user_turn(text: str, system: str | None = None) -> tuple[dict[str, str], ...]:
    """``messages`` for one user turn, after an optional system prompt."""
    turns = [{"role": "system", "content": system}] if system else []
    return tuple(turns + [{"role": "user", "content": text}])


#: Seeds stay below 2**31: every server accepts a signed 32-bit seed.
SEED_MODULUS = 2**31


def item_seed(base_seed: int, item_id: str) -> int:
    """``base_seed`` plus a stable offset from ``item_id``: distinct per item, the same on every rerun.

    Every backend that seeds per request uses it, so an item sampled offline (vLLM) and
    through ``vllm serve`` gets one seed. A digest, not ``hash``, which is salted per process.

    >>> item_seed(0, "a") == item_seed(0, "a") != item_seed(0, "b")
    True
    """
    offset = int.from_bytes(hashlib.sha256(item_id.encode("utf-8")).digest()[:4], "big")
    return (base_seed + offset) % SEED_MODULUS

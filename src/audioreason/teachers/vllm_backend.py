"""Offline batched vLLM engine for GPU nodes (backend ``vllm``).

The large teachers of the papers (paper 01 §3.1 textualizes CoTA with an audio LLM,
paper 02 §3.1 samples a vision teacher's chains of thought, paper 03 §III.C writes
questions with an LLM) run here when a node has CUDA: one ``vllm.LLM`` is built per
backend and every batch goes through ``LLM.chat`` with one ``SamplingParams`` per request.

vLLM is an optional extra (``pip install 'audioreason[vllm]'`` on a CUDA node; the GPU
image pins its version). It is imported lazily, when a :class:`VllmBackend` is built,
so this module imports, and its request construction is tested, on CPU machines. The
request construction is pure: :func:`engine_kwargs`, :func:`sampling_kwargs`,
:func:`chat_inputs` and :func:`to_generation` build and read plain values only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from audioreason.audio.io import AudioError
from audioreason.config import ConfigError
from audioreason.teachers.base import BackendError, ChatRequest, Generation, SamplingParams, item_seed
from audioreason.teachers.media import openai_messages

VLLM_MISSING = (
    "the vllm backend needs the GPU extra: pip install 'audioreason[vllm]' on a CUDA node; "
    "use backend 'transformers' or 'openai' elsewhere"
)

#: vLLM's "top-k off". Older versions accept only -1 (they reject 0); newer ones prefer 0
#: but still accept -1, so -1 works with both.
VLLM_TOP_K_OFF = -1

#: Per-request seeds stay below 2**31 (safe for every RNG vLLM seeds with them).

DTYPES = ("auto", "half", "float16", "bfloat16", "float", "float32")


@dataclass(frozen=True)
class VllmOptions:
    """``teachers.<name>.options`` for backend ``vllm`` (what ``vllm.LLM`` is built with)."""

    tensor_parallel_size: int
    """GPUs the model is sharded over (tensor parallelism); 1 on a single-GPU node."""
    gpu_memory_utilization: float
    """Fraction of each GPU's memory vLLM may take for weights, activations and KV cache, in (0, 1]."""
    max_model_len: int
    """Context length in tokens (prompt, audio tokens included, plus generation)."""
    dtype: str
    """Weight and activation dtype: ``auto`` (the checkpoint's), ``bfloat16``, ``float16``, ``float32``..."""
    limit_audio_per_prompt: int
    """Most clips one prompt may carry (vLLM's ``limit_mm_per_prompt["audio"]``); 0 for a
    text-only teacher."""
    limit_video_per_prompt: int
    """Most videos one prompt may carry (``limit_mm_per_prompt["video"]``); 0 for none."""
    allowed_local_media_path: str
    """Folder vLLM may read ``file://`` media (videos) from; ``""`` allows none."""
    audio_sample_rate: int
    """Rate (Hz) clips are resampled to before they are sent, as base64 WAV (16000 for
    Qwen2-Audio and Qwen2.5-Omni)."""

    def __post_init__(self):
        if self.tensor_parallel_size < 1:
            raise ConfigError(f"VllmOptions.tensor_parallel_size must be at least 1, got {self.tensor_parallel_size}")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ConfigError(
                f"VllmOptions.gpu_memory_utilization must lie in (0, 1], got {self.gpu_memory_utilization}"
            )
        if self.max_model_len < 1:
            raise ConfigError(f"VllmOptions.max_model_len must be positive, got {self.max_model_len}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"VllmOptions.dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.limit_audio_per_prompt < 0 or self.limit_video_per_prompt < 0:
            raise ConfigError(
                "VllmOptions.limit_audio_per_prompt and limit_video_per_prompt must be >= 0, got "
                f"{self.limit_audio_per_prompt}, {self.limit_video_per_prompt}"
            )
        if self.audio_sample_rate < 1:
            raise ConfigError(f"VllmOptions.audio_sample_rate must be positive, got {self.audio_sample_rate}")


# --------------------------------------------------------------------------- pure request construction


def engine_kwargs(model: str, options: VllmOptions) -> dict[str, Any]:
    """What ``vllm.LLM(**kw)`` is built with.

    ``limit_mm_per_prompt`` is left out when both limits are 0: vLLM rejects it for
    text-only models. ``allowed_local_media_path`` is made absolute, because vLLM
    compares it with the resolved parents of each ``file://`` path.
    """
    kw: dict[str, Any] = {
        "model": model,
        "tensor_parallel_size": options.tensor_parallel_size,
        "gpu_memory_utilization": options.gpu_memory_utilization,
        "max_model_len": options.max_model_len,
        "dtype": options.dtype,
        "trust_remote_code": False,
    }
    if options.limit_audio_per_prompt or options.limit_video_per_prompt:
        kw["limit_mm_per_prompt"] = {"audio": options.limit_audio_per_prompt, "video": options.limit_video_per_prompt}
    if options.allowed_local_media_path:
        kw["allowed_local_media_path"] = str(Path(options.allowed_local_media_path).resolve())
    return kw


def sampling_kwargs(sampling: SamplingParams, item_id: str) -> dict[str, Any]:
    """What ``vllm.SamplingParams(**kw)`` is built with for the request ``item_id``.

    Temperature 0 stays 0 (vLLM's greedy decoding); our ``top_k`` 0 becomes vLLM's
    "off" (:data:`VLLM_TOP_K_OFF`).
    """
    return {
        "n": sampling.n,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "top_k": sampling.top_k if sampling.top_k > 0 else VLLM_TOP_K_OFF,
        "max_tokens": sampling.max_tokens,
        "seed": item_seed(sampling.seed, item_id),
    }


def check_media(requests: Sequence[ChatRequest], options: VllmOptions) -> None:
    """Fail before the engine runs when a request carries media the engine will refuse.

    Raises:
        BackendError: naming the item, for a clip or video beyond the configured limits,
            or a video outside ``allowed_local_media_path``.
    """
    allowed = Path(options.allowed_local_media_path).resolve() if options.allowed_local_media_path else None
    for r in requests:
        if r.audio is not None and options.limit_audio_per_prompt < 1:
            raise BackendError(f"{r.item_id}: carries a clip but limit_audio_per_prompt is 0")
        if r.video is None:
            continue
        if options.limit_video_per_prompt < 1:
            raise BackendError(f"{r.item_id}: carries a video but limit_video_per_prompt is 0")
        if allowed is None:
            raise BackendError(
                f"{r.item_id}: vLLM reads videos as file:// URLs only from allowed_local_media_path, which is empty"
            )
        if allowed not in Path(r.video).resolve().parents:
            raise BackendError(f"{r.item_id}: video {r.video} lies outside allowed_local_media_path {allowed}")


def chat_inputs(requests: Sequence[ChatRequest], audio_sample_rate: int) -> list[list[dict[str, Any]]]:
    """One OpenAI-format conversation per request (what ``LLM.chat`` takes), clips as base64 WAV.

    Raises:
        BackendError: naming the item whose clip cannot be read.
    """
    conversations = []
    for r in requests:
        try:
            conversations.append(openai_messages(r, audio_sample_rate=audio_sample_rate))
        except (AudioError, OSError) as e:
            raise BackendError(f"{r.item_id}: cannot read its clip ({e})") from e
    return conversations


def to_generation(request_output: Any) -> Generation:
    """A :class:`Generation` from one vLLM ``RequestOutput`` (reads attributes only).

    Samples come in ``CompletionOutput.index`` order; a missing ``finish_reason`` becomes ``""``.
    """
    outputs = sorted(request_output.outputs, key=lambda o: getattr(o, "index", 0))
    return Generation(
        texts=[o.text for o in outputs],
        prompt_tokens=len(request_output.prompt_token_ids or ()),
        completion_tokens=sum(len(o.token_ids) for o in outputs),
        finish_reasons=[o.finish_reason or "" for o in outputs],
    )


# --------------------------------------------------------------------------- backend


def import_vllm():
    """``import vllm``, or an :class:`ImportError` saying how to get it."""
    try:
        import vllm
    except ImportError as e:
        raise ImportError(VLLM_MISSING) from e
    return vllm


class VllmBackend:
    """One ``vllm.LLM`` held for the whole stage; ``generate`` runs a batch through ``LLM.chat``."""

    name = "vllm"

    def __init__(self, model: str, options: VllmOptions):
        self.model = model
        self.options = options
        self._vllm = import_vllm()
        self.llm = self._vllm.LLM(**engine_kwargs(model, options))

    def generate(self, requests: Sequence[ChatRequest], sampling: SamplingParams) -> list[Generation]:
        if not requests:
            return []
        check_media(requests, self.options)
        conversations = chat_inputs(requests, self.options.audio_sample_rate)
        params = [self._vllm.SamplingParams(**sampling_kwargs(sampling, r.item_id)) for r in requests]
        outputs = self.llm.chat(conversations, sampling_params=params, use_tqdm=True)
        if len(outputs) != len(requests):
            raise BackendError(
                f"vLLM returned {len(outputs)} outputs for {len(requests)} requests (first item {requests[0].item_id})"
            )
        generations = [to_generation(o) for o in outputs]
        for r, g in zip(requests, generations):
            if len(g.texts) != sampling.n:
                raise BackendError(f"{r.item_id}: vLLM returned {len(g.texts)} samples, expected {sampling.n}")
        return generations

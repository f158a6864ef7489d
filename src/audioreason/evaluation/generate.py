"""Batched generation for audio multiple-choice questions: transformers ``generate`` or vLLM.

The same chat layout and prompt template as training (:mod:`audioreason.training.prompts`),
and per-item caching: finished items are appended to a JSON Lines file as they complete, so
an interrupted evaluation resumes where it stopped. Two engines, chosen by an ``eval``
section's ``engine`` (:func:`load_eval_model`):

- ``transformers``: ``model.generate`` batch by batch, left padding (CPU, tiny scale);
- ``vllm``: one offline ``vllm.LLM`` per checkpoint directory (:class:`VllmModel`), reused
  for every evaluation set of that checkpoint; the prompt is the processor's chat template
  as text (the audio placeholder in it) and the clip goes as
  ``multi_modal_data={"audio": (waveform, sample_rate)}``, resampled to the processor's
  rate as on the transformers path. vLLM batches continuously within a chunk of
  :data:`VLLM_CHUNK` questions; the cache is written after each chunk.

:func:`generate_answers` dispatches on the model it is given, so every caller (the suite,
the stages' own evaluations) takes either engine. The decoding settings are the params'
``generation`` sections as they are: :class:`GenerationSettings` is
:class:`audioreason.config.Generation`; under vLLM they become
:class:`~audioreason.teachers.base.SamplingParams` (:func:`vllm_sampling`), seeded per item.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, Sequence

import torch
from tqdm.auto import tqdm

from audioreason.audio.io import load_audio
from audioreason.config import ConfigError, Generation
from audioreason.datasets.records import QARecord
from audioreason.teachers.base import SamplingParams
from audioreason.teachers.vllm_backend import VllmOptions, engine_kwargs, import_vllm, sampling_kwargs
from audioreason.training.prompts import audio_messages, format_prompt

GenerationSettings = Generation
"""Decoding settings of :func:`generate_answers`: a ``generation`` params section (one type for every stage)."""


def _batches(items: Sequence[QARecord], size: int) -> Iterator[Sequence[QARecord]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _chat_text(processor, head: list[dict], prompt: str, with_audio: bool) -> str:
    """The chat-templated prompt text (the audio placeholder in it when ``with_audio``), as both engines send it."""
    content = (
        audio_messages(prompt) if with_audio else [{"role": "user", "content": [{"type": "text", "text": prompt}]}]
    )
    return processor.apply_chat_template(head + content, tokenize=False, add_generation_prompt=True)


def _read_cache(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    done = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            done[row["id"]] = row
    return done


@torch.no_grad()
def generate_answers(
    model,
    processor,
    records: Sequence[QARecord],
    *,
    prompt: str,
    settings: GenerationSettings,
    batch_size: int,
    cache: str | Path | None = None,
    with_audio: bool = True,
    system: str | None = None,
) -> list[dict]:
    """Generate one completion per record; returns ``[{id, prompt, completion}]`` in record order.

    Args:
        model: A transformers model (``generate`` batch by batch) or a :class:`VllmModel` (its engine).
        batch_size: Questions per ``generate`` call (transformers only; vLLM takes :data:`VLLM_CHUNK`).
        cache: JSON Lines file of finished items; items found there are not generated again.
        with_audio: ``False`` puts the question without the clip (paper 03's no-audio ablation).
        system: A system turn before the question (CoTA's, for models trained on it).
    """
    head = [{"role": "system", "content": system}] if system else []
    cache_path = Path(cache) if cache else None
    done = _read_cache(cache_path) if cache_path else {}
    todo = [r for r in records if r.id not in done]
    if isinstance(model, VllmModel):
        _generate_vllm(model, processor, todo, done, prompt, settings, cache_path, with_audio, head)
        return [done[r.id] for r in records]
    model.eval()
    tok = processor.tokenizer
    sr = processor.feature_extractor.sampling_rate
    torch.manual_seed(settings.seed)
    sink = cache_path.open("a") if cache_path else None
    try:
        for batch in tqdm(list(_batches(todo, batch_size)), desc="generate", disable=None):
            prompts = [format_prompt(prompt, r) for r in batch]
            texts = [_chat_text(processor, head, p, with_audio) for p in prompts]
            if with_audio:
                audios = [load_audio(r.audio, sr) for r in batch]
                enc = processor(
                    text=texts, audio=audios, sampling_rate=sr, return_tensors="pt", padding=True, padding_side="left"
                )
            else:
                enc = tok(texts, return_tensors="pt", padding=True, padding_side="left")
            out = model.generate(**enc, **settings.generate_kwargs(), pad_token_id=tok.pad_token_id)
            new = out[:, enc["input_ids"].shape[1] :]
            for r, p, ids in zip(batch, prompts, new):
                row = {"id": r.id, "prompt": p, "completion": tok.decode(ids, skip_special_tokens=True)}
                done[r.id] = row
                if sink:
                    sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                    sink.flush()
    finally:
        if sink:
            sink.close()
    return [done[r.id] for r in records]


# --------------------------------------------------------------------------- vLLM

VLLM_CHUNK = 512
"""Questions handed to one ``LLM.generate`` call: vLLM batches continuously within it, the cache is written after it."""


def vllm_sampling(settings: GenerationSettings) -> SamplingParams:
    """A ``generation`` section as vLLM decodes it: greedy (temperature 0, top-p 1, top-k off) unless ``do_sample``.

    >>> vllm_sampling(Generation(8, False, 0.6, 5, 0.5, 3))
    SamplingParams(n=1, temperature=0.0, top_p=1.0, top_k=0, max_tokens=8, seed=3)
    >>> vllm_sampling(Generation(8, True, 0.6, 5, 0.5, 3)).top_k
    5
    """
    if not settings.do_sample:
        return SamplingParams(
            n=1, temperature=0.0, top_p=1.0, top_k=0, max_tokens=settings.max_new_tokens, seed=settings.seed
        )
    return SamplingParams(
        n=1,
        temperature=settings.temperature,
        top_p=settings.top_p,
        top_k=settings.top_k,
        max_tokens=settings.max_new_tokens,
        seed=settings.seed,
    )


def _free_accelerator_memory() -> None:
    # A trainer's or an earlier engine's blocks stay in torch's cache; vLLM sizes itself by the free memory.
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class VllmModel:
    """A checkpoint directory served by one offline ``vllm.LLM``: built once, reused for every evaluation set.

    vLLM loads the weights from disk, never from a model in memory: the stages save theirs
    (``save_pretrained``) before evaluating and pass the directory (or a hub id); a model
    that exists only in memory must be saved first.

    Args:
        path: The checkpoint directory (or hub id).
        options: The engine's settings; ``engine_kwargs(path, options)`` builds the ``vllm.LLM``.
        vllm_module: ``vllm`` itself unless given (a test passes a fake with ``LLM`` and ``SamplingParams``).
    """

    def __init__(self, path: str | Path, options: VllmOptions, vllm_module: ModuleType | Any | None = None):
        self.path = str(path)
        self.options = options
        self._vllm = vllm_module if vllm_module is not None else import_vllm()
        _free_accelerator_memory()
        self.llm = self._vllm.LLM(**engine_kwargs(self.path, options))

    def eval(self) -> VllmModel:
        """Nothing to switch (the transformers path's ``model.eval()``)."""
        return self

    def sampling_params(self, settings: GenerationSettings, item_id: str):
        """The ``vllm.SamplingParams`` of one question (seeded per item, so a resumed run draws the same)."""
        return self._vllm.SamplingParams(**sampling_kwargs(vllm_sampling(settings), item_id))

    def close(self) -> None:
        """Drop the engine and free its GPU memory, so that the next checkpoint's engine fits.

        The torch process group a trainer left behind is kept: only vLLM's model-parallel groups go.
        """
        self.llm = None  # the last reference: vLLM shuts its engine (and engine process) down
        try:
            from vllm.distributed.parallel_state import destroy_model_parallel
        except ImportError:
            pass
        else:
            destroy_model_parallel()
        _free_accelerator_memory()


def _generate_vllm(
    model: VllmModel,
    processor,
    todo: Sequence[QARecord],
    done: dict[str, dict],
    prompt: str,
    settings: GenerationSettings,
    cache_path: Path | None,
    with_audio: bool,
    head: list[dict],
) -> None:
    sr = processor.feature_extractor.sampling_rate
    sink = cache_path.open("a") if cache_path else None
    try:
        for chunk in tqdm(list(_batches(todo, VLLM_CHUNK)), desc="generate (vllm)", disable=None):
            prompts = [format_prompt(prompt, r) for r in chunk]
            inputs = []
            for r, p in zip(chunk, prompts):
                item: dict[str, Any] = {"prompt": _chat_text(processor, head, p, with_audio)}
                if with_audio:
                    item["multi_modal_data"] = {"audio": (load_audio(r.audio, sr), sr)}
                inputs.append(item)
            params = [model.sampling_params(settings, r.id) for r in chunk]
            outputs = model.llm.generate(inputs, sampling_params=params, use_tqdm=False)
            if len(outputs) != len(chunk):
                raise RuntimeError(
                    f"vLLM returned {len(outputs)} outputs for {len(chunk)} questions (first {chunk[0].id})"
                )
            for r, p, out in zip(chunk, prompts, outputs):
                row = {"id": r.id, "prompt": p, "completion": out.outputs[0].text}
                done[r.id] = row
                if sink:
                    sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            if sink:
                sink.flush()
    finally:
        if sink:
            sink.close()


def check_engine(ev, where: str) -> None:
    """Fail before any model is loaded (or trained) when ``ev.engine`` asks for vLLM and vLLM is missing.

    Raises:
        ConfigError: naming ``<where>.engine``.
    """
    if ev.engine != "vllm":
        return
    try:
        import_vllm()
    except ImportError as e:
        raise ConfigError(
            f"{where}.engine: vllm is not importable here ({e}); set {where}.engine: transformers to generate "
            "with model.generate instead"
        ) from e


def load_eval_model(path_or_id: str | Path, ev, where: str, *, vllm_module: ModuleType | Any | None = None):
    """The ``(model, processor)`` an evaluation generates with, by ``ev.engine`` (an ``eval`` params section).

    ``transformers``: :func:`~audioreason.models.factory.load_model`. ``vllm``: the processor from
    ``path_or_id`` and a :class:`VllmModel` on the saved checkpoint (the path is required: vLLM
    reads the weights from disk, one clip per prompt, resampled to the processor's rate).

    Raises:
        ConfigError: ``engine: vllm`` where vLLM is not importable (:func:`check_engine`).
    """
    if ev.engine != "vllm":
        from audioreason.models.factory import load_model

        model, processor = load_model(str(path_or_id))
        return model.eval(), processor
    if vllm_module is None:
        check_engine(ev, where)
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(str(path_or_id))
    options = VllmOptions(
        tensor_parallel_size=ev.vllm.tensor_parallel_size,
        gpu_memory_utilization=ev.vllm.gpu_memory_utilization,
        max_model_len=ev.vllm.max_model_len,
        dtype=ev.vllm.dtype,
        limit_audio_per_prompt=1,
        limit_video_per_prompt=0,
        allowed_local_media_path="",
        audio_sample_rate=processor.feature_extractor.sampling_rate,
    )
    return VllmModel(path_or_id, options, vllm_module), processor


def release(model) -> None:
    """Free what an evaluation model holds: a :class:`VllmModel`'s engine (GPU memory), else nothing to do."""
    if isinstance(model, VllmModel):
        model.close()

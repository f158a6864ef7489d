"""GRPO that hears: TRL's ``GRPOTrainer`` with the clip carried through rollout and loss.

Papers 02 §3.3 (SightSound-R1, eq. 2) and 03 §III.B (Omni-R1) both optimise the GRPO
objective of DeepSeekMath on an audio LLM: G completions per (audio, question), group-
normalised rewards as advantages, a clipped ratio and ``beta * KL(pi_theta || pi_ref)``.
TRL 1.16 implements that objective for text and images only. With an audio model it
would either crash or, worse, score completions against the *text* of the prompt with
the audio placeholders left empty, so the policy would learn without hearing.

:class:`AudioGRPOTrainer` changes only what audio needs, and keeps one invariant: the
clip of row ``i`` belongs to the completion of row ``i``, whatever the batch, the group
size, the shuffling of the generation batch into micro-batches, or the chunking of the
log-prob forward:

- ``_tokenize_prompts``: renders the chat (the clip as an audio part, or none for the
  text-only ablation of paper 03 §IV.C), runs the processor on the row's clip (Whisper
  features, ``<|AUDIO|>`` expansion) and keeps the features in row order;
- rollouts: HF ``generate`` receives ``input_features`` / ``feature_attention_mask``
  (TRL passes the processor's tensors on), or vLLM colocated with the trainer receives
  each prompt's waveform as ``multi_modal_data``;
- ``_generate_and_score_completions``: the features ride in the output dict, so TRL's
  own shuffle and split move them together with the completions;
- ``_get_per_token_logps_and_entropies``: the policy, the old policy and the reference
  forward see the features of exactly the rows they score, chunk by chunk;
- ``_compute_loss``: the gradient forward sees them too.

The objective is the papers' GRPO only when the recipe says so: TRL 1.16 defaults to
``loss_type="dapo"`` (token sum over the whole batch's token count), weights the KL term by
the importance ratio (``use_bias_correction_kl``, which changes the KL gradient even at ratio
1), and under vLLM multiplies every token's loss by a truncated or masked rollout-vs-trainer
ratio (``vllm_importance_sampling_correction``). Eqs. 2-3 are ``loss_type="grpo"`` (each
completion's token mean, then the mean over the G completions), advantages ``(r - mean) / std``
within each group (``scale_rewards="group"``; TRL's std is the sample std, plus 1e-4), the k3
estimator ``pi_ref/pi - log(pi_ref/pi) - 1`` unweighted, and no correction factor; the
recipes state all four (:data:`audioreason.config.p02_p03.GRPO_OBJECTIVE_KEYS`) and a unit
test holds the loss and its gradient to a hand computation of eq. 2.

Works with a reference model (beta > 0: TRL reloads it from the saved checkpoint path),
with PEFT LoRA (the reference is the adapter-disabled model), and under DeepSpeed
ZeRO-2/3 (the model is called through its engine). Paper-scale layouts: paper 02 trains
on 6 GPUs with 8 completions per prompt; paper 03 on 4 GPUs, batch 1 x 2 accumulation.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import torch
from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from audioreason.audio.io import load_audio
from audioreason.config import ConfigError
from audioreason.config.p02_p03 import GRPO_OBJECTIVE_KEYS
from audioreason.datasets.records import QARecord
from audioreason.training.prompts import audio_messages, format_prompt

AUDIO_KEYS = ("input_features", "feature_attention_mask")
"""Processor outputs that the audio encoder reads, one row per prompt."""


def build_grpo_config(trainer: dict[str, Any], output_dir: str, where: str = "grpo.trainer") -> GRPOConfig:
    """TRL's ``GRPOConfig`` from the params mapping; a bad key or value names ``where``.

    ``remove_unused_columns`` is fixed: the rows' ``audio`` and the reward columns must
    reach the trainer.
    """
    if "remove_unused_columns" in trainer:
        raise ConfigError(f"{where}: remove_unused_columns is set by the audio GRPO recipe, remove it from params")
    try:
        return GRPOConfig(output_dir=output_dir, remove_unused_columns=False, **trainer)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from e


def objective_tags(args: GRPOConfig) -> dict[str, str]:
    """What TRL will optimise, read back from its config: MLflow tags ``grpo.<key>`` (the papers' GRPO is
    ``grpo.loss_type=grpo``, ``grpo.use_bias_correction_kl=False``, ``grpo.vllm_importance_sampling_correction=False``).
    """
    keys = (*GRPO_OBJECTIVE_KEYS, "beta", "epsilon", "num_iterations", "importance_sampling_level")
    return {f"grpo.{k}": str(getattr(args, k)) for k in keys}


def grpo_dataset(
    records: Sequence[QARecord], prompt: str, *, with_audio: bool = True, labels: dict[str, str] | None = None
) -> Dataset:
    """Rows for :class:`AudioGRPOTrainer`: the user text, the clip (``""`` without audio), the reward columns.

    Args:
        prompt: Template with ``{question}`` and ``{choices}`` (paper 03 §III.A's plain choice
            prompt, or paper 02's think/answer prompt).
        with_audio: ``False`` trains on the question text alone (paper 03 §IV.C; text-only sets
            such as ARC-Easy, whose records have ``audio == ""``).
        labels: Per-record-id label that the reward compares against as ``teacher_answer``
            (paper 02's vision-teacher label); defaults to the ground truth.

    Raises:
        ValueError: ``with_audio`` but a record has no clip (named), or no records.
    """
    if not records:
        raise ValueError("no training questions")
    if with_audio:
        silent = [r.id for r in records if not r.audio]
        if silent:
            raise ValueError(
                f"{len(silent)} of {len(records)} records have no audio (first: {silent[0]!r}); "
                "a text-only set trains with with_audio=False"
            )
    labels = labels or {}
    return Dataset.from_list(
        [
            {
                "id": r.id,
                "prompt": format_prompt(prompt, r),
                "audio": r.audio if with_audio else "",
                "answer": r.answer,
                "choices": list(r.choices),
                "teacher_answer": labels.get(r.id, r.answer),
            }
            for r in records
        ]
    )


def vllm_audio_requests(prompt_ids: Sequence[list[int]], waveforms: Sequence[tuple]) -> list[dict]:
    """vLLM prompts: the (already expanded) token ids with the row's ``(waveform, rate)`` as ``multi_modal_data``."""
    if len(prompt_ids) != len(waveforms):
        raise ValueError(f"{len(prompt_ids)} prompts but {len(waveforms)} waveforms")
    return [
        {"prompt_token_ids": list(ids), "multi_modal_data": {"audio": [wave]}}
        for ids, wave in zip(prompt_ids, waveforms)
    ]


def completions_from_vllm(outputs) -> tuple[list[list[int]], list[list[float]]]:
    """Completion ids and the sampled tokens' log-probs (TRL's importance-sampling correction reads them)."""
    ids = [list(o.outputs[0].token_ids) for o in outputs]
    logprobs = [
        [step[token].logprob for token, step in zip(o.outputs[0].token_ids, o.outputs[0].logprobs)] for o in outputs
    ]
    return ids, logprobs


@contextmanager
def _reference_loaded_like_the_policy() -> Iterator[None]:
    """While TRL builds the reference model (beta > 0) from the policy's path, read a full Qwen2.5-Omni
    checkpoint as :func:`audioreason.models.factory.load_model` reads the policy: its thinker.

    TRL takes the class from ``config.architectures[0]``; ``Qwen/Qwen2.5-Omni-7B`` names ``Qwen2_5OmniModel``
    (thinker, talker and vocoder), which transformers does not export and which has no ``auto_map``, so TRL 1.16
    fails before training (``'Qwen2_5OmniConfig' object has no attribute 'auto_map'``). Other checkpoints take
    TRL's own path.
    """
    import trl.trainer.grpo_trainer as trl_grpo
    from transformers import AutoConfig

    from audioreason.models.factory import load_model

    stock = trl_grpo.create_model_from_path

    def create_model_from_path(model_id, architecture=None, **kwargs):
        if architecture is not None or AutoConfig.from_pretrained(model_id).model_type != "qwen2_5_omni":
            return stock(model_id, architecture, **kwargs)
        dtype = kwargs.get("dtype")
        return load_model(model_id, dtype=dtype if isinstance(dtype, torch.dtype) else torch.float32)[0]

    trl_grpo.create_model_from_path = create_model_from_path
    try:
        yield
    finally:
        trl_grpo.create_model_from_path = stock


class AudioGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` whose rollouts and log-prob forwards hear each row's clip.

    The dataset holds plain-text prompts and an ``audio`` column (a path, or ``""`` for a
    text-only row); see :func:`grpo_dataset`. A batch either has audio on every row or on
    none (a mixed batch is refused: the processor cannot pad a missing clip).
    """

    def __init__(self, model, *args, **kwargs):
        args_ = kwargs.get("args") if "args" in kwargs else (args[1] if len(args) > 1 else None)
        if args_ is not None and args_.use_vllm and args_.vllm_mode != "colocate":
            # TRL's vLLM server client sends token ids and image features only; the clip cannot travel.
            raise ValueError("audio rollouts need vllm_mode='colocate': TRL's vLLM server protocol carries no audio")
        config = model.config
        # TRL suppresses the image placeholder in rollouts (a sampled one would not match the features) and reads
        # `image_token_id` for it, which audio-only configs lack; here the audio placeholder must not be sampled.
        audio_token = config.audio_token_index
        borrowed = not hasattr(config, "image_token_id")
        if borrowed:
            config.image_token_id = audio_token
        try:
            with _reference_loaded_like_the_policy():
                super().__init__(model, *args, **kwargs)
        finally:
            if borrowed:
                del config.image_token_id
        suppressed = sorted(set(self.generation_config.suppress_tokens or []) | {audio_token})
        self.generation_config.suppress_tokens = self.generation_kwargs["suppress_tokens"] = suppressed
        if self.tools or self.environment_factories is not None:
            raise ValueError("AudioGRPOTrainer supports single-turn rollouts only (no tools or environments)")
        self._batch_audio: list[str] | None = None  # the clips of the rows being generated, in row order
        self._batch_waveforms: list | None = None  # their waveforms (vLLM rollouts)
        self._audio_inputs: dict[str, torch.Tensor] | None = None  # their features, for every forward
        self.audio_rows_in_loss = 0  # sequences whose gradient forward heard a clip (a check for the stage's metrics)

    # --- prompts and rollouts -------------------------------------------------------------------------------
    def _tokenize_prompts(self, prompts: list):
        """Chat-render each prompt with its row's clip; returns TRL's ``(prompt_ids, images, fields)``."""
        if self._batch_audio is None or len(self._batch_audio) != len(prompts):
            raise RuntimeError("prompts reached tokenization without their rows' audio")
        proc = self.processing_class
        has_audio = [bool(a) for a in self._batch_audio]
        if any(has_audio) and not all(has_audio):
            raise ValueError("a batch mixes rows with and without audio; train text-only and audio rows separately")
        if all(has_audio):
            sr = proc.feature_extractor.sampling_rate
            texts = [
                proc.apply_chat_template(audio_messages(p), tokenize=False, add_generation_prompt=True) for p in prompts
            ]
            waves = [load_audio(a, sr) for a in self._batch_audio]
            enc = proc(
                text=texts, audio=waves, sampling_rate=sr, return_tensors="pt", padding=True, padding_side="left"
            )
            fields = {k: enc[k] for k in AUDIO_KEYS}
            self._batch_waveforms = [(w, sr) for w in waves]
        else:
            texts = [
                proc.apply_chat_template(
                    [{"role": "user", "content": [{"type": "text", "text": p}]}],
                    tokenize=False,
                    add_generation_prompt=True,
                )
                for p in prompts
            ]
            enc = self._tokenizer(texts, return_tensors="pt", padding=True, padding_side="left")
            fields = {}
            self._batch_waveforms = None
        prompt_ids = [ids[mask.bool()].tolist() for ids, mask in zip(enc["input_ids"], enc["attention_mask"])]
        self._audio_inputs = fields or None
        return prompt_ids, None, fields

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        if self.use_vllm and self._batch_waveforms is not None:
            return self._generate_vllm_with_audio(prompt_ids)
        return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations, has_tool_images)

    def _generate_vllm_with_audio(self, prompt_ids):
        """Colocated vLLM: each prompt (already expanded) with its waveform; one sample per row."""
        from vllm import SamplingParams

        gen = self.vllm_generation
        if self.state.global_step != self._last_loaded_step:
            gen.sync_weights()
            self._last_loaded_step = self.state.global_step
        params = SamplingParams(
            n=1,
            temperature=gen.temperature,
            top_p=gen.top_p,
            top_k=gen.top_k,
            min_p=gen.min_p or 0.0,
            repetition_penalty=gen.repetition_penalty,
            max_tokens=gen.max_completion_length,
            logprobs=0,
            **(gen.generation_kwargs or {}),
        )
        outputs = gen.llm.generate(
            vllm_audio_requests(prompt_ids, self._batch_waveforms), sampling_params=params, use_tqdm=False
        )
        return completions_from_vllm(outputs)

    def _generate_and_score_completions(self, inputs):
        self._batch_audio = [x.get("audio") or "" for x in inputs]
        try:
            output = super()._generate_and_score_completions(inputs)
            if self._audio_inputs is not None:
                # In the output dict TRL's shuffle/split permutes the features with their completions.
                output.update({k: v.to(self.accelerator.device) for k, v in self._audio_inputs.items()})
        finally:
            self._batch_audio = self._batch_waveforms = self._audio_inputs = None
        return output

    # --- forwards -----------------------------------------------------------------------------------------
    @contextmanager
    def _hearing(self, inputs: dict[str, Any]) -> Iterator[None]:
        previous = self._audio_inputs
        self._audio_inputs = {k: inputs[k] for k in AUDIO_KEYS} if AUDIO_KEYS[0] in inputs else None
        try:
            yield
        finally:
            self._audio_inputs = previous

    def _compute_loss(self, model, inputs):
        with self._hearing(inputs):
            if self._audio_inputs is not None:
                self.audio_rows_in_loss += self._audio_inputs["input_features"].size(0)
            return super()._compute_loss(model, inputs)

    def _get_per_token_logps_and_entropies(
        self,
        model,
        input_ids,
        attention_mask,
        logits_to_keep,
        batch_size=None,
        compute_entropy=False,
        compute_aux_loss=False,
        **multimodal,
    ):
        audio = self._audio_inputs
        if audio is None:
            return super()._get_per_token_logps_and_entropies(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                batch_size=batch_size,
                compute_entropy=compute_entropy,
                compute_aux_loss=compute_aux_loss,
                **multimodal,
            )
        rows = input_ids.size(0)
        if audio["input_features"].size(0) != rows:
            raise RuntimeError(f"{rows} sequences but {audio['input_features'].size(0)} clips: audio out of step")
        step = batch_size or rows
        logps, entropies, aux = [], [], []
        for start in range(0, rows, step):
            end = min(start + step, rows)
            ids, mask = input_ids[start:end], attention_mask[start:end]
            labels = ids.masked_fill(mask == 0, -100)  # only completion tokens are scored
            labels[:, :-logits_to_keep] = -100
            extra = {"output_router_logits": True} if compute_aux_loss else {}
            with self.accelerator.autocast():
                out = model(
                    input_ids=ids,
                    attention_mask=mask,
                    labels=labels,
                    fused_lm_head=True,
                    **extra,
                    **{k: v[start:end] for k, v in audio.items()},
                )
            logps.append(out.log_probs[:, -logits_to_keep:])
            if compute_entropy:
                entropies.append(out.entropy[:, -logits_to_keep:])
            if compute_aux_loss:
                aux.append(out.aux_loss)
        return (
            torch.cat(logps),
            torch.cat(entropies) if compute_entropy else None,
            torch.stack(aux).mean() if compute_aux_loss else None,
        )

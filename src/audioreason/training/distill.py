"""Source- and layer-wise distillation (paper 01 §3.2-3.4) on the Hugging Face Trainer beneath TRL.

The textual teacher T reads (d, q) (the description written by ``textualize_cota``); the
audio student S hears (x, q); both are scored on the same response y = (r, a), the CoTA
trace and answer. Because the two prompts differ in length, :class:`DistillCollator`
records for every response token where each model predicts it, and the losses gather
the two models' outputs at those positions, aligned token by token. Teacher and student
need not share a vocabulary, only the response's tokens: every id of y must be the same
token to both tokenizers (:func:`check_response_tokens`, per record). Qwen2.5-Omni-7B and
Qwen3-8B share the Qwen2 byte-level BPE but not their added tokens (151,646 is ``<|AUDIO|>``
to one and ``<|object_ref_start|>`` to the other; 152,064 and 151,936 logits), so L_top
compares the two distributions over the ids both output heads have (the first 151,936).

Joint loss (eq. 9), every term logged separately:

    L = w_top L_top + alpha_layer sum_i L_layer,i + alpha_ac L_ac + alpha_SFT L_SFT   (+ alpha_ac L_ac_enc)

- ``L_top`` (eq. 3): divergence between the teacher's and the student's next-token
  distributions over the response tokens, chunked and indexed in place
  (:func:`~audioreason.losses.divergences.aligned_kd_loss`);
- ``L_layer,i`` (eq. 5): hidden-state KD between W_i h^T (teacher layer l_T of eq. 4, or
  1-in-k of eq. 7) and h^S at the response tokens; the W_i (:class:`~audioreason.losses.layer_map.LayerProjections`)
  train with the student, are saved in every checkpoint, and are never exported;
- ``L_ac`` (eq. 8): hidden-state KD against a frozen snapshot S0 of the student at the
  audio-token positions T_x, summed over the L_S decoder layers i = 1..L_S, i.e.
  ``hidden_states[1..L_S]`` (``hidden_states[0]`` is the embeddings, ``hidden_states[i]`` the
  output of block i; the last, block L_S, is taken after the final RMSNorm, as Hugging Face
  returns it and the LM head reads it, for S and S0 alike): L_S terms, 28 for the Omni thinker;
- ``L_ac_enc`` (not in the paper, off unless ``distill.acoustic_encoder_layers``): the same KD on
  every audio-encoder layer's output (forward hooks), logged as ``loss_acoustic_encoder`` and
  weighted by alpha_ac;
- ``L_SFT``: the student's cross-entropy on y.

The teacher and S0 run in inference mode (``torch.no_grad``, ``eval``), and S0 is skipped
entirely when ``alpha_ac`` is 0. :class:`DistillationModule` wraps the student and the
projections, so the Trainer (and DeepSpeed ZeRO) optimises, checkpoints and resumes both;
:meth:`DistillationModule.export` saves the student alone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import Trainer

from audioreason.losses.divergences import aligned_kd_loss, hidden_kd_loss
from audioreason.losses.layer_map import LayerProjections
from audioreason.teachers.media import load_clip
from audioreason.training.prompts import COTA_SYSTEM, cota_question, cota_response

IGNORE_INDEX = -100


def check_response_tokens(
    record_id: str, ids: list[int], student_tokenizer, teacher_tokenizer, vocab_limit: int | None = None
) -> None:
    """Refuse a response whose ids do not name the same tokens for both models.

    Response-token KD (paper 01 eq. 3) compares the teacher's and the student's predictions of
    each response token y_t, so every id of y must be the same token (byte-level string) to
    both tokenizers; the vocabularies as a whole may differ (added tokens beyond the shared
    BPE). ``vocab_limit``: the number of logits both models output; an id at or beyond it has
    no place in the compared distributions.

    Raises:
        ValueError: naming the record and the first id on which the tokenizers differ (with
            both tokens), or the first id beyond ``vocab_limit``.
    """
    student_tokens = student_tokenizer.convert_ids_to_tokens(ids)
    teacher_tokens = teacher_tokenizer.convert_ids_to_tokens(ids)
    for token_id, s, t in zip(ids, student_tokens, teacher_tokens):
        if s != t:
            raise ValueError(
                f"{record_id}: response token id {token_id} is {s!r} to the student's tokenizer and {t!r} to the "
                "teacher's; response-token distillation needs every response id to be the same token to both"
            )
        if vocab_limit is not None and token_id >= vocab_limit:
            raise ValueError(
                f"{record_id}: response token id {token_id} ({s!r}) is beyond the {vocab_limit} logits the student "
                "and the teacher share"
            )


@dataclass
class DistillCollator:
    """Student batch (clip + q -> y), teacher batch (d + q -> y), and where each predicts y.

    Returns the student's ``input_ids``, ``attention_mask``, ``labels`` (y only),
    ``input_features``, ``feature_attention_mask``; the teacher's ``teacher_input_ids`` and
    ``teacher_attention_mask``; ``student_positions`` / ``teacher_positions`` ``[B, Y]``:
    the index of the logit that predicts response token k in each sequence;
    ``response_mask`` ``[B, Y]``; ``audio_mask`` ``[B, S]``: the student's audio placeholders.
    Right padding; sequences are cut so prompt + y fits ``max_length``. Every response is
    checked by :func:`check_response_tokens` (``vocab_limit``: the logits both models share).
    """

    processor: Any
    teacher_tokenizer: Any
    teacher_prompt: str
    max_length: int
    vocab_limit: int | None = None
    system: str = COTA_SYSTEM
    end_of_turn: str = "<|im_end|>\n"

    def _pad(self, seqs: list[list[int]], value: int) -> torch.Tensor:
        out = torch.full((len(seqs), max(map(len, seqs))), value, dtype=torch.long)
        for i, s in enumerate(seqs):
            out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        return out

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        proc, tok, ttok = self.processor, self.processor.tokenizer, self.teacher_tokenizer
        sr = proc.feature_extractor.sampling_rate
        s_prompts, t_prompts = [], []
        for r in rows:
            q = cota_question(r["question"], r["choices"])
            s_prompts.append(
                proc.apply_chat_template(
                    [
                        {"role": "system", "content": self.system},
                        {"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": q}]},
                    ],
                    tokenize=False,
                    add_generation_prompt=True,
                )
            )
            t_prompts.append(
                ttok.apply_chat_template(
                    [
                        {"role": "system", "content": self.system},
                        {
                            "role": "user",
                            "content": self.teacher_prompt.format(description=r["description"], question=q),
                        },
                    ],
                    tokenize=False,
                    add_generation_prompt=True,
                )
            )
        audios = [load_clip(r["audio"], sr)[0] for r in rows]
        enc = proc(
            text=s_prompts, audio=audios, sampling_rate=sr, return_tensors="pt", padding=True, padding_side="right"
        )
        s_seqs, t_seqs, labels, s_pos, t_pos, lengths = [], [], [], [], [], []
        for i, r in enumerate(rows):
            y = cota_response(r) + self.end_of_turn
            y_s = tok(y, add_special_tokens=False)["input_ids"]
            check_response_tokens(r["id"], y_s, tok, ttok, self.vocab_limit)
            y_t = ttok(y, add_special_tokens=False)["input_ids"]
            if y_s != y_t:
                first = next((k for k, (a, b) in enumerate(zip(y_s, y_t)) if a != b), min(len(y_s), len(y_t)))
                raise ValueError(
                    f"{r['id']}: the teacher's tokenizer splits the response differently from the student's "
                    f"from token {first} on ({ttok.convert_ids_to_tokens(y_t[first : first + 3])} against "
                    f"{tok.convert_ids_to_tokens(y_s[first : first + 3])})"
                )
            sp = enc["input_ids"][i][enc["attention_mask"][i].bool()].tolist()
            tp = ttok(t_prompts[i], add_special_tokens=False)["input_ids"]
            room = self.max_length - max(len(sp), len(tp))
            if room < 1:
                raise ValueError(
                    f"{r['id']}: the prompt ({max(len(sp), len(tp))} tokens) leaves no room for the "
                    f"response within max_length {self.max_length}"
                )
            y_s = y_s[:room]
            s_seqs.append(sp + y_s)
            t_seqs.append(tp + y_s)
            labels.append([IGNORE_INDEX] * len(sp) + y_s)
            # the logit at position j predicts token j + 1
            s_pos.append([len(sp) - 1 + k for k in range(len(y_s))])
            t_pos.append([len(tp) - 1 + k for k in range(len(y_s))])
            lengths.append(len(y_s))
        input_ids = self._pad(s_seqs, tok.pad_token_id)
        audio_id = tok.convert_tokens_to_ids("<|AUDIO|>")
        return {
            "input_ids": input_ids,
            "attention_mask": self._pad([[1] * len(s) for s in s_seqs], 0),
            "labels": self._pad(labels, IGNORE_INDEX),
            "input_features": enc["input_features"],
            "feature_attention_mask": enc["feature_attention_mask"],
            "teacher_input_ids": self._pad(t_seqs, ttok.pad_token_id),
            "teacher_attention_mask": self._pad([[1] * len(s) for s in t_seqs], 0),
            "student_positions": self._pad(s_pos, 0),
            "teacher_positions": self._pad(t_pos, 0),
            "response_mask": self._pad([[1] * n for n in lengths], 0).bool(),
            "audio_mask": input_ids == audio_id,
        }


@dataclass(frozen=True)
class LossWeights:
    """The weights of eq. 9 for one Table 1 row."""

    top: float
    """Weight of L_top (0 for the SFT-only row)."""
    layer: float
    """alpha_layer (0, or no mapped layers, for top-layer KD)."""
    acoustic: float
    """alpha_ac (eq. 8's L_ac: decoder layers at the audio positions)."""
    sft: float
    """alpha_SFT."""
    acoustic_encoder: float = 0.0
    """Weight of the audio-encoder layers' KD against S0: alpha_ac when ``distill.acoustic_encoder_layers``
    is on (an extension, not in the paper), else 0."""


@dataclass(frozen=True)
class KDSettings:
    """How each KD term is computed."""

    divergence: str
    """``jsd`` (paper 01 §4.2), ``forward_kl``, ``reverse_kl``, ``skew_kl``."""
    beta: float
    """JSD mixture weight of the teacher (0.5: symmetric), or the skew of ``skew_kl``."""
    temperature: float
    hidden: str
    """Hidden-state KD: ``softmax`` (eq. 5 literally), ``mse`` or ``cosine``."""
    chunk_size: int


def audio_tower(model) -> nn.Module:
    inner = getattr(model, "model", model)
    return getattr(inner, "audio_tower", None) or model.audio_tower


class DistillationModule(nn.Module):
    """The student and the projections W_i: what the optimiser trains and a checkpoint holds."""

    def __init__(self, student: nn.Module, projections: LayerProjections):
        super().__init__()
        self.student = student
        self.projections = projections
        self.config = student.config  # the Trainer / DeepSpeed read sizes from it

    def forward(self, **kwargs):
        return self.student(**kwargs)

    def activation_checkpointing_enable(self, activation_checkpointing_kwargs=None, **kwargs):
        """``trainer.gradient_checkpointing`` (on at paper scale): the Trainer asks the model it trains, this
        module, and the student's decoder layers are what is checkpointed (the W_i keep no activations)."""
        self.student.activation_checkpointing_enable(activation_checkpointing_kwargs, **kwargs)

    def activation_checkpointing_disable(self):
        self.student.activation_checkpointing_disable()

    def export(self, out_dir: str | Path, processor=None, state_dict: dict | None = None) -> None:
        """Save the student alone, as a checkpoint any stage loads; the W_i stay behind.

        Args:
            state_dict: This module's full state dict when the parameters are partitioned
                (DeepSpeed ZeRO-3 gathers it); its ``student.*`` entries are saved.
        """
        if state_dict is not None:
            state_dict = {k[len("student.") :]: v for k, v in state_dict.items() if k.startswith("student.")}
        self.student.save_pretrained(out_dir, state_dict=state_dict)
        if processor is not None:
            processor.save_pretrained(out_dir)


def _gather(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """``[B, S, D]`` at ``positions`` ``[B, Y]`` -> ``[B, Y, D]``."""
    return torch.gather(x, 1, positions.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class EncoderTap:
    """Forward hooks on every audio-encoder layer; ``outputs`` holds each layer's output of the last forward."""

    def __init__(self, model):
        self.outputs: list[torch.Tensor] = []
        self.handles = [layer.register_forward_hook(self._hook) for layer in audio_tower(model).layers]

    def _hook(self, module, args, output):
        self.outputs.append(output[0] if isinstance(output, tuple) else output)

    def clear(self):
        self.outputs = []


def output_width(model: nn.Module) -> int:
    """How many logits ``model`` outputs per position (its LM head's rows; may exceed its tokenizer)."""
    return model.get_output_embeddings().out_features


def decoder_acoustic_terms(
    snapshot_hidden: tuple[torch.Tensor, ...],
    student_hidden: tuple[torch.Tensor, ...],
    audio_mask: torch.Tensor,
    kd: KDSettings,
) -> list[torch.Tensor]:
    """Eq. 8's terms: one per student decoder layer i = 1..L_S, KD(h_i^{S0} || h_i^S) at the audio positions T_x.

    Args:
        snapshot_hidden, student_hidden: ``hidden_states`` of S0 and S (L_S + 1 entries each, ``[B, S, D]``):
            entry 0 is the embeddings (no layer of eq. 8), entry i the output of block i, the last after the
            final RMSNorm.
        audio_mask: ``[B, S]``, the audio placeholders.

    Returns:
        L_S scalar terms (each averaged over the audio positions).
    """
    if len(snapshot_hidden) != len(student_hidden):
        raise ValueError(f"S0 has {len(snapshot_hidden) - 1} decoder layers, the student {len(student_hidden) - 1}")
    return [
        hidden_kd_loss(
            snapshot_hidden[i].detach(),
            student_hidden[i],
            audio_mask,
            kind=kd.hidden,
            divergence=kd.divergence,
            temperature=kd.temperature,
            beta=kd.beta,
        )
        for i in range(1, len(student_hidden))
    ]


class KDTrainer(Trainer):
    """HF ``Trainer`` whose loss is eq. 9; the teacher (and S0) are frozen and held outside the optimiser.

    After each loss, ``kd_vocab_size`` is the number of logits L_top compared (the first ids, those
    both output heads have) and ``term_counts`` the number of per-layer terms summed in each of
    ``layer``, ``acoustic`` (eq. 8: L_S) and ``acoustic_encoder``.

    Args:
        teacher: The textual teacher (a causal LM), frozen.
        weights: :class:`LossWeights` of this row.
        kd: :class:`KDSettings`.
        log_terms: callback receiving ``{term: value}`` each step (MLflow).
    """

    def __init__(self, *args, teacher: nn.Module, weights: LossWeights, kd: KDSettings, log_terms=None, **kwargs):
        super().__init__(*args, **kwargs)
        device = self.args.device
        self.teacher = teacher.to(device).eval().requires_grad_(False)
        self.weights = weights
        self.kd = kd
        self.log_terms = log_terms
        student = self.model.student
        #: The logits both models output: response ids must lie below it (checked per batch).
        self.shared_vocab = min(output_width(student), output_width(self.teacher))
        self.kd_vocab_size: int | None = None
        self.term_counts: dict[str, int] = {}
        self.snapshot = None
        self.tap = self.snapshot_tap = None
        if weights.acoustic > 0 or weights.acoustic_encoder > 0:
            # S0: the student as it is before distillation (paper 01 §3.3), frozen. Its decoder alone (no LM
            # head, 545 M parameters of the Omni thinker): eq. 8 needs S0's hidden states, not its logits.
            decoder = getattr(student, "model", student)
            self.snapshot = copy.deepcopy(decoder).to(device).eval().requires_grad_(False)
        if weights.acoustic_encoder > 0:
            self.tap, self.snapshot_tap = EncoderTap(student), EncoderTap(self.snapshot)
        self._terms: dict[str, list[float]] = {}

    def _check_response_ids(self, labels: torch.Tensor) -> None:
        beyond = labels >= self.shared_vocab
        if beyond.any():
            b, k = beyond.nonzero()[0].tolist()
            raise ValueError(
                f"batch row {b}: response token id {int(labels[b, k])} is beyond the {self.shared_vocab} logits "
                "the student and the teacher share; response-token KD cannot compare its distributions"
            )

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)
        t_ids, t_mask = inputs.pop("teacher_input_ids"), inputs.pop("teacher_attention_mask")
        s_pos, t_pos = inputs.pop("student_positions"), inputs.pop("teacher_positions")
        resp, audio_mask = inputs.pop("response_mask"), inputs.pop("audio_mask")
        module = model.module if hasattr(model, "module") and not isinstance(model, DistillationModule) else model
        w, kd = self.weights, self.kd
        pairs = module.projections.pairs
        need_teacher = w.top > 0 or (pairs and w.layer > 0)
        if need_teacher:
            self._check_response_ids(inputs["labels"])
        if self.tap:
            self.tap.clear()
        out = model(**inputs, output_hidden_states=bool(pairs) or w.acoustic > 0)
        terms: dict[str, torch.Tensor] = {"sft": out.loss}
        counts: dict[str, int] = {}
        if need_teacher:
            with torch.no_grad():
                t_out = self.teacher(input_ids=t_ids, attention_mask=t_mask, output_hidden_states=bool(pairs))
            if w.top > 0:
                # Both heads' first ids are the shared BPE (and special tokens checked per response); the
                # wider head's extra rows (Omni's 152,064 against Qwen3's 151,936) have no counterpart.
                s_logits, t_logits = out.logits, t_out.logits  # [B, S_s, V_s], [B, S_t, V_t]
                vocab = min(s_logits.shape[-1], t_logits.shape[-1])
                self.kd_vocab_size = vocab
                terms["top"] = aligned_kd_loss(
                    s_logits[..., :vocab],
                    t_logits[..., :vocab],
                    s_pos,
                    t_pos,
                    resp,
                    kind=kd.divergence,
                    temperature=kd.temperature,
                    beta=kd.beta,
                    chunk_size=kd.chunk_size,
                )
            if pairs and w.layer > 0:
                layer_terms = []
                for ls, lt in pairs:
                    h_t = module.projections(ls, _gather(t_out.hidden_states[lt], t_pos).detach())
                    layer_terms.append(
                        hidden_kd_loss(
                            h_t,
                            _gather(out.hidden_states[ls], s_pos),
                            resp,
                            kind=kd.hidden,
                            divergence=kd.divergence,
                            temperature=kd.temperature,
                            beta=kd.beta,
                        )
                    )
                terms["layer"], counts["layer"] = torch.stack(layer_terms).sum(), len(layer_terms)
        if w.acoustic > 0 or w.acoustic_encoder > 0:
            if self.snapshot_tap:
                self.snapshot_tap.clear()
            s0_inputs = {k: v for k, v in inputs.items() if k != "labels"}
            with torch.no_grad():
                s0 = self.snapshot(**s0_inputs, output_hidden_states=w.acoustic > 0)
            if w.acoustic > 0:
                dec = decoder_acoustic_terms(s0.hidden_states, out.hidden_states, audio_mask, kd)
                terms["acoustic"], counts["acoustic"] = torch.stack(dec).sum(), len(dec)
            if w.acoustic_encoder > 0:
                enc = [
                    hidden_kd_loss(
                        a0.detach().reshape(1, -1, a0.shape[-1]),
                        a.reshape(1, -1, a.shape[-1]),
                        torch.ones(1, a.reshape(-1, a.shape[-1]).shape[0], dtype=torch.bool, device=a.device),
                        kind=kd.hidden,
                        divergence=kd.divergence,
                        temperature=kd.temperature,
                        beta=kd.beta,
                    )
                    for a, a0 in zip(self.tap.outputs, self.snapshot_tap.outputs, strict=True)
                ]
                terms["acoustic_encoder"], counts["acoustic_encoder"] = torch.stack(enc).sum(), len(enc)
        self.term_counts = counts
        loss = w.sft * terms["sft"]
        for name, weight in (("top", w.top), ("layer", w.layer), ("acoustic", w.acoustic)):
            if name in terms:
                loss = loss + weight * terms[name]
        if "acoustic_encoder" in terms:
            loss = loss + w.acoustic_encoder * terms["acoustic_encoder"]
        for k, v in terms.items():
            self._terms.setdefault(f"loss_{k}", []).append(float(v.detach()))
        return (loss, out) if return_outputs else loss

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        """Every logged step carries the mean of each loss term since the last log."""
        if self._terms and "loss" in logs:
            logs.update({k: sum(v) / len(v) for k, v in self._terms.items()})
            self._terms = {}
        super().log(logs, *args, **kwargs)

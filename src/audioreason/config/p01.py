"""Paper 01 (source- and layer-wise distillation): ``pretrain_student``, ``train_text_teacher``, ``distill``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from audioreason.config.common import EvalEngineName, EvalVllmEngine, Generation, check_vllm_context
from audioreason.config.schema import _fraction, _positive

Divergence = Literal["forward_kl", "reverse_kl", "jsd", "skew_kl"]
"""The names of :data:`audioreason.losses.divergences.KINDS` (a unit test keeps them equal)."""
HiddenKd = Literal["softmax", "mse", "cosine"]
"""The names of :data:`audioreason.losses.divergences.HIDDEN_KINDS` (a unit test keeps them equal)."""


@dataclass(frozen=True)
class PretrainStudentConfig:
    """Tiny scale: teach the random-init audio student to hear the world before distillation
    (the paper's student, Qwen2.5-Omni-7B, arrives pretrained: 0 steps there)."""

    model: str
    """The student to pretrain (its checkpoint)."""
    captions: str
    """Validated AudioSetCaps manifest: captions of the AVQA training clips."""
    clips: str
    """Validated manifest whose clips are captioned (AVQA train)."""
    emotions: str
    """Validated IEMOCAP manifest: its ``train`` split is described by emotion and speaker."""
    prompt: str
    """User turn after the clip."""
    trainer: dict[str, Any]
    """Keyword arguments for ``trl.SFTConfig``; ``max_steps: 0`` trains nothing."""


@dataclass(frozen=True)
class TrainTextTeacherConfig:
    """Tiny scale: train the random-init textual teacher on D_text until it answers well
    (paper 01 uses Qwen3-8B as given: 0 steps there)."""

    model: str
    """The textual teacher to train (its checkpoint)."""
    train: str
    """D_text (``textualize_cota``'s ``d_text.jsonl``)."""
    prompt: str
    """The teacher's user turn; ``{description}`` and ``{question}`` (with its options) are filled in."""
    held_out: float
    """Fraction of D_text kept out of training to measure the teacher's answer accuracy."""
    max_new_tokens: int
    """Most tokens of a held-out answer (greedy) when that accuracy is measured."""
    trainer: dict[str, Any]
    """Keyword arguments for ``trl.SFTConfig``; ``max_steps: 0`` trains nothing."""


@dataclass(frozen=True)
class DistillRow:
    """One row of paper 01 Table 1: which terms of eq. 9 are on."""

    top: float
    """Weight of top-layer KD (0: SFT only)."""
    layers: Literal["top", "skip", "all"]
    """``top`` (no layer KD), ``skip`` (1-in-k, eq. 7) or ``all`` (eq. 4)."""
    acoustic: bool
    """Acoustic KD against the frozen snapshot S0 (eq. 8)."""
    train: bool
    """False for ``baseline``: the undistilled student, evaluated only."""


@dataclass(frozen=True)
class DistillEvalConfig:
    """Table 1's evaluation: MMAU-format test-mini (sound / music / speech / average) and IEMOCAP session 5 UA."""

    mmau_manifest: str
    """Validated MMAU-format test-mini manifest (the questions asked)."""
    mmau_json: str
    """The MMAU-format JSON the manifest came from (official scorer input)."""
    ser_manifest: str
    """Validated IEMOCAP manifest; its ``test`` split (session 5) is scored."""
    ser_question: str
    """The question asked of every SER utterance."""
    batch_size: int
    """Questions generated for at once."""
    generation: Generation
    """Decoding of the answers (paper 01 §4.3: T=0.6, top-k 5, top-p 0.5)."""
    engine: EvalEngineName
    """``transformers`` (``generate``, batch by batch) or ``vllm`` (one offline engine per checkpoint, GPU nodes)."""
    vllm: EvalVllmEngine
    """The vLLM engine's settings (read with ``engine: vllm`` only)."""

    def __post_init__(self):
        check_vllm_context(self.engine, self.vllm, self.generation)


@dataclass(frozen=True)
class DistillConfig:
    """Paper 01 §3.2-3.4, §4.2: source- and layer-wise distillation, Table 1 rows."""

    launch: str
    """What starts the stage module in ``dvc.yaml`` (``<launch> -m audioreason.stages.distill``):
    ``python`` on one device, ``torchrun --nproc_per_node=8`` on an 8-GPU node."""
    student: str
    """The audio student before distillation (checkpoint; the Qwen2.5-Omni-7B thinker at paper scale)."""
    teacher: str
    """The textual teacher (Qwen3-8B at paper scale)."""
    train: str
    """D_text."""
    teacher_prompt: str
    """The teacher's user turn: ``{description}`` and ``{question}``."""
    max_length: int
    """Most tokens of a prompt plus its response (r, a) for either model; longer responses are cut."""
    divergence: Divergence
    """The KD divergence of every term: ``jsd`` (paper 01 §4.2), ``forward_kl``, ``reverse_kl`` or ``skew_kl``."""
    beta: float
    """JSD mixture weight of the teacher (0.5: symmetric), or the skew of ``skew_kl``."""
    temperature: float
    """Softmax temperature of the KD distributions (applied to both models)."""
    hidden_kd: HiddenKd
    """``softmax`` (eq. 5 literally), ``mse`` or ``cosine``."""
    chunk_size: int
    """Response positions per chunk of the top-layer KD over the vocabulary (bounds its memory)."""
    skip_k: int
    """k of the 1-in-k skip-layer map (7 in the paper)."""
    alpha_layer: float
    """alpha_layer of eqs. 6-7: weight of the layer-wise KD terms L_layer,i (0.05 in the paper)."""
    alpha_ac: float
    """alpha_ac of eq. 9: weight of the acoustic KD term L_ac against S0 (0.05 in the paper)."""
    acoustic_encoder_layers: bool
    """Also distil every audio-encoder layer's output against S0 (all encoder positions), logged as its own
    term ``loss_acoustic_encoder`` and weighted by ``alpha_ac``. An extension, not in the paper: eq. 8 sums
    over the L_S decoder layers at the audio-token positions only, which is all ``L_ac`` holds. Off in both
    params files."""
    alpha_sft: float
    """alpha_SFT of eq. 9: weight of the cross-entropy term L_SFT on (r, a) (0.5 in the paper)."""
    trainer: dict[str, Any]
    """Keyword arguments for ``transformers.TrainingArguments`` (TRL's ``SFTConfig`` base)."""
    rows: dict[str, DistillRow]
    """Table 1 row name -> which terms it trains with."""
    eval: DistillEvalConfig
    """How every row's student is evaluated."""

    def __post_init__(self):
        _positive(self, "max_length", "temperature", "chunk_size", "skip_k")
        _fraction(self, "beta")

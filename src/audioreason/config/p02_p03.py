"""Papers 02 and 03 (audio reasoning by SFT on verified CoT, and audio GRPO): ``instruct_base``,
``sft_cot``, ``grpo`` and ``evaluate``, with the evaluation suite they share."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, Literal

from audioreason.config.common import EvalEngineName, EvalVllmEngine, Generation, LoraConfigSection, check_vllm_context
from audioreason.config.schema import ConfigError, _positive

Reward = Literal["omni_r1_accuracy", "sightsound_accuracy", "sightsound_format", "r1_aqa_accuracy", "r1_aqa_format"]
"""The keys of :data:`audioreason.training.rewards.REWARDS` (a unit test keeps them equal)."""
SftData = Literal["none", "gt_label", "distilled_label", "cot", "agfv_cot", "tts_agfv_cot"]
"""What an ``sft_cot`` row is fine-tuned on."""
GrpoData = Literal["avqa", "avqa_gpt", "vggs_gpt", "arc_easy", "teacher_label"]
"""What a ``grpo`` row trains on."""
GrpoSelection = Literal["final", "best_val"]
"""Which checkpoint of a ``grpo`` row is the paper's row."""
TEXT_ONLY_GRPO_DATA = ("arc_easy",)
"""Training sets without audio (ARC-Easy science questions, paper 03 §IV.C): their rows train on text alone."""
GRPO_OBJECTIVE_KEYS = ("loss_type", "scale_rewards", "use_bias_correction_kl", "vllm_importance_sampling_correction")
"""``trl.GRPOConfig`` keys that define the optimised objective and whose TRL 1.16 defaults are not the papers'
GRPO (``loss_type`` "dapo"; the KL term weighted by the importance ratio; vLLM importance-sampling correction on)
or are left implicit there (``scale_rewards``): every recipe states them."""
SFT_DATA = typing.get_args(SftData)
GRPO_DATA = typing.get_args(GrpoData)


@dataclass(frozen=True)
class InstructBaseConfig:
    """Tiny scale: make the random-init audio LMs instruction-following listeners, as the papers' bases
    (Qwen2-Audio-7B-Instruct, Qwen2.5-Omni-7B) arrive; 0 steps at paper scale, where ``models`` name them."""

    models: dict[str, str]
    """Matrix key -> the checkpoint to start from (``outputs/models/<name>``) or, at paper scale, the base itself."""
    captions: str
    """Validated AudioSetCaps manifest: captions of the AVQA training clips ("Describe the audio.")."""
    clips: str
    """Validated AVQA train manifest whose clips are captioned."""
    emotions: str
    """Validated IEMOCAP manifest: its ``train`` split becomes emotion multiple-choice questions."""
    sounds: str
    """Validated VGGSound manifest: its ``train`` split becomes sound-source multiple-choice questions."""
    music: str
    """Validated MUSIC-AVQA train manifest: open questions answered with one word."""
    caption_prompt: str
    """User turn of the caption rows (the answer is the clip's caption)."""
    mc_prompts: list[str]
    """Multiple-choice user turns (``{question}``, ``{choices}``), one drawn per question; the answer is the
    choice text. Several, so that the base answers whatever the later recipes ask (paper 03's plain prompt,
    R1-AQA's think / answer prompt), as an instruction-tuned model does."""
    open_prompt: str
    """Open-question user turn: ``{question}``."""
    n_choices: int
    """Choices per question (fewer than the classes, so that the answer must be read from the options)."""
    variants: int
    """Questions per clip or utterance, each with other distractors in another order."""
    seed: int
    """Seeds the draw of prompts, distractors and their order."""
    trainer: dict[str, Any]
    """Keyword arguments for ``trl.SFTConfig``; ``max_steps: 0`` trains nothing."""

    def __post_init__(self):
        _positive(self, "variants")
        if self.n_choices < 2:
            raise ConfigError(f"n_choices must be at least 2, got {self.n_choices}")


@dataclass(frozen=True)
class EvalSuiteConfig:
    """Papers 02-03 evaluation sets (see :mod:`audioreason.evaluation.suite`)."""

    avqa_val: str
    """Validated AVQA val manifest: the validation split that chooses checkpoints (never a test set)."""
    mmau_manifest: str
    """Validated MMAU-format test-mini manifest (the questions asked)."""
    mmau_json: str
    """The MMAU-format JSON the manifest came from (official scorer input)."""
    music_avqa_test: str
    """Validated MUSIC-AVQA test manifest; ``""`` skips it."""
    music_avqa_prompt: str
    """User turn for the open MUSIC-AVQA questions: ``{question}``."""
    batch_size: int
    """Questions generated for at once."""
    generation: Generation
    """Decoding of the answers, on every evaluation set and in checkpoint selection."""
    engine: EvalEngineName
    """``transformers`` (``generate``, batch by batch) or ``vllm`` (one offline engine per checkpoint, GPU nodes)."""
    vllm: EvalVllmEngine
    """The vLLM engine's settings (read with ``engine: vllm`` only)."""

    def __post_init__(self):
        check_vllm_context(self.engine, self.vllm, self.generation)


@dataclass(frozen=True)
class SftCotRow:
    """One SFT row of paper 02 Table 2: what the student is fine-tuned on."""

    data: SftData
    """``none`` (direct inference), ``gt_label``, ``distilled_label`` (the teacher's first-sample answer),
    ``cot`` (first trace, no filter), ``agfv_cot`` (first trace, AGFV-accepted), ``tts_agfv_cot`` (every
    AGFV-accepted trace of the unanimous items)."""

    @property
    def train(self) -> bool:
        return self.data != "none"


@dataclass(frozen=True)
class SftCotConfig:
    """Paper 02 §3.3 eq. 1, §4.1: LoRA SFT of Qwen2-Audio on AVQA labels or verified teacher CoT."""

    launch: str
    """What starts the stage module (``python``, or ``torchrun --nproc_per_node=8`` with a DeepSpeed config in
    ``trainer``: paper 02 §4.1 trains with batch 8 per GPU on 8 GPUs)."""
    base: str
    """The student before SFT (Qwen2-Audio-7B-Instruct at paper scale)."""
    avqa_train: str
    """Validated AVQA train manifest: the ``gt_label`` rows' questions and answers."""
    traces: str
    """``teacher_cot``'s ``traces.jsonl``: every item's n traces and answers."""
    d_fc_single: str
    """AGFV-accepted first traces (no test-time scaling)."""
    d_fc: str
    """AGFV-accepted traces of the unanimous items (TTS + AGFV)."""
    prompt: str
    """User turn: ``{question}``, ``{choices}``."""
    label_target: str
    """Assistant turn of the label rows: ``{answer}``."""
    lora: LoraConfigSection
    """The adapters trained (paper 02 §4.1: r 8, alpha 16)."""
    trainer: dict[str, Any]
    """Keyword arguments for ``trl.SFTConfig``; checkpoints every ``save_steps`` are candidates for selection."""
    rows: dict[str, SftCotRow]
    """Table 2 row name -> its training data."""
    eval: EvalSuiteConfig
    """How every row's model is selected and evaluated."""


@dataclass(frozen=True)
class GrpoRecipe:
    """One paper's GRPO recipe (paper 02 §3.3-4.1 or paper 03 §III-IV)."""

    prompt: str
    """User turn: ``{question}``, ``{choices}``."""
    rewards: list[Reward]
    """Names in :data:`audioreason.training.rewards.REWARDS`."""
    eval_no_audio: bool
    """Also evaluate MMAU with the audio dropped at inference (paper 03 Table II)."""
    eval_music_avqa: bool
    """Also evaluate the MUSIC-AVQA test set (paper 02 Table 2)."""
    eval_mmau_full_tables: list[str]
    """The recipe's tables whose rows also answer MMAU test-full (``grpo.test_full``) and write
    ``mmau_test_full_submission.json`` (answers hidden: a file to upload, no score here). Paper 03: ``[table1]``
    (TABLE I reports Test-full; TABLE II test-mini only); ``[]`` for none."""
    selection: GrpoSelection
    """Which checkpoint becomes the row's ``model``: ``best_val`` the best on AVQA val (paper 02 §4.1: "Best
    checkpoints are selected by validation accuracy for both stages"), ``final`` the last step (paper 03 states no
    selection; the AVQA-val choice is then an extension, ``model_selected`` with ``selected.*`` metrics)."""
    trainer: dict[str, Any]
    """Keyword arguments for ``trl.GRPOConfig``; must state :data:`GRPO_OBJECTIVE_KEYS` (``loss_type: grpo`` for
    paper 02 eq. 2 / paper 03 eq. 3)."""


@dataclass(frozen=True)
class GrpoRow:
    """One GRPO row of paper 02 Table 2 or paper 03 Tables I-II: where it starts and what it trains on."""

    paper: str
    """A key of ``grpo.recipes``."""
    table: str
    """The paper's table the row belongs to (MLflow tag and run name)."""
    init: str
    """The policy before GRPO (and the reference model when beta > 0)."""
    data: GrpoData
    """``avqa`` / ``avqa_gpt`` / ``vggs_gpt`` (ground truth, or generated questions' answers), ``arc_easy``
    (text-only science questions, paper 03 §IV.C) or ``teacher_label`` (AVQA with the vision teacher's unanimous
    label, paper 02)."""
    with_audio: bool
    """False trains on the question text alone (paper 03 §IV.C); must be false for text-only data."""
    train: bool
    """False: the initial model, evaluated only."""
    trainer: dict[str, Any]
    """Overrides of the recipe's trainer for this row (paper 03: 2000 steps on VGGS-GPT)."""


@dataclass(frozen=True)
class MmauTestFullConfig:
    """MMAU test-full (paper 03 TABLE I, 9k audios): the questions are public, the answers hidden."""

    manifest: str
    """Validated manifest of the test-full questions."""
    json: str
    """The MMAU-format JSON the manifest came from; the submission keeps its items and order."""


@dataclass(frozen=True)
class GrpoConfig:
    """Audio GRPO runs of papers 02 and 03 (:class:`audioreason.training.grpo.AudioGRPOTrainer`)."""

    launch: str
    """What starts the stage module (``python``, or ``torchrun``/``accelerate launch`` with a DeepSpeed config)."""
    manifests: dict[str, str]
    """``avqa`` / ``avqa_gpt`` / ``vggs_gpt`` / ``arc_easy`` -> training manifest."""
    teacher_labels: str
    """``teacher_cot``'s ``d_reason.jsonl`` (unanimous items and their labels)."""
    recipes: dict[str, GrpoRecipe]
    """Paper (``p02``, ``p03``) -> its recipe."""
    rows: dict[str, GrpoRow]
    """Row name -> its run."""
    eval: EvalSuiteConfig
    """How every row's model is selected and evaluated."""
    test_full: MmauTestFullConfig
    """MMAU test-full, answered by the rows of each recipe's ``eval_mmau_full_tables``."""

    def __post_init__(self):
        for name, recipe in self.recipes.items():
            unset = [k for k in GRPO_OBJECTIVE_KEYS if k not in recipe.trainer]
            if unset:
                raise ConfigError(
                    f"recipes.{name}.trainer: {', '.join(unset)} not set; TRL's defaults are not the papers' GRPO "
                    "objective (loss_type 'dapo', importance-weighted KL, vLLM importance-sampling correction): state "
                    "them (papers 02 eq. 2, 03 eq. 3: loss_type grpo, scale_rewards group, use_bias_correction_kl "
                    "false, vllm_importance_sampling_correction false)"
                )
        for name, row in self.rows.items():
            if row.paper not in self.recipes:
                raise ConfigError(f"rows.{name}.paper: {row.paper!r} is not a recipe ({', '.join(self.recipes)})")
            if row.data != "teacher_label" and row.data not in self.manifests:
                raise ConfigError(f"rows.{name}.data: no manifest named {row.data!r}")
            if row.data in TEXT_ONLY_GRPO_DATA and row.with_audio:
                raise ConfigError(f"rows.{name}.with_audio: {row.data!r} has no audio, set with_audio: false")


@dataclass(frozen=True)
class EvaluateConfig:
    """Generation on the MMAU-format test set and official MMAU scoring."""

    model: str
    """Checkpoint directory or hub id to evaluate."""
    test_json: str
    """The MMAU-format JSON the test manifest came from (predictions are written in its format, its sha256 logged)."""
    test_manifest: str
    """Validated manifest of the test questions (``test_json`` ingested)."""
    prompt: str
    """Same placeholders as ``sft_cot.prompt``."""
    batch_size: int
    """Questions generated for at once."""
    generation: Generation
    """Decoding of the answers."""

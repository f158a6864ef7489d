"""Typed, validated view of ``params.yaml``.

One dataclass per top-level section; one per nested mapping. Every key is required and
unknown keys are errors, both naming ``section.key``, so a typo in params never silently
falls back to a default. Sections that are handed straight to a library (TRL's
``SFTConfig``) stay plain mappings here and are validated by building that library's own
config (:func:`audioreason.training.sft.build_sft_config`).

Scale is only ever values: ``params.yaml`` holds the tiny scale, ``params.paper.yaml``
the papers' values; ``cp params.paper.yaml params.yaml`` switches (``git checkout params.yaml`` back).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml


class ConfigError(ValueError):
    """A params file that does not match the typed config; the message names section and key."""


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class WorldMusicAvqa:
    """MUSIC-AVQA-format ensembles (paper 02 Table 2)."""

    sample_rate: int
    train_videos: int
    val_videos: int
    test_videos: int
    questions_per_video: int
    """Questions drawn per video from the templates that apply to it."""

    def __post_init__(self):
        _positive(self, "sample_rate", "train_videos", "val_videos", "test_videos", "questions_per_video")


@dataclass(frozen=True)
class WorldIemocap:
    """IEMOCAP-format emotional dialogs (papers 01 Table 1, 04)."""

    sample_rate: int
    dialogs_per_session: int
    """Per session, alternating improvised and scripted dialogs (5 sessions, as the corpus)."""
    utterances_per_dialog: int

    def __post_init__(self):
        _positive(self, "sample_rate", "dialogs_per_session", "utterances_per_dialog")


@dataclass(frozen=True)
class WorldFauAibo:
    """FAU-Aibo-format children's speech, 5 classes (paper 04)."""

    sample_rate: int
    ohm_chunks: int
    """Chunks from school Ohm (the training split)."""
    mont_chunks: int
    """Chunks from school Mont (the test split)."""

    def __post_init__(self):
        _positive(self, "sample_rate", "ohm_chunks", "mont_chunks")


@dataclass(frozen=True)
class WorldVctk:
    """VCTK-0.92-format read speech (paper 05 foreground)."""

    sample_rate: int
    speakers: int
    """Speakers, always including the corpus' traps p280 (no mic2) and p315 (no text)."""
    utterances_per_speaker: int

    def __post_init__(self):
        _positive(self, "sample_rate", "utterances_per_speaker")
        if self.speakers < 2:
            raise ConfigError("world.vctk.speakers must be at least 2 (p280 and p315 are always written)")


@dataclass(frozen=True)
class WorldDesed:
    """DESED-format domestic soundscapes (paper 05 background, scene "home")."""

    sample_rate: int
    clip_seconds: float
    strong_clips: int
    """Clips with strong (timed) labels: ``metadata/validation/validation.tsv``."""
    weak_clips: int
    """Clips with weak (clip-level) labels: ``metadata/train/weak.tsv``."""

    def __post_init__(self):
        _positive(self, "sample_rate", "clip_seconds", "strong_clips", "weak_clips")


@dataclass(frozen=True)
class WorldMaestro:
    """MAESTRO-Real-format scene recordings with soft labels (paper 05 background)."""

    sample_rate: int
    clip_seconds: float
    files_per_scene: int

    def __post_init__(self):
        _positive(self, "sample_rate", "clip_seconds", "files_per_scene")


@dataclass(frozen=True)
class WorldVggsound:
    """VGGSound-format clips and AudioSetCaps-format captions (paper 03 §III.C)."""

    sample_rate: int
    train_clips: int
    test_clips: int
    caption_hallucination_rate: float
    """Fraction of captions that mention a source the clip does not contain (paper 03 §IV)."""
    audioset_captions: int
    """Extra captions under AudioSet ids (``Y<ytid>``) with no clip in the world."""

    def __post_init__(self):
        _positive(self, "sample_rate", "train_clips", "test_clips")
        _fraction(self, "caption_hallucination_rate")


@dataclass(frozen=True)
class WorldCota:
    """CoTA-format (Audio-Reasoner) chain-of-thought items in HF parquet (paper 01 §3.1)."""

    sample_rate: int
    items: int
    defect_rate: float
    """Fraction of items with a question/answer mismatch, like the public copy."""

    def __post_init__(self):
        _positive(self, "sample_rate", "items")
        _fraction(self, "defect_rate")


@dataclass(frozen=True)
class WorldConfig:
    """The synthetic audio world written by ``audioreason world`` into ``data/``."""

    seed: int
    """Master seed; same seed and versions give byte-identical files."""
    clip_seconds: float
    """Duration of every question clip (AVQA, MMAU, MUSIC-AVQA, VGGSound, CoTA), seconds."""
    avqa_sample_rate: int
    """Sample rate of the AVQA-format clips (the real dataset ships 32 kHz)."""
    mmau_sample_rate: int
    """Sample rate of the MMAU-format clips."""
    n_train: int
    """AVQA-format training questions."""
    n_val: int
    """AVQA-format validation questions."""
    n_test_mini: int
    """MMAU-format test-mini questions (split evenly over sound / music / speech)."""
    avqa_view_fraction: float
    """Fraction of AVQA questions that are visual-only (``question_relation: View``)."""
    mmau_n_choices: list[int]
    """Option counts an MMAU item draws from (uniformly; capped by the options its kind has)."""
    music_avqa: WorldMusicAvqa
    iemocap: WorldIemocap
    fau_aibo: WorldFauAibo
    vctk: WorldVctk
    desed: WorldDesed
    maestro: WorldMaestro
    vggsound: WorldVggsound
    cota: WorldCota

    def __post_init__(self):
        _positive(self, "clip_seconds", "n_train", "n_val", "n_test_mini", "avqa_sample_rate", "mmau_sample_rate")
        _fraction(self, "avqa_view_fraction")
        if not self.mmau_n_choices or any(not 2 <= n <= 8 for n in self.mmau_n_choices):
            raise ConfigError(f"world.mmau_n_choices must list counts in 2..8, got {self.mmau_n_choices}")


@dataclass(frozen=True)
class DatasetSource:
    """One dataset to ingest: its format and where it lives, relative to ``ingest.data_dir``."""

    format: str
    """A format of :data:`audioreason.datasets.registry.FORMATS` (``avqa``, ``iemocap``, ...)."""
    path: str
    """What the format's importer reads (a file or a folder; see the registry's table)."""


@dataclass(frozen=True)
class IngestConfig:
    """Importers: real on-disk formats -> normalised manifests ``outputs/ingest/<name>.jsonl``."""

    data_dir: str
    """Root of the raw inputs (tracked by ``data.dvc``)."""
    on_error: str
    """A malformed raw record: ``raise`` stops the stage naming it; ``quarantine`` sets it aside, counted and listed."""
    audio_variant: bool
    """Replace "video" by "audio" in AVQA questions (the audio-only variant, FORMATS.md)."""
    datasets: dict[str, DatasetSource]
    """Manifest name -> dataset; the name is the manifest's file name and the key later stages use."""

    def __post_init__(self):
        from audioreason.datasets.registry import FORMATS

        if self.on_error not in ("raise", "quarantine"):
            raise ConfigError(f"ingest.on_error must be 'raise' or 'quarantine', got {self.on_error!r}")
        for name, src in self.datasets.items():
            if src.format not in FORMATS:
                raise ConfigError(f"ingest.datasets.{name}.format: unknown format {src.format!r} "
                                  f"(known: {', '.join(FORMATS)})")


@dataclass(frozen=True)
class ManifestQualityConfig:
    """Quality settings for one manifest: ``validate.defaults`` gives every key,
    ``validate.manifests.<name>`` overrides any of them for one manifest."""

    audio: bool
    """Check the audio files the records point at (false where there are none: captions, CoTA's parquet rows)."""
    sample_rates: list[int]
    """Sample rates a file may have, Hz (resampling happens on load); empty accepts any."""
    max_channels: int
    """Most channels a file may have (1: mono required)."""
    min_duration_s: float
    max_duration_s: float
    silence_dbfs: float
    """A file whose RMS over all samples is below this level (dBFS) is silent."""
    clipping_fraction: float
    """Largest fraction of samples at full scale (``|x| >= 0.999``) before a file counts as clipped."""
    splits: list[str]
    """Values ``split`` may take."""
    tasks: list[str]
    """Values ``QARecord.task`` may take (``""``: the dataset has none, AVQA)."""
    difficulties: list[str]
    """Values ``QARecord.difficulty`` may take (``""``: not graded)."""
    labels: list[str] | None
    """Allowed labels: ``Utterance.label``, ``Soundscape`` event and clip labels, ``LabelledClip.label``,
    ``OpenQARecord.answer``; null skips the set check (for MUSIC-AVQA, null means the official
    42-word answer vocabulary)."""

    def __post_init__(self):
        if self.min_duration_s >= self.max_duration_s:
            raise ConfigError("min_duration_s must be below max_duration_s")
        if self.max_channels < 1:
            raise ConfigError(f"max_channels must be at least 1, got {self.max_channels}")
        if not 0.0 <= self.clipping_fraction <= 1.0:
            raise ConfigError(f"clipping_fraction must lie in [0, 1], got {self.clipping_fraction}")
        if any(r <= 0 for r in self.sample_rates):
            raise ConfigError(f"sample_rates must be positive, got {self.sample_rates}")


@dataclass(frozen=True)
class FingerprintConfig:
    """Audio fingerprint matching for the train/eval overlap check (:mod:`audioreason.quality.fingerprint`)."""

    max_bit_error_rate: float
    """Two clips are the same audio when at most this fraction of their reliable bits differ."""
    min_compared_bits: int
    """Fewest bits reliable in both fingerprints (of 1024) for a match."""

    def __post_init__(self):
        if not 0.0 < self.max_bit_error_rate < 0.5:
            raise ConfigError(f"max_bit_error_rate must lie in (0, 0.5), got {self.max_bit_error_rate}")
        if not 0 < self.min_compared_bits <= 1024:
            raise ConfigError(f"min_compared_bits must lie in 1..1024, got {self.min_compared_bits}")


@dataclass(frozen=True)
class ValidateConfig:
    """Quality gates on the ingested manifests, the audio they point at, and train/eval overlap."""

    policy: dict[str, str]
    """Check key (``manifest.*``, ``audio.*``, ``overlap.*``; see :mod:`audioreason.quality.checks`)
    -> ``fail`` (stop the pipeline) or ``quarantine`` (set the rows aside, count and list them);
    ``default`` covers every key not named. Manifest-level checks always fail."""
    workers: int
    """Threads for the audio pass (0: one per CPU core)."""
    defaults: ManifestQualityConfig
    """Settings of every manifest not overridden below."""
    manifests: dict[str, dict[str, Any]]
    """Manifest name (a key of ``outputs/ingest/index.json``) -> the keys of ``defaults`` that differ."""
    overlap: list[list[str]]
    """``[train, eval]`` pairs that must share no clip (by clip id or by audio fingerprint); a side is a
    manifest name, or ``name:split`` for one split of a manifest (``iemocap:train``)."""
    fingerprint: FingerprintConfig

    def __post_init__(self):
        from audioreason.quality.checks import validate_policy

        problems = validate_policy(self.policy)
        if problems:
            raise ConfigError("policy: " + "; ".join(problems))
        if self.workers < 0:
            raise ConfigError(f"workers must be >= 0, got {self.workers}")
        for name in self.manifests:
            self.settings(name)
        for i, pair in enumerate(self.overlap):
            if len(pair) != 2 or pair[0] == pair[1]:
                raise ConfigError(f"overlap[{i}]: expected two different manifests [train, eval], got {pair}")

    def settings(self, name: str) -> ManifestQualityConfig:
        """The settings of manifest ``name``: ``defaults`` with its overrides applied."""
        overrides = self.manifests.get(name) or {}
        if not isinstance(overrides, Mapping):
            raise ConfigError(f"manifests.{name}: expected a mapping of overrides, got {overrides!r}")
        return build_section(ManifestQualityConfig, {**dataclasses.asdict(self.defaults), **overrides},
                             f"manifests.{name}")


@dataclass(frozen=True)
class TokenizerConfig:
    """Byte-level BPE tokenizer trained offline on the world's text (tiny scale)."""

    vocab_size: int
    min_frequency: int


@dataclass(frozen=True)
class FeatureExtractorConfig:
    """``WhisperFeatureExtractor`` settings (log-mel front end of Qwen2-Audio / Omni)."""

    feature_size: int
    """Mel bins: 80 in the default extractor, 128 in the real Qwen2-Audio."""
    sampling_rate: int
    chunk_length: int
    """Seconds every clip is padded/cut to (30 in the real models)."""
    hop_length: int


@dataclass(frozen=True)
class AudioEncoderConfig:
    """Whisper-style audio tower shared by the Qwen2-Audio and Omni thinker tiny configs."""

    d_model: int
    encoder_layers: int
    encoder_attention_heads: int
    encoder_ffn_dim: int


@dataclass(frozen=True)
class TextDecoderConfig:
    """Qwen2 / Qwen3 text decoder sizes."""

    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    max_position_embeddings: int


@dataclass(frozen=True)
class ModelsConfig:
    """Tiny random-init models of the real architectures, saved like real checkpoints.

    ``build`` names which of ``qwen2_audio``, ``qwen2_5_omni_thinker``, ``qwen3`` the
    ``models`` stage writes to ``outputs/models/<name>/``; at paper scale it is empty and
    the training stages read real checkpoints (local path or hub id) from their own
    ``model`` key.
    """

    seed: int
    build: list[str]
    tokenizer: TokenizerConfig
    feature_extractor: FeatureExtractorConfig
    audio_encoder: AudioEncoderConfig
    text_decoder: TextDecoderConfig
    """The audio models' decoder (Qwen2-Audio, the Omni thinker: the students)."""
    teacher_text_decoder: TextDecoderConfig
    """Qwen3's decoder (paper 01's textual teacher): deeper and wider than the student, as
    Qwen3-8B (36 layers, 4096) is than the Omni-7B thinker (28 layers, 3584), so the layer
    map of eq. 4 and the projections W_i have work to do."""

    def __post_init__(self):
        unknown = set(self.build) - {"qwen2_audio", "qwen2_5_omni_thinker", "qwen3"}
        if unknown:
            raise ConfigError(f"models.build: unknown model(s) {sorted(unknown)}")


@dataclass(frozen=True)
class LoraConfigSection:
    """LoRA adapters (PEFT); ``r: 0`` trains all parameters instead."""

    r: int
    alpha: int
    dropout: float
    target_modules: list[str]
    modules_to_save: list[str]
    """Modules trained in full beside the adapters (PEFT ``modules_to_save``); ``[]`` in the papers."""


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
    mmau_json: str
    """The MMAU-format JSON the manifest came from (official scorer input)."""
    music_avqa_test: str
    """Validated MUSIC-AVQA test manifest; ``""`` skips it."""
    music_avqa_prompt: str
    """User turn for the open MUSIC-AVQA questions: ``{question}``."""
    batch_size: int
    max_new_tokens: int
    do_sample: bool
    temperature: float
    top_k: int
    top_p: float
    seed: int


SFT_DATA = ("none", "gt_label", "distilled_label", "cot", "agfv_cot", "tts_agfv_cot")


@dataclass(frozen=True)
class SftCotRow:
    """One SFT row of paper 02 Table 2: what the student is fine-tuned on."""

    data: str
    """``none`` (direct inference), ``gt_label``, ``distilled_label`` (the teacher's first-sample answer),
    ``cot`` (first trace, no filter), ``agfv_cot`` (first trace, AGFV-accepted), ``tts_agfv_cot`` (every
    AGFV-accepted trace of the unanimous items)."""

    def __post_init__(self):
        if self.data not in SFT_DATA:
            raise ConfigError(f"data must be one of {', '.join(SFT_DATA)}, got {self.data!r}")

    @property
    def train(self) -> bool:
        return self.data != "none"


@dataclass(frozen=True)
class SftCotConfig:
    """Paper 02 §3.3 eq. 1, §4.1: LoRA SFT of Qwen2-Audio on AVQA labels or verified teacher CoT."""

    base: str
    """The student before SFT (Qwen2-Audio-7B-Instruct at paper scale)."""
    avqa_train: str
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
    trainer: dict[str, Any]
    """Keyword arguments for ``trl.SFTConfig``; checkpoints every ``save_steps`` are candidates for selection."""
    rows: dict[str, SftCotRow]
    eval: EvalSuiteConfig


GRPO_DATA = ("avqa", "avqa_gpt", "vggs_gpt", "teacher_label")


@dataclass(frozen=True)
class GrpoRecipe:
    """One paper's GRPO recipe (paper 02 §3.3-4.1 or paper 03 §III-IV)."""

    prompt: str
    """User turn: ``{question}``, ``{choices}``."""
    rewards: list[str]
    """Names in :data:`audioreason.training.rewards.REWARDS`."""
    eval_no_audio: bool
    """Also evaluate MMAU with the audio dropped at inference (paper 03 Table II)."""
    eval_music_avqa: bool
    trainer: dict[str, Any]
    """Keyword arguments for ``trl.GRPOConfig``."""


@dataclass(frozen=True)
class GrpoRow:
    paper: str
    """A key of ``grpo.recipes``."""
    table: str
    """The paper's table the row belongs to (MLflow tag and run name)."""
    init: str
    """The policy before GRPO (and the reference model when beta > 0)."""
    data: str
    """``avqa`` / ``avqa_gpt`` / ``vggs_gpt`` (ground truth, or generated questions' answers) or ``teacher_label``
    (AVQA with the vision teacher's unanimous label, paper 02)."""
    with_audio: bool
    """False trains on the question text alone (paper 03 §IV.C)."""
    train: bool
    """False: the initial model, evaluated only."""
    trainer: dict[str, Any]
    """Overrides of the recipe's trainer for this row (paper 03: 2000 steps on VGGS-GPT)."""

    def __post_init__(self):
        if self.data not in GRPO_DATA:
            raise ConfigError(f"data must be one of {', '.join(GRPO_DATA)}, got {self.data!r}")


@dataclass(frozen=True)
class GrpoConfig:
    """Audio GRPO runs of papers 02 and 03 (:class:`audioreason.training.grpo.AudioGRPOTrainer`)."""

    launch: str
    """What starts the stage module (``python``, or ``torchrun``/``accelerate launch`` with a DeepSpeed config)."""
    manifests: dict[str, str]
    """``avqa`` / ``avqa_gpt`` / ``vggs_gpt`` -> training manifest."""
    teacher_labels: str
    """``teacher_cot``'s ``d_reason.jsonl`` (unanimous items and their labels)."""
    recipes: dict[str, GrpoRecipe]
    rows: dict[str, GrpoRow]
    eval: EvalSuiteConfig

    def __post_init__(self):
        for name, row in self.rows.items():
            if row.paper not in self.recipes:
                raise ConfigError(f"rows.{name}.paper: {row.paper!r} is not a recipe ({', '.join(self.recipes)})")
            if row.data != "teacher_label" and row.data not in self.manifests:
                raise ConfigError(f"rows.{name}.data: no manifest named {row.data!r}")
        from audioreason.training.rewards import REWARDS

        for name, recipe in self.recipes.items():
            unknown = [r for r in recipe.rewards if r not in REWARDS]
            if unknown:
                raise ConfigError(f"recipes.{name}.rewards: unknown {unknown} (known: {', '.join(REWARDS)})")


@dataclass(frozen=True)
class EvaluateConfig:
    """Generation on the MMAU-format test set and official MMAU scoring."""

    model: str
    """Checkpoint directory or hub id to evaluate."""
    test_json: str
    """The MMAU-format JSON the test manifest came from (predictions are written in its format; its sha256 is logged)."""
    test_manifest: str
    prompt: str
    """Same placeholders as ``sft_cot.prompt``."""
    batch_size: int
    max_new_tokens: int
    do_sample: bool
    temperature: float
    top_k: int
    top_p: float
    seed: int


@dataclass(frozen=True)
class TeacherSpec:
    """One generation model and what serves it (``teachers.<name>``).

    The backend's own options are validated by building its options dataclass
    (:mod:`audioreason.teachers.registry`); errors name ``teachers.<name>.options.<key>``.
    """

    backend: str
    """``vllm`` (GPU nodes), ``transformers`` (any local checkpoint), ``openai`` (an
    OpenAI-compatible HTTP server) or ``oracle`` (the synthetic world's simulator)."""
    model: str
    """Checkpoint path or hub id (``vllm``, ``transformers``), served model name (``openai``),
    or a label for the run (``oracle``)."""
    batch_size: int
    """Requests handed to the backend at once; the cache is written after each batch."""
    options: dict[str, Any]
    """The backend's options (see its ``*Options`` dataclass)."""

    def __post_init__(self):
        from audioreason.teachers.registry import BACKENDS

        if self.backend not in BACKENDS:
            raise ConfigError(f"backend: unknown teacher backend {self.backend!r} (known: {', '.join(BACKENDS)})")
        _positive(self, "batch_size")
        from audioreason.teachers.registry import build_options

        build_options(self, "")  # the backend's own options dataclass validates them


@dataclass(frozen=True)
class SamplingSection:
    """Decoding settings of one generation stage (:class:`audioreason.teachers.base.SamplingParams`)."""

    n: int
    """Samples per prompt."""
    temperature: float
    """0 is greedy."""
    top_p: float
    top_k: int
    """0 turns top-k off."""
    max_tokens: int
    seed: int


@dataclass(frozen=True)
class TextualizeCotaConfig:
    """Paper 01 §3.1: an audio LLM writes a description d of each CoTA clip -> D_text = (d, q, r, a)."""

    teacher: str
    """Key of ``teachers`` that textualizes (paper 01 §4.1: Qwen2.5-Omni-7B, greedy)."""
    manifest: str
    """The validated CoTA manifest."""
    prompt: str
    """The paper's instruction; ``{question}`` and ``{trace}`` are filled in."""
    sampling: SamplingSection
    max_items: int
    """Items to textualize (0: all)."""


@dataclass(frozen=True)
class QaSource:
    """The clips one generated dataset asks about."""

    manifest: str
    """A validated manifest of clips (AVQA questions or VGGSound clips)."""
    split: str
    """Only records of this split (``train``): generated questions must not touch evaluation clips."""


@dataclass(frozen=True)
class GenerateQaConfig:
    """Paper 03 §III.C: an LLM writes a 4-choice question per caption -> AVQA-GPT and VGGS-GPT."""

    teacher: str
    captions: str
    """The validated caption manifest (AudioSetCaps, VGGSound ids)."""
    sources: dict[str, QaSource]
    """Output dataset name (``avqa_gpt``, ``vggs_gpt``) -> the clips that get questions."""
    prompt: str
    """Instruction; ``{captions}`` is filled in. The model answers with a JSON object."""
    sampling: SamplingSection
    max_qa_chars: int
    """Length filter (§III.C "filtered the dataset by length of the question and answer pairs"):
    question plus the four choices, in characters; longer items are counted and left out."""
    max_balance_deviation: float
    """Largest allowed |share of a correct position - 1/4| after randomisation; above it the stage fails."""
    seed: int
    """Seed of the correct-answer position."""
    max_items: int
    """Clips per source (0: all)."""


@dataclass(frozen=True)
class TeacherCotConfig:
    """Paper 02 §3.1: a vision teacher samples n audio-focused traces per question; unanimous ones are kept."""

    teacher: str
    manifest: str
    """The validated AVQA training manifest."""
    video_dir: str
    """Folder of the silent videos ``<video_name>.mp4``; empty where there are none (the synthetic
    world has a text visual channel that only the oracle reads)."""
    prompt: str
    """P_audio; ``{question}`` and ``{choices}`` are filled in."""
    sampling: SamplingSection
    max_items: int


@dataclass(frozen=True)
class AgfvConfig:
    """Paper 02 §3.2: an audio checker accepts or rejects every kept trace -> D_FC."""

    teacher: str
    prompt: str
    """``{question}`` and ``{trace}`` are filled in; the checker answers yes or no."""
    sampling: SamplingSection
    truth: str
    """The world's ground truth (``data/world/clips.jsonl``) for AGFV's precision and recall;
    empty where there is none (real data)."""


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
    train: str
    """D_text (``textualize_cota``'s ``d_text.jsonl``)."""
    prompt: str
    """The teacher's user turn; ``{description}`` and ``{question}`` (with its options) are filled in."""
    held_out: float
    """Fraction of D_text kept out of training to measure the teacher's answer accuracy."""
    max_new_tokens: int
    trainer: dict[str, Any]


@dataclass(frozen=True)
class DistillRow:
    """One row of paper 01 Table 1: which terms of eq. 9 are on."""

    top: float
    """Weight of top-layer KD (0: SFT only)."""
    layers: str
    """``top`` (no layer KD), ``skip`` (1-in-k, eq. 7) or ``all`` (eq. 4)."""
    acoustic: bool
    """Acoustic KD against the frozen snapshot S0 (eq. 8)."""
    train: bool
    """False for ``baseline``: the undistilled student, evaluated only."""

    def __post_init__(self):
        if self.layers not in ("top", "skip", "all"):
            raise ConfigError(f"layers must be top, skip or all, got {self.layers!r}")


@dataclass(frozen=True)
class DistillEvalConfig:
    """Table 1's evaluation: MMAU-format test-mini (sound / music / speech / average) and IEMOCAP session 5 UA."""

    mmau_manifest: str
    mmau_json: str
    ser_manifest: str
    """Validated IEMOCAP manifest; its ``test`` split (session 5) is scored."""
    ser_question: str
    batch_size: int
    max_new_tokens: int
    do_sample: bool
    temperature: float
    top_k: int
    top_p: float
    seed: int


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
    divergence: str
    beta: float
    temperature: float
    hidden_kd: str
    """``softmax`` (eq. 5 literally), ``mse`` or ``cosine``."""
    chunk_size: int
    skip_k: int
    """k of the 1-in-k skip-layer map (7 in the paper)."""
    alpha_layer: float
    alpha_ac: float
    alpha_sft: float
    trainer: dict[str, Any]
    """Keyword arguments for ``transformers.TrainingArguments`` (TRL's ``SFTConfig`` base)."""
    rows: dict[str, DistillRow]
    eval: DistillEvalConfig

    def __post_init__(self):
        from audioreason.losses.divergences import HIDDEN_KINDS, KINDS

        if self.divergence not in KINDS:
            raise ConfigError(f"divergence must be one of {', '.join(KINDS)}, got {self.divergence!r}")
        if self.hidden_kd not in HIDDEN_KINDS:
            raise ConfigError(f"hidden_kd must be one of {', '.join(HIDDEN_KINDS)}, got {self.hidden_kd!r}")
        _positive(self, "max_length", "temperature", "chunk_size", "skip_k")
        _fraction(self, "beta")


@dataclass(frozen=True)
class TrackingConfig:
    """MLflow conventions."""

    uri: str
    """Tracking URI; ``sqlite:///mlflow.db`` is the store at the repository root."""
    experiment: str
    """Base name: each paper's runs go to ``<experiment>-p0N``, the report's to ``<experiment>``."""
    scale: str
    """``tiny`` or ``paper``: a tag on every run and the heading of the report's tables (a label, never a branch)."""

    def __post_init__(self):
        if self.scale not in ("tiny", "paper"):
            raise ConfigError(f"scale must be tiny or paper, got {self.scale!r}")


@dataclass(frozen=True)
class ConceptDatasetSpec:
    """One SER dataset of paper 04: where its validated utterances are and how its tokens are fit."""

    manifest: str
    """Validated ``Utterance`` manifest (``train`` / ``test`` splits; IEMOCAP sessions 1-4 / 5, FAU-Aibo Ohm / Mont)."""
    grouped: list[str]
    """Concepts with per-gender bin edges: IEMOCAP ``[PITCH, FORMANTS]``; FAU-Aibo (children) none."""
    dev_fraction: float
    """Share of the training speakers held out as a speaker-disjoint ``dev`` split (AIBO5's dev); 0: none."""

    def __post_init__(self):
        from audioreason.features.concept_tokens import CONCEPTS

        unknown = sorted(set(self.grouped) - set(CONCEPTS))
        if unknown:
            raise ConfigError(f"grouped: {unknown} are not concepts ({', '.join(CONCEPTS)})")
        if not 0.0 <= self.dev_fraction < 1.0:
            raise ConfigError(f"dev_fraction must be in [0, 1), got {self.dev_fraction}")


@dataclass(frozen=True)
class VoiceQualityConfig:
    """Thresholds of the VOICE_QUALITY heuristic (:class:`audioreason.features.concept_tokens.VoiceQualityRule`)."""

    threshold: float
    """Robust-z magnitude a cue must pass (1.0: about one IQR from the training median)."""
    min_voiced_fraction: float
    """Below this share of voiced frames an utterance is UNVOICED."""

    def __post_init__(self):
        _positive(self, "threshold")
        _fraction(self, "min_voiced_fraction")


@dataclass(frozen=True)
class ConceptTokensConfig:
    """Paper 04 §III: eGeMAPS (openSMILE) -> six concept tokens per utterance (:mod:`audioreason.stages.concept_tokens`)."""

    datasets: dict[str, ConceptDatasetSpec]
    """Output name (``iemocap``, ``aibo5``) -> dataset."""
    workers: int
    """Extraction processes."""
    silence_loudness: float
    """Loudness (sone) every frame of a silent utterance stays below."""
    voice_quality: VoiceQualityConfig
    seed: int
    """Seeds the dev-speaker draw."""

    def __post_init__(self):
        _positive(self, "workers", "silence_loudness")
        if not self.datasets:
            raise ConfigError("datasets: at least one dataset")


@dataclass(frozen=True)
class SerFinetuneConfig:
    """A token-aware SER fine-tune on the SER training splits (:mod:`audioreason.stages.ser_finetune`)."""

    base: str
    """The model fine-tuned (tiny: ``outputs/instruct_base/qwen2_audio/model``)."""
    datasets: list[str]
    """``concept_tokens`` datasets whose ``train`` split is used (never dev / test)."""
    prompt_variants: list[str]
    """Each utterance once per entry: ``audio_only`` and / or ``correct`` (aligned tokens appended)."""
    lora: LoraConfigSection
    trainer: dict[str, Any]
    """Keyword arguments for ``trl.SFTConfig``."""

    def __post_init__(self):
        bad = sorted(set(self.prompt_variants) - {"audio_only", "correct"})
        if bad or not self.prompt_variants:
            raise ConfigError(f"prompt_variants must be audio_only and / or correct, got {self.prompt_variants}")
        if not self.datasets:
            raise ConfigError("datasets: at least one")


@dataclass(frozen=True)
class InterventionsConfig:
    """Paper 04 §III-IV: SER with audio-only vs audio + concept-token prompts, and the token-only
    interventions (:mod:`audioreason.stages.interventions`)."""

    models: dict[str, str]
    """Matrix key -> the model under test (tiny: the instruction-tuned bases; paper: the real checkpoints)."""
    paper_rows: dict[str, str]
    """Matrix key -> its row prefix in paper 04's tables (``qw2_audio``, ``qw_omni``, ``af3``)."""
    tokens: str
    """The ``concept_tokens`` stage's output folder."""
    splits: dict[str, list[str]]
    """Dataset -> evaluated splits (``iemocap: [test]``, ``aibo5: [dev, test]``)."""
    intervention_dataset: str
    """Where shuffle / conflict / corrupt run (the paper: IEMOCAP)."""
    classes: dict[str, dict[str, str]]
    """Dataset -> class label -> the word offered as a choice (``ang: angry``)."""
    question: str
    prompt: str
    """User turn without tokens: ``{question}``, ``{choices}``."""
    token_suffix: str
    """Appended to the prompt in the token conditions: ``{tokens}`` is the serialised token string."""
    shuffle_seeds: list[int]
    corrupt_p: list[float]
    """The corruption grid; it must contain 1.0 (full corruption, a member of the test family)."""
    corrupt_seed: int
    n_boot: int
    """Speaker-clustered bootstrap resamples for the 95% CIs."""
    batch_size: int
    max_new_tokens: int
    seed: int

    def __post_init__(self):
        _positive(self, "n_boot", "batch_size", "max_new_tokens")
        if set(self.paper_rows) != set(self.models):
            raise ConfigError(f"paper_rows must name a row for every model ({sorted(self.models)})")
        if self.intervention_dataset not in self.splits:
            raise ConfigError(f"intervention_dataset {self.intervention_dataset!r} is not among splits "
                              f"({sorted(self.splits)})")
        if not self.shuffle_seeds:
            raise ConfigError("shuffle_seeds: at least one seed")
        if any(not 0.0 <= p <= 1.0 for p in self.corrupt_p) or 1.0 not in self.corrupt_p or len(self.corrupt_p) < 3:
            raise ConfigError(f"corrupt_p must hold at least 3 probabilities in [0, 1], 1.0 among them; got {self.corrupt_p}")
        missing = sorted(set(self.splits) - set(self.classes))
        if missing:
            raise ConfigError(f"classes: no class words for {missing}")
        if "{tokens}" not in self.token_suffix:
            raise ConfigError("token_suffix must contain {tokens}")


@dataclass(frozen=True)
class MixSseuConfig:
    """Paper 05 §2.1: SSEU-Bench mixtures (:mod:`audioreason.stages.mix_sseu`)."""

    speech: str
    """Validated VCTK manifest (the foreground speech, with transcripts)."""
    backgrounds: list[str]
    """Validated DESED / MAESTRO-Real manifests (strongly labelled clips are used)."""
    scenes: dict[str, str]
    """Dataset scene (``home``, ``cafe_restaurant`` ...) -> the benchmark's scene name; unmapped scenes are skipped."""
    event_classes: dict[str, str]
    """Dataset event label -> the benchmark's class; labels not listed (speech-like ones) are dropped, counted."""
    snrs: list[float]
    """dB; ``.inf`` is speech only and ``-.inf`` background only."""
    items_per_scene: int
    """Speech + background pairs per scene; each is rendered at every SNR."""
    clip_seconds: float
    """Mixture length (longer when the utterance needs it: speech + 0.5 s)."""
    min_event_s: float
    """An event must overlap the window this long to be a label of the mixture."""
    min_event_confidence: float
    """MAESTRO-Real soft labels below this are not events (DESED's are 1.0)."""
    min_speech_rms: float
    """A speech clip quieter than this (RMS, full scale 1) is silent and not used."""
    seed: int

    def __post_init__(self):
        _positive(self, "items_per_scene", "clip_seconds")
        if not self.snrs or len(set(self.snrs)) != len(self.snrs):
            raise ConfigError(f"snrs must be distinct and non-empty, got {self.snrs}")
        _fraction(self, "min_event_confidence")


@dataclass(frozen=True)
class SseuPrompts:
    """User turns of the five SSEU-Bench prompts (the paper's are on its website, not in the paper)."""

    asr: str
    asc: str
    at: str
    joint: str
    joint_cot: str


@dataclass(frozen=True)
class SseuTokenLimits:
    """``max_new_tokens`` per prompt."""

    asr: int
    asc: int
    at: int
    joint: int
    joint_cot: int


@dataclass(frozen=True)
class EmbeddingConfig:
    """The text-embedding model theta of eqs. 1-3 (:mod:`audioreason.evaluation.sseu`)."""

    backend: str
    """``hashing`` (offline, deterministic, surface similarity: tiny scale), ``sentence_transformers`` or ``openai``."""
    dim: int
    """``hashing`` only."""
    path: str
    """``sentence_transformers``: the local checkpoint."""
    base_url: str
    """``openai``: the endpoint (``.../v1``); the key is read from ``OPENAI_API_KEY``."""
    model: str
    """``openai``: e.g. ``text-embedding-3-large`` (the paper's)."""

    def __post_init__(self):
        if self.backend not in ("hashing", "sentence_transformers", "openai"):
            raise ConfigError(f"backend must be hashing, sentence_transformers or openai, got {self.backend!r}")
        if self.backend == "hashing":
            _positive(self, "dim")
        if self.backend == "sentence_transformers" and not self.path:
            raise ConfigError("backend sentence_transformers needs path")
        if self.backend == "openai" and not (self.base_url and self.model):
            raise ConfigError("backend openai needs base_url and model")


@dataclass(frozen=True)
class ClapSection:
    """The CLAP baseline: ``tiny-random`` (seeded random init of the real architecture) or a local checkpoint."""

    model: str
    tokenizer: str
    """``tiny-random`` only: the tokenizer its text tower reads (this package's tiny one)."""
    prompt: str
    """Text per label: ``{label}``."""


@dataclass(frozen=True)
class SseuBenchConfig:
    """Paper 05 §2.2-4: SSEU-Bench evaluation (:mod:`audioreason.stages.sseu_bench`)."""

    manifest: str
    """``mix_sseu``'s manifest."""
    model: str
    """The audio LLM under test (tiny: the instruction-tuned tiny Qwen2-Audio)."""
    paper_row: str
    """Its row in paper 05's tables (``qwen2_audio_instruct``)."""
    rows: list[str]
    prompts: SseuPrompts
    max_new_tokens: SseuTokenLimits
    embedding: EmbeddingConfig
    clap: ClapSection
    batch_size: int
    seed: int

    def __post_init__(self):
        _positive(self, "batch_size")
        bad = sorted(set(self.rows) - {"upper_bound", "clap", "independent", "joint", "joint_cot"})
        if bad or not self.rows:
            raise ConfigError(f"rows must be among upper_bound, clap, independent, joint, joint_cot; got {self.rows}")


@dataclass(frozen=True)
class ReportConfig:
    """The paper-vs-run report (:mod:`audioreason.evaluation.report`)."""

    metrics_dir: str
    """Where the runs' ``<stage>/<row>.json`` metrics are."""
    scale_note: str
    """One sentence under the title: what this scale is."""


@dataclass(frozen=True)
class RegisterSpec:
    name: str
    """Registered model name."""
    metric: str
    """The validation metric that picks the best candidate (higher is better)."""
    candidates: list[str]
    """``<stage>/<row>`` whose ``metrics/<stage>/<row>.json`` and ``outputs/<stage>/<row>/model`` compete."""


@dataclass(frozen=True)
class RegisterConfig:
    """Each paper's champion in the Model Registry (:mod:`audioreason.stages.register`)."""

    models: dict[str, RegisterSpec]


@dataclass(frozen=True)
class Params:
    """The whole ``params.yaml``."""

    world: WorldConfig
    ingest: IngestConfig
    validate: ValidateConfig
    models: ModelsConfig
    teachers: dict[str, TeacherSpec]
    textualize_cota: TextualizeCotaConfig
    generate_qa: GenerateQaConfig
    teacher_cot: TeacherCotConfig
    agfv: AgfvConfig
    pretrain_student: PretrainStudentConfig
    train_text_teacher: TrainTextTeacherConfig
    distill: DistillConfig
    instruct_base: InstructBaseConfig
    sft_cot: SftCotConfig
    grpo: GrpoConfig
    evaluate: EvaluateConfig
    concept_tokens: ConceptTokensConfig
    ser_finetune: SerFinetuneConfig
    interventions: InterventionsConfig
    mix_sseu: MixSseuConfig
    sseu_bench: SseuBenchConfig
    report: ReportConfig
    register: RegisterConfig
    tracking: TrackingConfig


# --------------------------------------------------------------------------- building


def _positive(obj, *names):
    for n in names:
        if getattr(obj, n) <= 0:
            raise ConfigError(f"{type(obj).__name__}.{n} must be positive, got {getattr(obj, n)!r}")


def _fraction(obj, *names):
    for n in names:
        if not 0.0 <= getattr(obj, n) <= 1.0:
            raise ConfigError(f"{type(obj).__name__}.{n} must be in [0, 1], got {getattr(obj, n)!r}")


def _check_value(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _check_value(value, a, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: unexpected value {value!r}")
    if dataclasses.is_dataclass(tp):
        return build_section(tp, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        (item_tp,) = typing.get_args(tp)
        return [_check_value(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__} {value!r}")
        _, value_tp = typing.get_args(tp)
        return {k: _check_value(v, value_tp, f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp} at {where}")


def build_section(cls: type, data: Any, where: str):
    """Build dataclass ``cls`` from mapping ``data``; errors name ``where.key``."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(names)})")
    missing = [n for n in names if n not in data]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}")
    kwargs = {n: _check_value(data[n], hints[n], f"{where}.{n}") for n in names}
    try:
        return cls(**kwargs)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from e


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The YAML mapping in ``path``; :class:`ConfigError` naming the file when it is not YAML or not a mapping of ``what``."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping of {what}")
    return dict(raw)


def load_params(path: str | Path = "params.yaml", *, sections: list[str] | None = None) -> Params | dict[str, Any]:
    """Load and validate a params file.

    Args:
        path: The YAML file.
        sections: When given, build and return only these sections as ``{name: section}``
            (a stage validates what it reads). Otherwise build the whole :class:`Params`.

    Raises:
        ConfigError: unknown or missing section or key, or a value of the wrong type.
    """
    path = Path(path)
    raw = read_yaml_mapping(path, "sections")
    hints = typing.get_type_hints(Params)
    if sections is not None:
        out = {}
        for s in sections:
            if s not in hints:
                raise ConfigError(f"{path}: no such section {s!r}")
            if s not in raw:
                raise ConfigError(f"{path}: missing section {s!r}")
            out[s] = _check_value(raw[s], hints[s], s)
        return out
    try:
        return build_section(Params, raw, "params")
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from e


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten a config (dataclass or mapping) to ``{"a.b.c": value}`` for MLflow params."""
    if dataclasses.is_dataclass(obj):
        obj = dataclasses.asdict(obj)
    out: dict[str, Any] = {}
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    else:
        out[prefix] = obj
    return out

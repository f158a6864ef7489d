"""Paper 05 (SSEU-Bench): ``mix_sseu`` and ``sseu_bench``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from audioreason.config.common import Generation
from audioreason.config.schema import ConfigError, _fraction, _positive

SseuRow = Literal["upper_bound", "clap", "independent", "joint", "joint_cot"]
"""The names of :data:`audioreason.stages.sseu_bench.ROWS` (a unit test keeps them equal)."""


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
    """Seeds the order of the speech pool and the pairing with backgrounds and windows."""

    def __post_init__(self):
        _positive(self, "items_per_scene", "clip_seconds")
        if not self.snrs or len(set(self.snrs)) != len(self.snrs):
            raise ConfigError(f"snrs must be distinct and non-empty, got {self.snrs}")
        _fraction(self, "min_event_confidence")


@dataclass(frozen=True)
class SseuPrompts:
    """User turns of the five SSEU-Bench prompts (the paper's are on its website, not in the paper)."""

    asr: str
    """Speech recognition alone: the transcript."""
    asc: str
    """Acoustic scene classification alone: the place."""
    at: str
    """Audio tagging alone: the non-speech sound events."""
    joint: str
    """All three tasks in one answer of three lines."""
    joint_cot: str
    """All three tasks after step-by-step reasoning (paper 05's CoT prompt), then the three lines."""


@dataclass(frozen=True)
class SseuGenerations:
    """Decoding of the answers to each prompt of :class:`SseuPrompts` (each with its own length limit)."""

    asr: Generation
    """Of the ``asr`` prompt."""
    asc: Generation
    """Of the ``asc`` prompt."""
    at: Generation
    """Of the ``at`` prompt."""
    joint: Generation
    """Of the ``joint`` prompt."""
    joint_cot: Generation
    """Of the ``joint_cot`` prompt (room for the reasoning before the three lines)."""


@dataclass(frozen=True)
class EmbeddingConfig:
    """The text-embedding model theta of eqs. 1-3 (:mod:`audioreason.evaluation.sseu`)."""

    backend: Literal["hashing", "sentence_transformers", "openai"]
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
    """``tiny-random``, or a local CLAP checkpoint (``ClapModel.from_pretrained``)."""
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
    rows: list[SseuRow]
    """The benchmark rows run: ``upper_bound`` (ground truth), ``clap``, ``independent``, ``joint``, ``joint_cot``."""
    prompts: SseuPrompts
    """What the audio LLM is asked."""
    generation: SseuGenerations
    """How it decodes each prompt's answer (greedy)."""
    embedding: EmbeddingConfig
    """The text embedding of the semantic scores."""
    clap: ClapSection
    """The CLAP baseline (``clap`` row)."""
    batch_size: int
    """Mixtures generated for at once."""
    seed: int
    """Seeds the ``tiny-random`` CLAP's initialisation."""

    def __post_init__(self):
        _positive(self, "batch_size")
        if not self.rows:
            raise ConfigError(f"rows must be among upper_bound, clap, independent, joint, joint_cot; got {self.rows}")

"""Paper 04 (acoustic concept tokens for SER): ``concept_tokens``, ``ser_finetune``, ``interventions``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from audioreason.config.common import Generation, LoraConfigSection
from audioreason.config.schema import ConfigError, _fraction, _positive

Concept = Literal["ENERGY", "PITCH", "BRIGHTNESS", "DYNAMICS", "FORMANTS"]
"""The names of :data:`audioreason.features.concept_tokens.CONCEPTS` (a unit test keeps them equal)."""


@dataclass(frozen=True)
class ConceptDatasetSpec:
    """One SER dataset of paper 04: where its validated utterances are and how its tokens are fit."""

    manifest: str
    """Validated ``Utterance`` manifest (``train`` / ``test`` splits; IEMOCAP sessions 1-4 / 5, FAU-Aibo Ohm / Mont)."""
    grouped: list[Concept]
    """Concepts with per-gender bin edges: IEMOCAP ``[PITCH, FORMANTS]``; FAU-Aibo (children) none."""
    dev_fraction: float
    """Share of the training speakers held out as a speaker-disjoint ``dev`` split (AIBO5's dev); 0: none."""

    def __post_init__(self):
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
    """Paper 04 §III: eGeMAPS (openSMILE) -> six concept tokens per utterance (stage ``concept_tokens``)."""

    datasets: dict[str, ConceptDatasetSpec]
    """Output name (``iemocap``, ``aibo5``) -> dataset."""
    workers: int
    """Extraction processes."""
    silence_loudness: float
    """Loudness (sone) every frame of a silent utterance stays below."""
    voice_quality: VoiceQualityConfig
    """The sixth token's rule (the five others are quantile bins)."""
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
    prompt_variants: list[Literal["audio_only", "correct"]]
    """Each utterance once per entry: ``audio_only`` and / or ``correct`` (aligned tokens appended)."""
    lora: LoraConfigSection
    """The adapters trained (``r: 0``: full fine-tuning)."""
    trainer: dict[str, Any]
    """Keyword arguments for ``trl.SFTConfig``."""

    def __post_init__(self):
        if not self.prompt_variants:
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
    """The question of every utterance (``{question}`` of ``prompt``)."""
    prompt: str
    """User turn without tokens: ``{question}``, ``{choices}``."""
    token_suffix: str
    """Appended to the prompt in the token conditions: ``{tokens}`` is the serialised token string."""
    shuffle_seeds: list[int]
    """One shuffle condition per seed (the token strings permuted within the split)."""
    corrupt_p: list[float]
    """The corruption grid; it must contain 1.0 (full corruption, a member of the test family)."""
    corrupt_seed: int
    """Seeds the corrupt conditions (which tokens are replaced, with probability p)."""
    n_boot: int
    """Speaker-clustered bootstrap resamples for the 95% CIs."""
    batch_size: int
    """Questions generated for at once."""
    generation: Generation
    """Decoding of the answers (greedy)."""
    seed: int
    """Seeds the speaker bootstrap."""

    def __post_init__(self):
        _positive(self, "n_boot", "batch_size")
        if set(self.paper_rows) != set(self.models):
            raise ConfigError(f"paper_rows must name a row for every model ({sorted(self.models)})")
        if self.intervention_dataset not in self.splits:
            raise ConfigError(
                f"intervention_dataset {self.intervention_dataset!r} is not among splits ({sorted(self.splits)})"
            )
        if not self.shuffle_seeds:
            raise ConfigError("shuffle_seeds: at least one seed")
        if any(not 0.0 <= p <= 1.0 for p in self.corrupt_p) or 1.0 not in self.corrupt_p or len(self.corrupt_p) < 3:
            raise ConfigError(
                f"corrupt_p must hold at least 3 probabilities in [0, 1], 1.0 among them; got {self.corrupt_p}"
            )
        missing = sorted(set(self.splits) - set(self.classes))
        if missing:
            raise ConfigError(f"classes: no class words for {missing}")
        if "{tokens}" not in self.token_suffix:
            raise ConfigError("token_suffix must contain {tokens}")

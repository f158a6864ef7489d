"""``ingest`` and ``validate``: the real on-disk formats -> normalised manifests -> quality-gated manifests."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, Mapping

from audioreason.config.schema import ConfigError, build_section

DatasetFormat = Literal[
    "avqa",
    "mmau",
    "music_avqa",
    "iemocap",
    "fau_aibo",
    "vctk",
    "desed",
    "maestro",
    "vggsound",
    "audiosetcaps",
    "cota",
    "arc",
]
"""The keys of :data:`audioreason.datasets.formats.FORMATS` (a unit test keeps them equal)."""


@dataclass(frozen=True)
class DatasetSource:
    """One dataset to ingest: its format and where it lives, relative to ``ingest.data_dir``."""

    format: DatasetFormat
    """A format of :data:`audioreason.datasets.formats.FORMATS` (``avqa``, ``iemocap``, ...)."""
    path: str
    """What the format's importer reads (a file or a folder; see audioreason.datasets.formats)."""


@dataclass(frozen=True)
class IngestConfig:
    """Importers: real on-disk formats -> normalised manifests ``outputs/ingest/<name>.jsonl``."""

    data_dir: str
    """Root of the raw inputs (tracked by ``data.dvc``)."""
    on_error: Literal["raise", "quarantine"]
    """A malformed raw record: ``raise`` stops the stage naming it; ``quarantine`` sets it aside, counted and listed."""
    audio_variant: bool
    """Replace "video" by "audio" in AVQA questions (the audio-only variant, FORMATS.md)."""
    datasets: dict[str, DatasetSource]
    """Manifest name -> dataset; the name is the manifest's file name and the key later stages use."""


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
    """Shortest duration a file may have, seconds."""
    max_duration_s: float
    """Longest duration a file may have, seconds."""
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
    """Quality gates on the ingested manifests, the audio they point at, and train/eval overlap.

    ``policy`` names the quality package's check keys, so it is checked there
    (:class:`audioreason.quality.checks.Policy`), when the ``validate`` stage starts and
    when ``audioreason params`` writes a params file.
    """

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
    """How the overlap check matches re-encoded copies of a clip."""

    def __post_init__(self):
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
        return build_section(
            ManifestQualityConfig, {**dataclasses.asdict(self.defaults), **overrides}, f"manifests.{name}"
        )

"""``world``: the synthetic audio world that ``audioreason world`` writes into ``data/`` in the real formats."""

from __future__ import annotations

from dataclasses import dataclass

from audioreason.config.schema import ConfigError, _fraction, _positive


@dataclass(frozen=True)
class WorldMusicAvqa:
    """MUSIC-AVQA-format ensembles (paper 02 Table 2)."""

    sample_rate: int
    """Sample rate of the written clips, Hz."""
    train_videos: int
    """Videos of the ``train`` split."""
    val_videos: int
    """Videos of the ``val`` split."""
    test_videos: int
    """Videos of the ``test`` split."""
    questions_per_video: int
    """Questions drawn per video from the templates that apply to it."""

    def __post_init__(self):
        _positive(self, "sample_rate", "train_videos", "val_videos", "test_videos", "questions_per_video")


@dataclass(frozen=True)
class WorldIemocap:
    """IEMOCAP-format emotional dialogs (papers 01 Table 1, 04)."""

    sample_rate: int
    """Sample rate of the written utterances, Hz."""
    dialogs_per_session: int
    """Per session, alternating improvised and scripted dialogs (5 sessions, as the corpus)."""
    utterances_per_dialog: int
    """Utterances per dialog, the two speakers taking turns."""

    def __post_init__(self):
        _positive(self, "sample_rate", "dialogs_per_session", "utterances_per_dialog")


@dataclass(frozen=True)
class WorldFauAibo:
    """FAU-Aibo-format children's speech, 5 classes (paper 04)."""

    sample_rate: int
    """Sample rate of the written chunks, Hz."""
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
    """Sample rate of the written FLAC files, Hz (the corpus ships 48 kHz)."""
    speakers: int
    """Speakers, always including the corpus' traps p280 (no mic2) and p315 (no text)."""
    utterances_per_speaker: int
    """Utterances each speaker reads."""

    def __post_init__(self):
        _positive(self, "sample_rate", "utterances_per_speaker")
        if self.speakers < 2:
            raise ConfigError("world.vctk.speakers must be at least 2 (p280 and p315 are always written)")


@dataclass(frozen=True)
class WorldDesed:
    """DESED-format domestic soundscapes (paper 05 background, scene "home")."""

    sample_rate: int
    """Sample rate of the written clips, Hz."""
    clip_seconds: float
    """Duration of every soundscape, seconds (10 in DESED)."""
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
    """Sample rate of the written recordings, Hz (the corpus ships 44.1 kHz)."""
    clip_seconds: float
    """Duration of every recording, seconds."""
    files_per_scene: int
    """Recordings written per acoustic scene."""

    def __post_init__(self):
        _positive(self, "sample_rate", "clip_seconds", "files_per_scene")


@dataclass(frozen=True)
class WorldVggsound:
    """VGGSound-format clips and AudioSetCaps-format captions (paper 03 §III.C)."""

    sample_rate: int
    """Sample rate of the written clips, Hz."""
    train_clips: int
    """Clips of the ``train`` split (each with captions)."""
    test_clips: int
    """Clips of the ``test`` split."""
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
    """Sample rate of the audio inside the parquet rows, Hz."""
    items: int
    """Items written (defective ones included)."""
    defect_rate: float
    """Fraction of items with a question/answer mismatch, like the public copy."""

    def __post_init__(self):
        _positive(self, "sample_rate", "items")
        _fraction(self, "defect_rate")


@dataclass(frozen=True)
class WorldArc:
    """ARC-Easy-format text-only science questions (paper 03 §IV.C, Table II: GRPO without audio)."""

    train_items: int
    """Questions of ``ARC-Easy-Train.jsonl`` (the set paper 03 fine-tunes on)."""
    dev_items: int
    """Questions of ``ARC-Easy-Dev.jsonl``."""
    test_items: int
    """Questions of ``ARC-Easy-Test.jsonl``."""
    numeric_label_fraction: float
    """Fraction of questions labelled ``1``-``4`` instead of ``A``-``D``, as some ARC items are."""
    odd_choice_fraction: float
    """Fraction of questions with 3 or 5 choices instead of 4 (alternating), as a few ARC items have."""

    def __post_init__(self):
        _positive(self, "train_items", "dev_items", "test_items")
        _fraction(self, "numeric_label_fraction", "odd_choice_fraction")


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
    n_test_full: int
    """MMAU-format test-full questions with the answers hidden, as published (paper 03 Table I, Test-full)."""
    avqa_view_fraction: float
    """Fraction of AVQA questions that are visual-only (``question_relation: View``)."""
    mmau_n_choices: list[int]
    """Option counts an MMAU item draws from (uniformly; capped by the options its kind has)."""
    music_avqa: WorldMusicAvqa
    """The MUSIC-AVQA-format dataset."""
    iemocap: WorldIemocap
    """The IEMOCAP-format dataset."""
    fau_aibo: WorldFauAibo
    """The FAU-Aibo-format dataset."""
    vctk: WorldVctk
    """The VCTK-format dataset."""
    desed: WorldDesed
    """The DESED-format dataset."""
    maestro: WorldMaestro
    """The MAESTRO-Real-format dataset."""
    vggsound: WorldVggsound
    """The VGGSound-format clips and AudioSetCaps-format captions."""
    cota: WorldCota
    """The CoTA-format dataset."""
    arc: WorldArc
    """The ARC-Easy-format text-only dataset."""

    def __post_init__(self):
        _positive(self, "clip_seconds", "n_train", "n_val", "n_test_mini", "n_test_full")
        _positive(self, "avqa_sample_rate", "mmau_sample_rate")
        _fraction(self, "avqa_view_fraction")
        if not self.mmau_n_choices or any(not 2 <= n <= 8 for n in self.mmau_n_choices):
            raise ConfigError(f"world.mmau_n_choices must list counts in 2..8, got {self.mmau_n_choices}")

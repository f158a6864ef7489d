"""``teachers`` and the generation stages that use them: ``textualize_cota`` (paper 01),
``generate_qa`` (paper 03), ``teacher_cot`` and ``agfv`` (paper 02)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from audioreason.config.schema import _positive

TeacherBackend = Literal["vllm", "transformers", "openai", "oracle"]
"""The keys of :data:`audioreason.teachers.backends.BACKENDS` (a unit test keeps them equal)."""


@dataclass(frozen=True)
class TeacherSpec:
    """One generation model and what serves it (``teachers.<name>``).

    The backend's own options belong to the teachers package: they are validated by building
    the backend's options dataclass (:func:`audioreason.teachers.backends.check_teachers`,
    run by :func:`~audioreason.teachers.backends.load_teacher` and by ``audioreason params``;
    :func:`~audioreason.teachers.backends.build_backend` builds them again), and the errors
    name ``teachers.<name>: options.<key>``.
    """

    backend: TeacherBackend
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
        _positive(self, "batch_size")


@dataclass(frozen=True)
class SamplingSection:
    """Decoding settings of one generation stage (:class:`audioreason.teachers.base.SamplingParams`)."""

    n: int
    """Samples per prompt."""
    temperature: float
    """0 is greedy."""
    top_p: float
    """Nucleus mass; 1.0 turns it off."""
    top_k: int
    """0 turns top-k off."""
    max_tokens: int
    """Most new tokens per sample."""
    seed: int
    """Base seed; backends that can seed per request derive the request's seed from it."""


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
    """How the teacher decodes (greedy in the paper)."""
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
    """Key of ``teachers`` that writes the questions (an LLM that reads captions only)."""
    captions: str
    """The validated caption manifest (AudioSetCaps, VGGSound ids)."""
    sources: dict[str, QaSource]
    """Output dataset name (``avqa_gpt``, ``vggs_gpt``) -> the clips that get questions."""
    prompt: str
    """Instruction; ``{captions}`` is filled in. The model answers with a JSON object."""
    sampling: SamplingSection
    """How the teacher decodes; ``n`` questions per clip (duplicates are removed)."""
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
    """Key of ``teachers`` that writes the traces (a vision LLM that sees the silent video)."""
    manifest: str
    """The validated AVQA training manifest."""
    video_dir: str
    """Folder of the silent videos ``<video_name>.mp4``; empty where there are none (the synthetic
    world has a text visual channel that only the oracle reads)."""
    prompt: str
    """P_audio; ``{question}`` and ``{choices}`` are filled in."""
    sampling: SamplingSection
    """How the teacher decodes; ``n`` is the traces per question (test-time scaling)."""
    max_items: int
    """Questions to trace (0: all)."""


@dataclass(frozen=True)
class AgfvConfig:
    """Paper 02 §3.2: an audio checker accepts or rejects every kept trace -> D_FC."""

    teacher: str
    """Key of ``teachers`` that checks (an audio LLM that hears the clip)."""
    prompt: str
    """``{question}`` and ``{trace}`` are filled in; the checker answers yes or no."""
    sampling: SamplingSection
    """How the checker decodes (greedy, a few tokens)."""
    truth: str
    """The world's ground truth (``data/world/clips.jsonl``) for AGFV's precision and recall;
    empty where there is none (real data)."""

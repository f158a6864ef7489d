"""Typed, validated view of ``params.yaml``.

One dataclass per top-level section; one per nested mapping. Every key is required and
unknown keys are errors, both naming ``section.key``, so a typo in params never silently
falls back to a default. Sections that are handed straight to a library (TRL's
``SFTConfig``) stay plain mappings here and are validated by building that library's own
config (:func:`audioreason.training.sft.build_sft_config`).

The package imports nothing else of ``audioreason``, so any module may import it. Checks
that need another package's tables are made there, before any work: a teacher backend's
options (:func:`audioreason.teachers.backends.check_teachers`) and the ``validate`` policy
(:class:`audioreason.quality.checks.Policy`); names another package defines (dataset
formats, rewards, divergences, ...) are ``Literal`` types, kept equal to that package's
table by a unit test.

Modules: :mod:`~audioreason.config.schema` (the section builder, :class:`ConfigError`),
:mod:`~audioreason.config.common` (shared types, ``models``, ``report``, ``register``,
``tracking``), :mod:`~audioreason.config.world`, :mod:`~audioreason.config.data`
(``ingest``, ``validate``), :mod:`~audioreason.config.teachers` (``teachers`` and the
generation stages), and one module per paper: :mod:`~audioreason.config.p01`,
:mod:`~audioreason.config.p02_p03`, :mod:`~audioreason.config.p04`, :mod:`~audioreason.config.p05`.

Scale is only ever values: ``params.yaml`` holds the tiny scale, ``params.paper.yaml``
the papers' values; ``cp params.paper.yaml params.yaml`` switches (``git checkout params.yaml`` back).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audioreason.config.common import (
    AudioEncoderConfig,
    EvalEngineName,
    EvalVllmEngine,
    FeatureExtractorConfig,
    Generation,
    LoraConfigSection,
    ModelName,
    ModelsConfig,
    RegisterConfig,
    RegisterSpec,
    ReportConfig,
    TextDecoderConfig,
    TokenizerConfig,
    TrackingConfig,
    VllmDtype,
)
from audioreason.config.data import (
    DatasetFormat,
    DatasetSource,
    FingerprintConfig,
    IngestConfig,
    ManifestQualityConfig,
    ValidateConfig,
)
from audioreason.config.p01 import (
    DistillConfig,
    DistillEvalConfig,
    DistillRow,
    Divergence,
    HiddenKd,
    PretrainStudentConfig,
    TrainTextTeacherConfig,
)
from audioreason.config.p02_p03 import (
    GRPO_DATA,
    SFT_DATA,
    EvalSuiteConfig,
    EvaluateConfig,
    GrpoConfig,
    GrpoData,
    GrpoRecipe,
    GrpoRow,
    InstructBaseConfig,
    Reward,
    SftCotConfig,
    SftCotRow,
    SftData,
)
from audioreason.config.p04 import (
    Concept,
    ConceptDatasetSpec,
    ConceptTokensConfig,
    InterventionsConfig,
    SerFinetuneConfig,
    VoiceQualityConfig,
)
from audioreason.config.p05 import (
    ClapSection,
    EmbeddingConfig,
    MixSseuConfig,
    SseuBenchConfig,
    SseuGenerations,
    SseuPrompts,
    SseuRow,
)
from audioreason.config.schema import ConfigError, _check_value, build_section, flatten, read_yaml_mapping
from audioreason.config.teachers import (
    AgfvConfig,
    GenerateQaConfig,
    QaSource,
    SamplingSection,
    TeacherBackend,
    TeacherCotConfig,
    TeacherSpec,
    TextualizeCotaConfig,
)
from audioreason.config.world import (
    WorldConfig,
    WorldCota,
    WorldDesed,
    WorldFauAibo,
    WorldIemocap,
    WorldMaestro,
    WorldMusicAvqa,
    WorldVctk,
    WorldVggsound,
)

__all__ = [
    "GRPO_DATA",
    "SFT_DATA",
    "AgfvConfig",
    "AudioEncoderConfig",
    "ClapSection",
    "Concept",
    "ConceptDatasetSpec",
    "ConceptTokensConfig",
    "ConfigError",
    "DatasetFormat",
    "DatasetSource",
    "DistillConfig",
    "DistillEvalConfig",
    "DistillRow",
    "Divergence",
    "EmbeddingConfig",
    "EvalEngineName",
    "EvalSuiteConfig",
    "EvalVllmEngine",
    "EvaluateConfig",
    "FeatureExtractorConfig",
    "FingerprintConfig",
    "GenerateQaConfig",
    "Generation",
    "GrpoConfig",
    "GrpoData",
    "GrpoRecipe",
    "GrpoRow",
    "HiddenKd",
    "IngestConfig",
    "InstructBaseConfig",
    "InterventionsConfig",
    "LoraConfigSection",
    "ManifestQualityConfig",
    "MixSseuConfig",
    "ModelName",
    "ModelsConfig",
    "Params",
    "PretrainStudentConfig",
    "QaSource",
    "RegisterConfig",
    "RegisterSpec",
    "ReportConfig",
    "Reward",
    "SamplingSection",
    "SerFinetuneConfig",
    "SftCotConfig",
    "SftCotRow",
    "SftData",
    "SseuBenchConfig",
    "SseuGenerations",
    "SseuPrompts",
    "SseuRow",
    "TeacherBackend",
    "TeacherCotConfig",
    "TeacherSpec",
    "TextDecoderConfig",
    "TextualizeCotaConfig",
    "TokenizerConfig",
    "TrackingConfig",
    "VllmDtype",
    "TrainTextTeacherConfig",
    "ValidateConfig",
    "VoiceQualityConfig",
    "WorldConfig",
    "WorldCota",
    "WorldDesed",
    "WorldFauAibo",
    "WorldIemocap",
    "WorldMaestro",
    "WorldMusicAvqa",
    "WorldVctk",
    "WorldVggsound",
    "build_section",
    "flatten",
    "load_params",
    "read_yaml_mapping",
]


@dataclass(frozen=True)
class Params:
    """The whole ``params.yaml``."""

    world: WorldConfig
    """The synthetic audio world (``audioreason world``)."""
    ingest: IngestConfig
    """Raw datasets -> normalised manifests."""
    validate: ValidateConfig
    """Quality gates on the manifests."""
    models: ModelsConfig
    """The tiny random-init models (none at paper scale)."""
    teachers: dict[str, TeacherSpec]
    """Generation models by name, as the generation stages' ``teacher`` keys name them."""
    textualize_cota: TextualizeCotaConfig
    """Paper 01's D_text."""
    generate_qa: GenerateQaConfig
    """Paper 03's AVQA-GPT and VGGS-GPT."""
    teacher_cot: TeacherCotConfig
    """Paper 02's vision-teacher traces."""
    agfv: AgfvConfig
    """Paper 02's audio-grounded fact verification."""
    pretrain_student: PretrainStudentConfig
    """Paper 01's student made a listener (tiny scale)."""
    train_text_teacher: TrainTextTeacherConfig
    """Paper 01's textual teacher trained on D_text (tiny scale)."""
    distill: DistillConfig
    """Paper 01's distillation, Table 1."""
    instruct_base: InstructBaseConfig
    """Papers 02-03's bases made instruction-following listeners (tiny scale)."""
    sft_cot: SftCotConfig
    """Paper 02's SFT rows, Table 2."""
    grpo: GrpoConfig
    """Papers 02-03's GRPO rows."""
    evaluate: EvaluateConfig
    """One checkpoint on the MMAU-format test set."""
    concept_tokens: ConceptTokensConfig
    """Paper 04's concept tokens."""
    ser_finetune: SerFinetuneConfig
    """Paper 04's token-aware SER fine-tune."""
    interventions: InterventionsConfig
    """Paper 04's SER conditions and token interventions."""
    mix_sseu: MixSseuConfig
    """Paper 05's mixtures."""
    sseu_bench: SseuBenchConfig
    """Paper 05's benchmark."""
    report: ReportConfig
    """The paper-vs-run report."""
    register: RegisterConfig
    """Each paper's champion in the Model Registry."""
    tracking: TrackingConfig
    """MLflow conventions."""


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

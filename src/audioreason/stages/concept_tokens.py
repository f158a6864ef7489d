"""Stage ``concept_tokens``: eGeMAPS features -> six acoustic concept tokens per utterance (paper 04 §III).

For every SER dataset in ``concept_tokens.datasets`` (IEMOCAP 4-way, FAU-Aibo 5-class):

1. openSMILE eGeMAPSv02 LLDs per utterance, in parallel (``workers`` processes, progress
   bar), summarised by file-level means (:mod:`audioreason.audio.egemaps`, whose docstring
   has the table of openSMILE columns per concept);
2. median / IQR standardisation and five-bin quantile edges fit on the training split only
   (IEMOCAP: PITCH and FORMANTS per gender); FAU-Aibo's dev split is a seeded,
   speaker-disjoint share of the Ohm speakers and is not fit on;
3. the VOICE_QUALITY heuristic, and the serialised token string appended to prompts.

Outputs (``outputs/concept_tokens/<dataset>/``): ``tokens.jsonl`` (one row per utterance:
ids, split, speaker, gender, label, the file-level means, the concept scores, the tokens and
their string), ``fit.json`` (medians, IQRs, bin edges, thresholds). Figure 1 of the paper
(per-class token distributions) is ``plots/concept_tokens/<dataset>_tokens_by_class.png``.
Silent or too-short utterances get ``UNDEFINED`` / ``UNVOICED`` tokens, counted in the metrics.

One MLflow run, ``p04.table1.concept_tokens.concept_tokens``; metrics ``metrics/concept_tokens.json``.

    dvc repro concept_tokens           # or: python -m audioreason.stages.concept_tokens
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from audioreason.audio.egemaps import extract_features
from audioreason.config import ConceptDatasetSpec, ConceptTokensConfig
from audioreason.datasets.records import Utterance, read_manifest
from audioreason.features.concept_tokens import (
    CONCEPTS,
    UNDEFINED,
    VOICE_QUALITIES,
    ConceptTokenizer,
    VoiceQualityRule,
    normalised_mutual_information,
    serialise,
    vocabulary,
)
from audioreason.pipeline import OUTPUTS, PLOTS, stage_params, write_jsonl
from audioreason.plots import figure, save_figure
from audioreason.tracking import NullTracker, stage_run

OUT = OUTPUTS / "concept_tokens"
PAPER, TABLE = "p04", "table1"
TOKEN_NAMES = (*CONCEPTS, "VOICE_QUALITY")


def assign_splits(utterances: list[Utterance], dev_fraction: float, seed: int) -> list[str]:
    """Each utterance's split; with ``dev_fraction`` > 0 a seeded share of the training
    speakers (at least one) becomes ``dev``, speaker-disjoint from ``train``."""
    if dev_fraction <= 0:
        return [u.split for u in utterances]
    speakers = sorted({u.speaker for u in utterances if u.split == "train"})
    n_dev = max(1, round(dev_fraction * len(speakers)))
    if n_dev >= len(speakers):
        raise ValueError(f"dev_fraction {dev_fraction} leaves no training speaker (of {len(speakers)})")
    dev = set(np.random.default_rng(seed).permutation(speakers)[:n_dev].tolist())
    return ["dev" if u.split == "train" and u.speaker in dev else u.split for u in utterances]


def _json_numbers(values: dict[str, float]) -> dict[str, float | None]:
    """NaN (an undefined mean or score) as JSON ``null``."""
    return {k: (v if np.isfinite(v) else None) for k, v in values.items()}


def plot_tokens_by_class(rows: list[dict], png: Path, title: str) -> Path:
    """Paper 04 Figure 1: for each of the six tokens, the share of each level within each class."""
    plt = figure()
    classes = sorted({r["label"] for r in rows})
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    for ax, concept in zip(axes.flat, TOKEN_NAMES):
        levels = [*vocabulary(concept), *([UNDEFINED] if concept != "VOICE_QUALITY" else [])]
        bottom = np.zeros(len(classes))
        cmap = plt.get_cmap("viridis" if concept != "VOICE_QUALITY" else "tab10")
        for i, level in enumerate(levels):
            share = np.array(
                [np.mean([r["tokens"][concept] == level for r in rows if r["label"] == c]) for c in classes]
            )
            if share.any():
                ax.bar(classes, share, bottom=bottom, label=level, color=cmap(i / max(1, len(levels) - 1)))
            bottom += share
        ax.set(title=concept, ylim=(0, 1), ylabel="share of the class")
        ax.legend(fontsize=6, loc="upper right")
    fig.suptitle(title)
    return save_figure(fig, png, dpi=90)


def tokenize_dataset(
    name: str, spec: ConceptDatasetSpec, cfg: ConceptTokensConfig, tracker: NullTracker
) -> tuple[list[dict], dict]:
    """Features, fit and tokens of one dataset; writes its outputs and returns ``(rows, metrics)``."""
    utterances = read_manifest(spec.manifest, Utterance)
    splits = assign_splits(utterances, spec.dev_fraction, cfg.seed)
    feats, speed = extract_features(
        [u.audio for u in utterances], workers=cfg.workers, silence_loudness=cfg.silence_loudness
    )
    train = [(u, f) for u, f, s in zip(utterances, feats, splits) if s == "train"]
    tokenizer = ConceptTokenizer(
        grouped=spec.grouped, rule=VoiceQualityRule(cfg.voice_quality.threshold, cfg.voice_quality.min_voiced_fraction)
    )
    tokenizer.fit([f for _, f in train], [u.gender for u, _ in train])
    rows = []
    for u, f, split in zip(utterances, feats, splits):
        scores, tokens = tokenizer.tokens(f, u.gender or None)
        rows.append(
            {
                "id": u.id,
                "dataset": name,
                "split": split,
                "speaker": u.speaker,
                "gender": u.gender,
                "label": u.label,
                "audio": u.audio,
                "features": _json_numbers(f),
                "scores": _json_numbers(scores),
                "tokens": tokens,
                "token_string": serialise(tokens),
            }
        )
    out = OUT / name
    write_jsonl(rows, out / "tokens.jsonl")
    (out / "fit.json").write_text(json.dumps(tokenizer.state(), indent=1, sort_keys=True) + "\n")
    png = plot_tokens_by_class(
        rows,
        PLOTS / "concept_tokens" / f"{name}_tokens_by_class.png",
        f"{name}: concept tokens per class (all splits; edges fit on train)",
    )
    tracker.log_artifact(png, "plots")
    tracker.log_artifact(out / "fit.json", name)

    m: dict[str, float] = {
        f"{name}.n": len(rows),
        f"{name}.silent": sum(f["silent"] for f in feats),
        f"{name}.files_per_s": speed.files_per_s,
        f"{name}.real_time_factor": speed.real_time_factor,
    }
    for split, k in Counter(splits).items():
        m[f"{name}.{split}.n"] = k
    for concept in TOKEN_NAMES:
        column = [r["tokens"][concept] for r in rows]
        m[f"{name}.nmi.{concept}"] = normalised_mutual_information(column, [r["label"] for r in rows])
        if concept != "VOICE_QUALITY":
            m[f"{name}.undefined.{concept}"] = column.count(UNDEFINED)
    quality = Counter(r["tokens"]["VOICE_QUALITY"] for r in rows)
    m.update({f"{name}.voice_quality.{q}": quality.get(q, 0) for q in VOICE_QUALITIES})
    return rows, {**m, "_audio_s": speed.audio_s, "_wall_s": speed.wall_s}


def run(cfg: ConceptTokensConfig, tracker: NullTracker) -> dict:
    metrics: dict[str, float] = {}
    audio_s = wall_s = 0.0
    for name, spec in cfg.datasets.items():
        _, m = tokenize_dataset(name, spec, cfg, tracker)
        audio_s, wall_s = audio_s + m.pop("_audio_s"), wall_s + m.pop("_wall_s")
        metrics.update(m)
        print(
            f"concept_tokens[{name}]: {m[f'{name}.n']} utterances, {m[f'{name}.files_per_s']:.1f} files/s, "
            f"NMI(token; class) " + ", ".join(f"{c} {m[f'{name}.nmi.{c}']:.2f}" for c in TOKEN_NAMES)
        )
    metrics.update(
        {
            "throughput.workers": cfg.workers,
            "throughput.real_time_factor": wall_s / audio_s if audio_s else 0.0,
            "throughput.audio_s": audio_s,
            "throughput.wall_s": wall_s,
        }
    )
    return metrics


def main() -> None:
    cfg, tracking = stage_params("concept_tokens", "tracking")
    with stage_run(
        "concept_tokens",
        tracking,
        cfg=cfg,
        paper=PAPER,
        table=TABLE,
        deps=[spec.manifest for spec in cfg.datasets.values()],
    ) as stage:
        stage.metrics = run(cfg, stage.tracker)
    print(f"concept_tokens: {stage.metrics}")


if __name__ == "__main__":
    main()

"""Stage ``sseu_bench``: SSEU-Bench evaluation, independent and joint, per SNR (paper 05 §2.2-4).

Rows (one MLflow run each, ``p05.<table>.<row>.sseu_bench``; ``sseu_bench.rows`` selects them):

- ``upper_bound``: the ground truth as predictions (transcript, scene name, event labels) through
  the same scorers: WER 0, mACC 100, mAP 100 check the whole scoring path (§3 "Upper Bound");
- ``clap``: zero-shot ASC / AT with transformers' CLAP (audio and "This is a sound of <label>."
  texts embedded separately; cosine similarities, softmax over scenes, sigmoid per event class);
  tiny scale: a seeded random-init CLAP of the real architecture, paper scale: a local
  LAION-CLAP checkpoint;
- ``independent``: the audio LLM under test asked three separate prompts (ASR, ASC, AT);
- ``joint``: one prompt for all three, answered as ``Transcript:`` / ``Scene:`` / ``Events:`` lines;
- ``joint_cot``: the joint prompt with the paper's five steps (energy & onset, ASR, scene
  candidates, event candidates, correction) before the three lines.

ASR is scored where there is speech (SNR > -inf), ASC and AT where there is background
(SNR < +inf). Scorers: :mod:`audioreason.evaluation.sseu` (WER; eq. 1 mACC; eqs. 2-3 mAP);
the paper's prompts are on its website, not in the paper, so the prompts here are this
package's (``sseu_bench.prompts``). Metric keys as paper_tables.yaml: ``asr.wer.snr_10``,
``asc.macc.average`` (Table 1: six columns), ``at.map.average_5snr`` (Table 2: the five
mixed SNRs); joint rows also report ``joint.parse_failures``. The paper-table rows of the model
are written beside the stage's own rows: ``<paper_row>`` (Table 1) and
``<paper_row>_independent`` / ``_joint`` (Table 2). SNR curves per task: PNG per row, and
``plots/sseu_bench/snr_curves.json``.

    dvc repro sseu_bench           # or: python -m audioreason.stages.sseu_bench [--rows clap upper_bound]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from audioreason.config import Generation, MixSseuConfig, SseuBenchConfig, TrackingConfig, flatten
from audioreason.evaluation.sseu import (
    SCORER_NAME,
    CachedEmbedding,
    HashingEmbedding,
    event_confidences,
    macro_accuracy,
    mean_average_precision,
    openai_embedding,
    parse_joint,
    scene_confidences,
    sentence_transformers_embedding,
    split_events,
    wer,
)
from audioreason.pipeline import METRICS, OUTPUTS, PLOTS, read_jsonl, stage_params, write_jsonl
from audioreason.plots import figure, save_figure
from audioreason.tracking import stage_run, start_run, write_metrics

OUT = OUTPUTS / "sseu_bench"
ROWS = ("upper_bound", "clap", "independent", "joint", "joint_cot")
MIXED = ("snr_10", "snr_5", "snr_0", "snr_m5", "snr_m10")
TASKS = {
    "asr": ("wer", ("snr_inf", *MIXED)),
    "asc": ("macc", (*MIXED, "snr_minf")),
    "at": ("map", (*MIXED, "snr_minf")),
}
"""task -> (metric, the SNR columns it is scored on, Table 1's order; their mean is ``average``)."""


def build_embedding(cfg: SseuBenchConfig):
    e = cfg.embedding
    if e.backend == "hashing":
        return CachedEmbedding(HashingEmbedding(e.dim))
    if e.backend == "sentence_transformers":
        return CachedEmbedding(sentence_transformers_embedding(e.path))
    return CachedEmbedding(openai_embedding(e.base_url, e.model))


def score_predictions(
    rows: Sequence[dict], preds: dict[str, dict], scenes: Sequence[str], classes: Sequence[str], embed: Callable | None
) -> dict[str, float]:
    """Per-SNR WER / mACC / mAP of ``preds`` (mixture id -> task -> prediction), and averages.

    ``asr`` is a transcript; ``asc`` / ``at`` are an answer (scene text / event list, embedded by
    eqs. 1-3) or already a confidence vector over the classes (CLAP).
    """

    def confidences(task: str, pred) -> np.ndarray:
        if isinstance(pred, np.ndarray):
            return pred
        return (
            scene_confidences(pred, scenes, embed) if task == "asc" else event_confidences(list(pred), classes, embed)
        )

    metrics: dict[str, float] = {}
    for task, (metric, columns) in TASKS.items():
        values = []
        for key in columns:
            at_snr = [r for r in rows if r["snr_key"] == key and r["id"] in preds and task in preds[r["id"]]]
            if not at_snr:
                continue
            if task == "asr":
                v = wer([r["transcript"] for r in at_snr], [preds[r["id"]]["asr"] for r in at_snr])
            else:
                conf = np.stack([confidences(task, preds[r["id"]][task]) for r in at_snr])
                v = (
                    macro_accuracy([r["scene"] for r in at_snr], conf, scenes)
                    if task == "asc"
                    else mean_average_precision([set(r["event_labels"]) for r in at_snr], conf, classes)
                )
            metrics[f"{task}.{metric}.{key}"] = v
            values.append((key, v))
        if values:
            metrics[f"{task}.{metric}.average"] = float(np.mean([v for _, v in values]))
            mixed = [v for k, v in values if k in MIXED]
            if mixed:
                metrics[f"{task}.{metric}.average_5snr"] = float(np.mean(mixed))
    return metrics


def ground_truth(rows: Sequence[dict]) -> dict[str, dict]:
    return {r["id"]: {"asr": r["transcript"], "asc": r["scene"], "at": tuple(r["event_labels"])} for r in rows}


def _tasks_for(row: dict) -> list[str]:
    return [t for t, (_, cols) in TASKS.items() if row["snr_key"] in cols]


def _generate(
    model, processor, rows: Sequence[dict], prompt: str, generation: Generation, cfg: SseuBenchConfig, cache: Path
) -> dict[str, str]:
    from audioreason.datasets.records import QARecord
    from audioreason.evaluation.generate import generate_answers

    cache.unlink(missing_ok=True)  # mixture ids repeat across re-mixes: nothing cached may carry over
    records = [QARecord(r["id"], "sseu", "test", r["audio"], prompt, (), "") for r in rows]
    gens = generate_answers(
        model, processor, records, prompt="{question}", settings=generation, batch_size=cfg.batch_size, cache=cache
    )
    return {g["id"]: g["completion"] for g in gens}


def model_predictions(
    row_name: str, rows: Sequence[dict], cfg: SseuBenchConfig, loaded, out: Path
) -> tuple[dict, dict]:
    """What the audio LLM answers under ``row_name``; returns ``(predictions, extra metrics)``."""
    model, processor = loaded
    p, g = cfg.prompts, cfg.generation
    preds: dict[str, dict] = {r["id"]: {} for r in rows}
    extra: dict[str, float] = {}
    gens_dir = out / "generations"
    gens_dir.mkdir(parents=True, exist_ok=True)
    if row_name == "independent":
        for task, prompt, generation in (("asr", p.asr, g.asr), ("asc", p.asc, g.asc), ("at", p.at, g.at)):
            todo = [r for r in rows if task in _tasks_for(r)]
            answers = _generate(model, processor, todo, prompt, generation, cfg, gens_dir / f"{task}.jsonl")
            for r in todo:
                a = answers[r["id"]]
                preds[r["id"]][task] = tuple(split_events(a)) if task == "at" else a.strip()
        return preds, extra
    prompt, generation = (p.joint, g.joint) if row_name == "joint" else (p.joint_cot, g.joint_cot)
    answers = _generate(model, processor, rows, prompt, generation, cfg, gens_dir / f"{row_name}.jsonl")
    failures = {"transcript": 0, "scene": 0, "events": 0}
    for r in rows:
        parsed = parse_joint(answers[r["id"]])
        for field in parsed.missing:
            failures[field] += 1
        values = {"asr": parsed.transcript, "asc": parsed.scene, "at": parsed.events}
        preds[r["id"]] = {t: values[t] for t in _tasks_for(r)}
    extra.update({f"joint.parse_failures.{k}": v for k, v in failures.items()})
    extra["joint.parse_failure_rate"] = sum(failures.values()) / (3 * len(rows)) if rows else 0.0
    return preds, extra


def tiny_clap(tokenizer_path: str, seed: int):
    """A random-init CLAP of the real architecture (HTSAT audio tower, RoBERTa text tower) at tiny sizes."""
    import torch
    from transformers import AutoTokenizer, ClapConfig, ClapFeatureExtractor, ClapModel

    tok = AutoTokenizer.from_pretrained(tokenizer_path)
    config = ClapConfig(
        text_config=dict(
            vocab_size=len(tok),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=130,
            pad_token_id=tok.pad_token_id,
            type_vocab_size=1,
        ),
        audio_config=dict(
            depths=[1, 1],
            num_attention_heads=[1, 2],
            patch_embeds_hidden_size=16,
            hidden_size=32,
            window_size=8,
            spec_size=256,
            num_mel_bins=64,
            enable_fusion=False,
        ),
        projection_dim=16,
    )
    torch.manual_seed(seed)
    features = ClapFeatureExtractor(
        feature_size=64, sampling_rate=48000, max_length_s=10, truncation="rand_trunc", padding="repeatpad"
    )
    return ClapModel(config).eval(), features, tok


def clap_predictions(
    rows: Sequence[dict], scenes: Sequence[str], classes: Sequence[str], cfg: SseuBenchConfig
) -> dict[str, dict]:
    """CLAP zero-shot confidences: softmax over scenes (ASC), sigmoid per class (AT)."""
    import torch
    from tqdm.auto import tqdm

    from audioreason.audio.io import load_audio

    if cfg.clap.model == "tiny-random":
        model, features, tok = tiny_clap(cfg.clap.tokenizer, cfg.seed)
    else:
        from transformers import ClapModel, ClapProcessor

        model, processor = (
            ClapModel.from_pretrained(cfg.clap.model).eval(),
            ClapProcessor.from_pretrained(cfg.clap.model),
        )
        features, tok = processor.feature_extractor, processor.tokenizer

    def text_embed(labels: Sequence[str]) -> torch.Tensor:
        enc = tok([cfg.clap.prompt.format(label=label) for label in labels], return_tensors="pt", padding=True)
        t = model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        t = getattr(t, "pooler_output", t)
        return torch.nn.functional.normalize(t, dim=-1)

    preds: dict[str, dict] = {}
    with torch.no_grad():
        scene_t, class_t = text_embed(scenes), text_embed(classes)
        todo = [r for r in rows if r["snr_key"] != "snr_inf"]
        for i in tqdm(range(0, len(todo), cfg.batch_size), desc="clap", disable=None):
            batch = todo[i : i + cfg.batch_size]
            audio = [load_audio(r["audio"], features.sampling_rate) for r in batch]
            inp = features(audio, sampling_rate=features.sampling_rate, return_tensors="pt")
            a = model.get_audio_features(input_features=inp["input_features"], is_longer=inp.get("is_longer"))
            a = torch.nn.functional.normalize(getattr(a, "pooler_output", a), dim=-1)
            asc = torch.softmax(a @ scene_t.T, dim=-1).numpy()
            at = torch.sigmoid(a @ class_t.T).numpy()
            for r, s, e in zip(batch, asc, at):
                preds[r["id"]] = {"asc": s, "at": e}
    return preds


SNR_X = {
    "snr_inf": 15.0,
    "snr_10": 10.0,
    "snr_5": 5.0,
    "snr_0": 0.0,
    "snr_m5": -5.0,
    "snr_m10": -10.0,
    "snr_minf": -15.0,
}
"""Where each SNR sits on the curves' x axis (+-inf drawn at +-15 dB, labelled as such)."""


def plot_snr_curves(metrics_by_row: dict[str, dict], png: Path) -> Path:
    fig, axes = figure().subplots(1, 3, figsize=(13, 3.8))
    for ax, (task, (metric, columns)) in zip(axes, TASKS.items()):
        for row, m in metrics_by_row.items():
            pts = [(SNR_X[c], m[f"{task}.{metric}.{c}"]) for c in columns if f"{task}.{metric}.{c}" in m]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=row)
        ax.set(title=f"{task.upper()} {metric} (%)", xlabel="SNR (dB); +-inf drawn at +-15")
        ax.set_xticks(list(SNR_X.values()), ["+inf", "10", "5", "0", "-5", "-10", "-inf"])
        if ax.lines:
            ax.legend(fontsize=7)
        else:  # e.g. CLAP has no ASR
            ax.text(0, 0.5, "not scored", ha="center", transform=ax.get_xaxis_transform())
    return save_figure(fig, png)


def run(cfg: SseuBenchConfig, mix: MixSseuConfig, tracking: TrackingConfig, rows_to_run: Sequence[str]) -> dict:
    """Score every row of ``rows_to_run``, each in its own MLflow run, and write the paper-table rows.

    Args:
        mix: The ``mix_sseu`` section: its scenes and event classes are what ASC and AT score against.
        tracking: Where the rows' runs go.

    Returns:
        ``{row: metrics}``; each row's metrics are also ``metrics/sseu_bench/<row>.json``.

    Raises:
        SystemExit: the manifest holds no mixture.
    """
    mixtures = read_jsonl(Path(cfg.manifest))
    if not mixtures:
        raise SystemExit(f"sseu_bench: {cfg.manifest} has no mixtures")
    scenes = sorted(set(mix.scenes.values()))
    classes = sorted(set(mix.event_classes.values()))
    embed = build_embedding(cfg)
    loaded = None
    all_metrics: dict[str, dict] = {}
    params = flatten(cfg, "sseu_bench")
    for row in rows_to_run:
        out = OUT / row
        out.mkdir(parents=True, exist_ok=True)
        table = "table2" if row in ("joint", "joint_cot") else "table1"
        with start_run(
            uri=tracking.uri,
            experiment=tracking.experiment,
            scale=tracking.scale,
            stage="sseu_bench",
            paper="p05",
            table=table,
            row=row,
            params=params,
            deps=[cfg.manifest],
        ) as tracker:
            tracker.set_tags({"scorer": SCORER_NAME, "embedding": cfg.embedding.backend})
            if row == "upper_bound":
                metrics = score_predictions(mixtures, ground_truth(mixtures), scenes, classes, embed)
            elif row == "clap":
                metrics = score_predictions(
                    mixtures, clap_predictions(mixtures, scenes, classes, cfg), scenes, classes, embed
                )
                tracker.set_tags({"clap_model": cfg.clap.model})
            else:
                if loaded is None:
                    from audioreason.models.factory import load_model

                    loaded = load_model(cfg.model)
                    loaded[0].eval()
                preds, extra = model_predictions(row, mixtures, cfg, loaded, out)
                write_jsonl(
                    [
                        {"id": k, **{t: (list(v) if isinstance(v, tuple) else v) for t, v in p.items()}}
                        for k, p in preds.items()
                    ],
                    out / "predictions.jsonl",
                )
                metrics = {**score_predictions(mixtures, preds, scenes, classes, embed), **extra}
                tracker.set_tags({"model": cfg.model})
            metrics["mixtures"] = len(mixtures)
            png = plot_snr_curves({row: metrics}, out / "snr_curves.png")
            tracker.log_artifact(png, "plots")
            tracker.log_metrics(metrics)
        all_metrics[row] = metrics
        write_metrics(metrics, METRICS / "sseu_bench" / f"{row}.json")
        (out / "scores.json").write_text(json.dumps(metrics, indent=1, sort_keys=True) + "\n")
        shown = {k: round(v, 2) for k, v in metrics.items() if k.endswith(".average")}
        print(f"sseu_bench[{row}]: {shown}")
    # The model's rows under paper 05's table row names (Table 1: independent; Table 2: independent / joint).
    for source, alias in (
        ("independent", cfg.paper_row),
        ("independent", f"{cfg.paper_row}_independent"),
        ("joint", f"{cfg.paper_row}_joint"),
    ):
        if source in all_metrics:
            write_metrics(all_metrics[source], METRICS / "sseu_bench" / f"{alias}.json")
    if all_metrics:
        plot_snr_curves(all_metrics, OUT / "snr_curves.png")
        curve = [
            {"row": row, "task": task, "snr": SNR_X[c], "value": m[f"{task}.{metric}.{c}"]}
            for row, m in all_metrics.items()
            for task, (metric, cols) in TASKS.items()
            for c in cols
            if f"{task}.{metric}.{c}" in m and math.isfinite(m[f"{task}.{metric}.{c}"])
        ]
        (PLOTS / "sseu_bench").mkdir(parents=True, exist_ok=True)
        (PLOTS / "sseu_bench" / "snr_curves.json").write_text(json.dumps(curve, indent=1) + "\n")
    return all_metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", choices=ROWS, help="default: sseu_bench.rows")
    args = parser.parse_args(argv)
    cfg, mix, tracking = stage_params("sseu_bench", "mix_sseu", "tracking")
    # run() opens one MLflow run and writes one metrics file per row: none for the stage as a whole.
    with stage_run("sseu_bench", metrics_path=None) as stage:
        stage.metrics = run(cfg, mix, tracking, args.rows or cfg.rows)
    print(f"sseu_bench: {', '.join(stage.metrics)} -> {METRICS / 'sseu_bench'}")


if __name__ == "__main__":
    main()

"""Stage ``interventions``: SER with and without concept tokens, and token-only interventions (paper 04 §III-IV).

For one model under test (a DVC matrix row; tiny scale: the instruction-tuned tiny bases,
paper scale: Qwen2-Audio-7B-Instruct / Qwen2.5-Omni-7B), the same audio and the same
multiple-choice emotion question are asked under these prompt conditions:

- ``audio_only``: no tokens (Tables II-III "no tokens"), on every evaluated split;
- ``correct``: the utterance's own six tokens appended (Tables II-III "+ concept tokens");
- ``shuffle``: token strings permuted across the utterances of the split, one run per seed
  (UAR is their mean; the paired tests use the first seed);
- ``conflict``: every ordinal token inverted, voice quality to its opposite;
- ``corrupt``: each token replaced with probability p by a uniform draw from its vocabulary,
  over the ``corrupt_p`` grid (p = 1.0 is "full corruption").

The interventions run on ``intervention_dataset`` (IEMOCAP, as in the paper). A generation
is mapped to a class only when it names exactly one class word
(:func:`audioreason.evaluation.ser.predicted_class`); anything else is ``unparsed``, wrong,
and counted. UAR (a fraction, as the paper prints it) comes with a 95% speaker-clustered
bootstrap CI; paired conditions are compared by the exact McNemar test on per-utterance
correctness (each perturbation against ``correct`` and against ``audio_only``, and
``correct`` against ``audio_only``), Holm-corrected across that family; the corruption
curve's monotonicity is Spearman's rho of UAR against p.

Metric keys: ``<dataset>.uar`` when one split of the dataset is evaluated (IEMOCAP's
Session 5), else ``<dataset>.<split>.uar`` (``aibo5.dev.uar``), as in paper_tables.yaml; in
``metrics/interventions/<model>.json``, which holds every condition, they are prefixed with
the condition (``audio_only.aibo5.dev.uar``, ``correct.aibo5.dev.uar``).

MLflow: one run per condition (``p04.<paper_row>.<condition>.interventions``; rows
``audio_only``, ``correct``, ``shuffle``, ``conflict``, ``corrupt``), each with its UARs, CIs,
tests, confusion matrices; the corruption curve on the ``corrupt`` run. Files:
``outputs/interventions/<model>/`` (predictions per condition, ``scores.json``, plots),
``metrics/interventions/<model>.json``, the paper-table rows
``metrics/concept_tokens/<paper_row>_{no_tokens,tokens}.json`` (the tables' ``stage`` is the
method, ``concept_tokens``) and ``plots/interventions/<model>/corruption.json``.

    dvc repro interventions           # or: python -m audioreason.stages.interventions --model qwen2_audio
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from audioreason.config import InterventionsConfig, TrackingConfig, flatten
from audioreason.evaluation.generate import generate_answers
from audioreason.evaluation.paper_tables import paper_numbers
from audioreason.evaluation.ser import SCORER_NAME, plot_confusion, predicted_class, score_ser
from audioreason.evaluation.stats import holm, mcnemar_exact, speaker_bootstrap_ci, spearman
from audioreason.features.concept_tokens import serialise
from audioreason.features.ser_prompts import CONDITIONS, condition_tokens, questions, token_rows
from audioreason.pipeline import METRICS, OUTPUTS, PLOTS, matrix_row, stage_params, write_jsonl
from audioreason.plots import figure, save_figure
from audioreason.tracking import stage_run, start_run, write_metrics

OUT = OUTPUTS / "interventions"
PAPER = "p04"


def score(rows: Sequence[dict], completions: Sequence[str], cfg: InterventionsConfig, dataset: str) -> dict:
    """UAR (fraction), its speaker-bootstrap CI, WA, unparsed count, confusion and per-utterance correctness."""
    classes = sorted(cfg.classes[dataset])
    words = {c: (cfg.classes[dataset][c],) for c in classes}
    golds = [r["label"] for r in rows]
    preds = [predicted_class(c, words) for c in completions]
    s = score_ser(golds, preds, classes)
    speakers = [r["speaker"] for r in rows]
    ci = {"low": float("nan"), "high": float("nan")}  # one speaker: no speaker-clustered CI (not reported)
    if len(set(speakers)) >= 2:
        ci = speaker_bootstrap_ci(golds, preds, speakers, classes, n_boot=cfg.n_boot, seed=cfg.seed)
    return {
        "uar": s["ua"] / 100,
        "uar_ci_low": ci["low"] / 100,
        "uar_ci_high": ci["high"] / 100,
        "wa": s["wa"] / 100,
        "unparsed": s["unparsed"],
        "n": s["n"],
        "speakers": len(set(speakers)),
        "confusion": s["confusion"],
        "ua_percent": s["ua"],
        "wa_percent": s["wa"],
        "correct": [g == p for g, p in zip(golds, preds)],
        "predictions": preds,
    }


def metric_prefix(cfg: InterventionsConfig, dataset: str, split: str) -> str:
    return dataset if len(cfg.splits[dataset]) == 1 else f"{dataset}.{split}"


def evaluate_condition(
    model,
    processor,
    cfg: InterventionsConfig,
    rows: Sequence[dict],
    dataset: str,
    condition: str,
    out_dir: Path,
    tag: str,
    *,
    seed: int = 0,
    p: float = 0.0,
) -> dict:
    """Generate and score one condition on one split; predictions go to ``out_dir/<tag>.jsonl``."""
    token_sets = condition_tokens(rows, condition, seed=seed, p=p)
    records = questions(rows, token_sets, cfg, dataset)
    settings = cfg.generation
    gens = generate_answers(
        model, processor, records, prompt="{question}", settings=settings, batch_size=cfg.batch_size
    )
    result = score(rows, [g["completion"] for g in gens], cfg, dataset)
    write_jsonl(
        [
            {
                "id": r["id"],
                "speaker": r["speaker"],
                "gold": r["label"],
                "predicted": pred,
                "tokens": serialise(token_sets[i]) if token_sets is not None else None,
                "prompt": g["prompt"],
                "completion": g["completion"],
            }
            for i, (r, g, pred) in enumerate(zip(rows, gens, result["predictions"]))
        ],
        out_dir / f"{tag}.jsonl",
    )
    return result


def paired_tests(correct: dict[str, list[bool]]) -> dict[str, dict]:
    """Exact McNemar for each perturbation vs ``correct`` and vs ``audio_only``, and correct vs
    audio_only; Holm-adjusted across the family. Keys ``<a>_vs_<b>``."""
    pairs = [("correct", "audio_only")]
    for cond in ("shuffle", "conflict", "corrupt_full"):
        pairs += [(cond, "correct"), (cond, "audio_only")]
    tests = {f"{a}_vs_{b}": mcnemar_exact(correct[a], correct[b]) for a, b in pairs}
    for t, adj in zip(tests.values(), holm([t["p"] for t in tests.values()])):
        t["p_holm"] = adj
    return tests


def plot_corruption_curve(
    ps: Sequence[float],
    uars: Sequence[float],
    lows: Sequence[float],
    highs: Sequence[float],
    baseline: float,
    png: Path,
    title: str,
) -> Path:
    fig, ax = figure().subplots(figsize=(5.5, 3.8))
    ax.fill_between(ps, lows, highs, alpha=0.25, label="95% speaker bootstrap CI")
    ax.plot(ps, uars, marker="o", label="audio + corrupted tokens")
    ax.axhline(baseline, color="grey", ls="--", label="audio only")
    ax.set(xlabel="corruption probability p", ylabel="UAR", title=title, ylim=(0, 1))
    ax.legend(fontsize=7)
    return save_figure(fig, png)


def _public(result: dict, prefix: str) -> dict[str, float]:
    keep = ("uar", "uar_ci_low", "uar_ci_high", "wa", "unparsed", "n", "speakers")
    return {f"{prefix}.{k}": result[k] for k in keep if not (isinstance(result[k], float) and np.isnan(result[k]))}


def run_model(name: str, cfg: InterventionsConfig) -> tuple[dict[str, dict], dict[str, list[Path]]]:
    """Every condition for one model: ``{condition: metrics}`` (also written under ``outputs/``) and
    ``{condition: plots}``."""
    from audioreason.models.factory import load_model

    model, processor = load_model(cfg.models[name])
    model.eval()
    out = OUT / name
    metrics: dict[str, dict] = {c: {} for c in CONDITIONS}
    plots: dict[str, list[Path]] = {c: [] for c in CONDITIONS}
    done: dict[tuple[str, str, str], dict] = {}
    for dataset, splits in cfg.splits.items():
        for split in splits:
            rows = token_rows(cfg.tokens, dataset, split)
            prefix = metric_prefix(cfg, dataset, split)
            for cond in ("audio_only", "correct"):
                r = done[(dataset, split, cond)] = evaluate_condition(
                    model, processor, cfg, rows, dataset, cond, out / "predictions", f"{dataset}.{split}.{cond}"
                )
                metrics[cond].update(_public(r, prefix))
                png = plot_confusion(
                    {"confusion": r["confusion"], "ua": r["ua_percent"], "wa": r["wa_percent"]},
                    out / "plots" / f"confusion.{dataset}.{split}.{cond}.png",
                    f"{name} {dataset} {split} {cond}",
                )
                plots[cond].append(png)
    # Token-only interventions on one dataset's (first) evaluated split, audio fixed.
    dataset = cfg.intervention_dataset
    split = cfg.splits[dataset][0]
    rows = token_rows(cfg.tokens, dataset, split)
    preds = out / "predictions"
    base = {
        "audio_only": done[(dataset, split, "audio_only")],
        "correct": done[(dataset, split, "correct")],
        "conflict": evaluate_condition(
            model, processor, cfg, rows, dataset, "conflict", preds, f"{dataset}.{split}.conflict"
        ),
    }
    shuffled = [
        evaluate_condition(
            model, processor, cfg, rows, dataset, "shuffle", preds, f"{dataset}.{split}.shuffle.seed{s}", seed=s
        )
        for s in cfg.shuffle_seeds
    ]
    curve = [
        evaluate_condition(
            model,
            processor,
            cfg,
            rows,
            dataset,
            "corrupt",
            preds,
            f"{dataset}.{split}.corrupt.p{p:g}",
            seed=cfg.corrupt_seed,
            p=p,
        )
        for p in cfg.corrupt_p
    ]
    full = curve[cfg.corrupt_p.index(1.0)]
    for cond in ("audio_only", "correct", "conflict"):
        metrics[cond].update(_public(base[cond], cond))
    metrics["shuffle"].update(
        {
            "shuffle.uar": float(np.mean([s["uar"] for s in shuffled])),
            "shuffle.uar_seed_std": float(np.std([s["uar"] for s in shuffled])),
        }
    )
    for s, r in zip(cfg.shuffle_seeds, shuffled):
        metrics["shuffle"].update(_public(r, f"shuffle.seed{s}"))
    for p, r in zip(cfg.corrupt_p, curve):
        metrics["corrupt"].update(_public(r, f"corrupt.p{p:g}"))
    metrics["corrupt"].update(_public(full, "corrupt_full"))
    rho = spearman(cfg.corrupt_p, [r["uar"] for r in curve])
    if np.isfinite(rho["rho"]):
        metrics["corrupt"].update({"corrupt.spearman_rho": rho["rho"], "corrupt.spearman_p": rho["p"]})
    else:  # a flat curve has no rank correlation
        metrics["corrupt"]["corrupt.spearman_undefined"] = 1
    tests = paired_tests(
        {
            "audio_only": base["audio_only"]["correct"],
            "correct": base["correct"]["correct"],
            "conflict": base["conflict"]["correct"],
            "shuffle": shuffled[0]["correct"],
            "corrupt_full": full["correct"],
        }
    )
    for key, t in tests.items():
        cond = key.split("_vs_")[0].replace("corrupt_full", "corrupt")
        metrics[cond].update({f"mcnemar.{key}.{k}": v for k, v in t.items()})

    for cond, r in (("conflict", base["conflict"]), ("shuffle", shuffled[0]), ("corrupt", full)):
        png = plot_confusion(
            {"confusion": r["confusion"], "ua": r["ua_percent"], "wa": r["wa_percent"]},
            out / "plots" / f"confusion.{dataset}.{split}.{cond}.png",
            f"{name} {dataset} {cond}",
        )
        plots[cond].append(png)
    png = plot_corruption_curve(
        cfg.corrupt_p,
        [r["uar"] for r in curve],
        [r["uar_ci_low"] for r in curve],
        [r["uar_ci_high"] for r in curve],
        base["audio_only"]["uar"],
        out / "plots" / "corruption_curve.png",
        f"{name}: {dataset} UAR vs token corruption",
    )
    plots["corrupt"].append(png)
    curve_json = PLOTS / "interventions" / name / "corruption.json"
    curve_json.parent.mkdir(parents=True, exist_ok=True)
    curve_json.write_text(
        json.dumps([{"p": p, "uar": r["uar"]} for p, r in zip(cfg.corrupt_p, curve)], indent=1) + "\n"
    )
    (out / "scores.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return metrics, plots


def run(cfg: InterventionsConfig, model: str, tracking: TrackingConfig) -> dict:
    """Every condition for ``model``, one MLflow run per condition, and the paper-table rows.

    Returns:
        Every condition's metrics in one mapping (``metrics/interventions/<model>.json``).
    """
    paper_row = cfg.paper_rows[model]
    params = {**flatten(cfg, "interventions"), "interventions.model": model}
    deps = [cfg.models[model], cfg.tokens]
    metrics, plots = run_model(model, cfg)
    for cond in CONDITIONS:  # one MLflow run per condition, opened one after the other
        with start_run(
            uri=tracking.uri,
            experiment=tracking.experiment,
            scale=tracking.scale,
            stage="interventions",
            paper=PAPER,
            table=paper_row,
            row=cond,
            params=params,
            deps=deps,
        ) as tracker:
            tracker.set_tags({"model": model, "scorer": SCORER_NAME})
            tracker.log_metrics(metrics[cond])
            for png in plots[cond]:
                tracker.log_artifact(png, "plots")
    # The paper tables' stage is the method, ``concept_tokens``: its rows are read from there.
    write_metrics(
        {**metrics["audio_only"], **paper_numbers(PAPER, f"{paper_row}_no_tokens")},
        METRICS / "concept_tokens" / f"{paper_row}_no_tokens.json",
    )
    write_metrics(
        {**metrics["correct"], **paper_numbers(PAPER, f"{paper_row}_tokens")},
        METRICS / "concept_tokens" / f"{paper_row}_tokens.json",
    )
    # audio_only and correct share the per-dataset keys (``aibo5.dev.uar``): the flat file names the condition.
    return {(f"{c}.{k}" if k.split(".")[0] in cfg.splits else k): v for c, m in metrics.items() for k, v in m.items()}


def main() -> None:
    cfg, tracking = stage_params("interventions", "tracking")
    model = matrix_row("interventions", cfg.models, flag="--model", description=__doc__.splitlines()[0])
    # No run for the stage as a whole: run() opens one per condition.
    with stage_run("interventions", metrics_path=METRICS / "interventions" / f"{model}.json") as stage:
        stage.metrics = run(cfg, model, tracking)
    m = stage.metrics
    print(
        f"interventions[{model}]: {cfg.intervention_dataset} UAR audio-only {m.get('audio_only.uar', 0):.3f}, "
        f"correct {m.get('correct.uar', 0):.3f}, shuffle {m['shuffle.uar']:.3f}, conflict {m['conflict.uar']:.3f}, "
        f"corrupt(1) {m['corrupt_full.uar']:.3f}"
    )


if __name__ == "__main__":
    main()

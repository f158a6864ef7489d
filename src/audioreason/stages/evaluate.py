"""Stage ``evaluate``: generation on the MMAU-format test-mini, official MMAU scoring.

Generates one completion per question with the evaluation prompt, extracts the answer
(``<answer>`` content when present, else the text: FORMATS.md notes that a chain of
thought mentioning another option scores wrong, paper 01 §4.3 "we discard the generated
reasoning trace"), writes the official MMAU evaluation input
(``outputs/evaluate/predictions.json``: the test-mini list with ``model_output``), and
scores it with the official rule: accuracy overall, per task, per difficulty, per
sub-category. Logs the scorer and extractor names, the prompt and the test-set sha256.

    dvc repro evaluate        # or: python -m audioreason.stages.evaluate
"""

from __future__ import annotations

import json
from pathlib import Path

from audioreason.config import EvaluateConfig
from audioreason.datasets.records import read_manifest
from audioreason.evaluation.generate import generate_answers
from audioreason.evaluation.mmau import EXTRACTOR_NAME, SCORER_NAME, extract_answer, score_mmau_file, with_predictions
from audioreason.evaluation.suite import other_readings
from audioreason.models.factory import load_model
from audioreason.pipeline import OUTPUTS, PLOTS, stage_params
from audioreason.plots import figure, save_figure
from audioreason.tracking import NullTracker, stage_run

OUT = OUTPUTS / "evaluate"
PAPER, TABLE, ROW = "p02", "table2", "sft_gt_label"


def flat_scores(scores: dict) -> dict[str, float]:
    """``{"overall": .., "task.sound": .., "difficulty.easy": .., "sub_category.X": ..}`` for MLflow/DVC."""
    out = {"overall": scores["overall"], "n": scores["n"]}
    out.update({k: scores[k] for k in ("letter_overall", "unparseable") if k in scores})
    for group in ("task", "difficulty", "sub_category"):
        out.update({f"{group}.{k}": v for k, v in scores[group].items()})
    return out


def plot_scores(scores: dict, png: Path) -> Path:
    """Accuracy overall, per task and per difficulty, one bar each."""
    groups = [
        ("overall", {"overall": scores["overall"]}),
        ("task", scores["task"]),
        ("difficulty", scores["difficulty"]),
    ]
    labels = [k for _, d in groups for k in d]
    values = [v for _, d in groups for v in d.values()]
    fig, ax = figure().subplots(figsize=(6, 3))
    ax.bar(labels, values, color=["#444"] + ["#1f77b4"] * len(scores["task"]) + ["#ff7f0e"] * len(scores["difficulty"]))
    ax.set(ylabel="MMAU accuracy (%)", ylim=(0, 100), title="MMAU test-mini (official rule)")
    for i, v in enumerate(values):
        ax.text(i, v + 1, f"{v:.1f}", ha="center", fontsize=8)
    return save_figure(fig, png)


def run(cfg: EvaluateConfig, tracker: NullTracker, test_json: Path, out_dir: Path = OUT) -> dict:
    """Generate, extract, write the official evaluation input and score it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    records = read_manifest(cfg.test_manifest)
    model, processor = load_model(cfg.model)
    settings = cfg.generation
    cache = out_dir / "generations.jsonl"
    cache.unlink(missing_ok=True)  # DVC reruns this stage only when an input changed
    generations = generate_answers(
        model, processor, records, prompt=cfg.prompt, settings=settings, batch_size=cfg.batch_size, cache=cache
    )
    items = with_predictions(
        json.loads(Path(test_json).read_text()),
        {g["id"]: extract_answer(g["completion"]) for g in generations},
        {g["id"]: g["completion"] for g in generations},
    )
    predictions = out_dir / "predictions.json"
    predictions.write_text(json.dumps(items, indent=2, ensure_ascii=False) + "\n")
    scores = score_mmau_file(predictions)
    # The same outputs read by the answer letter alone, and how many name no option: both logged with the main rule.
    scores.update(other_readings(json.loads(Path(test_json).read_text()), records, generations))
    (out_dir / "scores.json").write_text(json.dumps(scores, indent=2, sort_keys=True) + "\n")
    plot_scores(scores, out_dir / "accuracy.png")
    tracker.set_tags({"scorer": SCORER_NAME, "extractor": EXTRACTOR_NAME, "test_set_sha256": scores["test_set_sha256"]})
    tracker.log_artifact(out_dir / "accuracy.png", "plots")
    tracker.log_artifact(predictions, "predictions")
    return scores


def write_accuracy_plot(scores: dict, path: Path = PLOTS / "evaluate" / "accuracy.json") -> None:
    """Accuracy per task and difficulty as a ``dvc plots`` file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            [{"group": f"{g}.{k}", "accuracy": v} for g in ("task", "difficulty") for k, v in scores[g].items()],
            indent=2,
        )
        + "\n"
    )


def main() -> None:
    cfg, tracking = stage_params("evaluate", "tracking")
    with stage_run(
        "evaluate", tracking, cfg=cfg, paper=PAPER, table=TABLE, row=ROW, deps=[cfg.model, cfg.test_manifest]
    ) as stage:
        scores = run(cfg, stage.tracker, Path(cfg.test_json))
        stage.metrics = flat_scores(scores)
    write_accuracy_plot(scores)
    print(f"evaluate: overall {scores['overall']:.1f}% on {scores['n']} items; task {scores['task']}")


if __name__ == "__main__":
    main()

"""Stage ``grpo``: the audio GRPO runs of papers 02 and 03, one DVC matrix row each.

Every row starts from ``init`` (also the reference policy when beta > 0) and trains with
:class:`~audioreason.training.grpo.AudioGRPOTrainer` and its paper's recipe
(``grpo.recipes``). Both recipes optimise the GRPO objective as the papers write it (paper 02
§3.3 eq. 2, paper 03 §III.B eq. 3): ``loss_type: grpo``, group-normalised advantages, the k3 KL
unweighted, no vLLM importance-sampling factor; the effective values are tagged on the run
(``grpo.loss_type`` ...).

- paper 02 (SightSound-R1 §3.3, §4.1): the think/answer prompt, reward = accuracy against
  the vision teacher's unanimous label + format (r in {0, 1, 2}); 8 completions,
  temperature 1.0, beta 0.04, lr 1e-6, full parameters. Rows ``sightsound_r1`` (from
  ``tts_agfv_sft``) and ``grpo_distilled_label`` (from ``sft_distilled_label``), both
  evaluated as Table 2 (AVQA val, MMAU test-mini, MUSIC-AVQA test). The best checkpoint on
  AVQA val is the row (§4.1: "Best checkpoints are selected by validation accuracy for both
  stages").
- paper 03 (Omni-R1 §III, §IV): "<question> Please choose the answer from the following
  options: <choices>", reward = accuracy only; 4 responses, temperature 1.2, beta 0.04,
  lr 1e-6. Qwen2.5-Omni rows ``base`` (evaluated only), ``grpo_avqa``, ``grpo_avqa_gpt``,
  ``grpo_vggs_gpt`` (TABLE I), ``grpo_avqa_text_only`` and ``grpo_arc_easy`` (trained without
  audio, TABLE II); Qwen2-Audio rows ``qwen2_audio_base``, ``qwen2_audio_grpo_avqa``,
  ``qwen2_audio_grpo_avqa_text_only``, ``qwen2_audio_grpo_arc_easy`` (TABLE II). Each is
  evaluated on MMAU test-mini with and without audio at inference; the TABLE I rows also answer
  MMAU test-full, whose answers are hidden: ``mmau_test_full_submission.json`` is the file to
  upload, not a score. The paper states no checkpoint selection, so the final step is the row;
  the checkpoint best on AVQA val is kept beside it as an extension (``model_selected``, metrics
  ``selected.*``: its step, AVQA val and MMAU test-mini scores).

Checkpoints are saved every ``save_steps`` (and at the last step); the row's model becomes
``outputs/grpo/<row>/model`` (chosen on AVQA val, the validation split, never a test set, where
the recipe's ``selection`` is ``best_val``). Per-reward means, KL, completion lengths and the
GRPO loss are logged at every logging step; the evaluation scores end the run, next to the
paper's numbers. One MLflow run per row, ``<paper>.<table>.<row>.grpo``. Launch with
``grpo.launch`` (``torchrun`` / ``accelerate launch`` with a DeepSpeed config at paper scale).

    dvc repro grpo            # or: python -m audioreason.stages.grpo --row grpo_avqa
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from audioreason.config import GrpoConfig, GrpoRecipe, flatten
from audioreason.datasets.records import read_manifest
from audioreason.evaluation.generate import check_engine, load_eval_model, release
from audioreason.evaluation.paper_tables import paper_numbers
from audioreason.evaluation.suite import (
    checkpoint_step,
    eval_request,
    evaluate_suite,
    export_best_checkpoint,
    finish_row,
    mmau_scores,
    validation_accuracy,
)
from audioreason.models.factory import load_checkpoint, load_model
from audioreason.pipeline import METRICS, OUTPUTS, matrix_row, read_jsonl, stage_params
from audioreason.plots import plot_loss, plot_rewards
from audioreason.tracking import NullTracker, is_main_process, stage_run
from audioreason.training.callbacks import TrackerCallback

OUT = OUTPUTS / "grpo"
SELECTED = "model_selected"
"""Where a ``final``-selection row keeps its AVQA-val-best checkpoint (an extension of the paper's row)."""
SUBMISSION = "mmau_test_full_submission.json"
"""The MMAU test-full answers of a row, in the official JSON format (answers hidden: upload, no score here)."""


def training_records(cfg: GrpoConfig, data: str):
    """The questions a row trains on, and the per-question label its reward compares against."""
    if data != "teacher_label":
        return read_manifest(cfg.manifests[data]), None
    unanimous = {str(it["id"]): it["teacher_answer"] for it in read_jsonl(Path(cfg.teacher_labels))}
    records = [r for r in read_manifest(cfg.manifests["avqa"]) if r.id in unanimous]
    return records, unanimous


def export_row_model(cfg: GrpoConfig, recipe: GrpoRecipe, ckpt_dir: Path, out_dir: Path, tracker) -> dict:
    """The row's ``out_dir/model`` by the recipe's ``selection``; the checkpoints are deleted afterwards.

    ``best_val``: the checkpoint best on AVQA val (``selection.*`` metrics). ``final``: the last
    step's checkpoint (``final.step``); the AVQA-val-best one goes to ``out_dir/model_selected``
    with its metrics under ``selected.*`` (``selected.step``, ``selected.avqa_val.accuracy``).

    Raises:
        ValueError: no checkpoint was saved.
    """
    validate = validation_accuracy(cfg.eval, recipe.prompt)
    if recipe.selection == "best_val":
        return export_best_checkpoint(ckpt_dir, out_dir, validate, tracker)
    checkpoints = sorted(ckpt_dir.glob("checkpoint-*"), key=checkpoint_step)
    if not checkpoints:
        raise ValueError(f"{ckpt_dir}: no checkpoint saved; set save_steps so that training saves at least one")
    model, processor = load_checkpoint(checkpoints[-1])
    model.save_pretrained(out_dir / "model")
    processor.save_pretrained(out_dir / "model")
    del model
    staging = out_dir / "selection"
    selected = export_best_checkpoint(ckpt_dir, staging, validate, tracker)
    shutil.rmtree(out_dir / SELECTED, ignore_errors=True)
    (staging / "model").rename(out_dir / SELECTED)
    shutil.rmtree(staging)
    renamed = {f"selected.{k.removeprefix('selection.')}": v for k, v in selected.items()}
    return {"final.step": checkpoint_step(checkpoints[-1]), **renamed}


def evaluate_selected(cfg: GrpoConfig, recipe: GrpoRecipe, metrics: dict, out_dir: Path) -> dict:
    """MMAU test-mini scores of ``model_selected`` as ``selected.mmau.*``; the final model's when both are one step."""
    if metrics["selected.step"] == metrics["final.step"]:
        return {f"selected.{k}": v for k, v in metrics.items() if k.startswith("mmau.")}
    model, processor = load_eval_model(str(out_dir / SELECTED), cfg.eval, "grpo.eval")
    cache = out_dir / "generations" / "selected_mmau.jsonl"
    cache.unlink(missing_ok=True)
    try:
        return mmau_scores(
            model,
            processor,
            read_manifest(cfg.eval.mmau_manifest),
            cfg.eval.mmau_json,
            eval_request(cfg.eval, recipe.prompt),
            "selected.mmau",
            cache,
        )
    finally:
        release(model)


def mmau_full_submission(model, processor, cfg: GrpoConfig, prompt: str, out_dir: Path, tracker) -> dict:
    """Answer MMAU test-full and write ``out_dir/mmau_test_full_submission.json`` (paper 03 TABLE I, Test-full).

    The answers are hidden, so nothing is scored: the file is what a user uploads to the
    benchmark's server. Returns ``mmau_full.submitted`` (answers written) and
    ``mmau_full.no_option`` (extracted answers that name no option, as the scorer's string rule reads them).
    """
    from audioreason.evaluation.generate import generate_answers
    from audioreason.evaluation.mmau import extract_answer, mmau_is_correct, mmau_test_set_sha256, write_submission

    records = read_manifest(cfg.test_full.manifest)
    items = json.loads(Path(cfg.test_full.json).read_text())
    cache = out_dir / "generations" / "mmau_test_full.jsonl"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.unlink(missing_ok=True)  # a new model: nothing cached applies
    gens = generate_answers(
        model,
        processor,
        records,
        prompt=prompt,
        settings=cfg.eval.generation,
        batch_size=cfg.eval.batch_size,
        cache=cache,
    )
    answers = {g["id"]: extract_answer(g["completion"]) for g in gens}
    path = out_dir / SUBMISSION
    write_submission(items, answers, path)
    tracker.set_tags({"test_full_sha256": mmau_test_set_sha256(items)})
    tracker.log_artifact(path, "submission")
    no_option = sum(not any(mmau_is_correct(answers[r.id], c, r.choices) for c in r.choices) for r in records)
    return {"mmau_full.submitted": len(answers), "mmau_full.no_option": no_option}


def train_row(cfg: GrpoConfig, row: str, out_dir: Path, tracker: NullTracker) -> dict:
    from audioreason.training.grpo import AudioGRPOTrainer, build_grpo_config, grpo_dataset, objective_tags
    from audioreason.training.rewards import reward_functions

    spec = cfg.rows[row]
    recipe = cfg.recipes[spec.paper]
    records, labels = training_records(cfg, spec.data)
    if not records:
        raise ValueError(f"grpo[{row}]: no training questions for data {spec.data!r}")
    model, processor = load_model(spec.init)
    ckpt = out_dir / "checkpoints"
    args = build_grpo_config({**recipe.trainer, **spec.trainer}, str(ckpt), where=f"grpo.rows.{row}.trainer")
    tracker.set_tags(objective_tags(args))
    callback = TrackerCallback(tracker)
    trainer = AudioGRPOTrainer(
        model=model,
        args=args,
        reward_funcs=reward_functions(recipe.rewards),
        train_dataset=grpo_dataset(records, recipe.prompt, with_audio=spec.with_audio, labels=labels),
        processing_class=processor,
        callbacks=[callback],
    )
    result = trainer.train()
    metrics = {
        "train_loss": result.training_loss,
        "steps": result.global_step,
        "train_questions": len(records),
        "audio_rows_in_loss": trainer.audio_rows_in_loss,
        "deepspeed_zero_stage": (
            trainer.accelerator.state.deepspeed_plugin.zero_stage if trainer.is_deepspeed_enabled else -1
        ),
    }
    rewards = [h for h in callback.history if "reward" in h]
    if rewards:
        metrics.update({"reward.first": rewards[0]["reward"], "reward.last": rewards[-1]["reward"]})
    if trainer.is_deepspeed_enabled:
        from transformers.integrations.deepspeed import unset_hf_deepspeed_config

        unset_hf_deepspeed_config()  # under ZeRO-3 every later from_pretrained would be partitioned
    if is_main_process():
        plot_rewards(callback.history, recipe.rewards, out_dir / "rewards.png")
        tracker.log_artifact(out_dir / "rewards.png", "plots")
        plot_loss(callback.history, out_dir / "loss.png", out_dir / "loss.csv")
        metrics.update(export_row_model(cfg, recipe, ckpt, out_dir, tracker))
    return metrics


def run(cfg: GrpoConfig, row: str, tracker: NullTracker, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    check_engine(cfg.eval, "grpo.eval")  # before hours of training, not after
    spec = cfg.rows[row]
    recipe = cfg.recipes[spec.paper]
    metrics = train_row(cfg, row, out_dir, tracker) if spec.train else {"steps": 0}
    if not is_main_process():
        return metrics  # every rank trains; rank 0 alone selects, evaluates and writes
    # The saved directory, not the trainer's model: vLLM (grpo.eval.engine) reads its weights from disk.
    model, processor = load_eval_model(str(out_dir / "model") if spec.train else spec.init, cfg.eval, "grpo.eval")
    metrics.update(
        evaluate_suite(
            model,
            processor,
            cfg.eval,
            recipe.prompt,
            out_dir,
            tracker,
            music_avqa=recipe.eval_music_avqa,
            no_audio=recipe.eval_no_audio,
        )
    )
    if spec.table in recipe.eval_mmau_full_tables:
        metrics.update(mmau_full_submission(model, processor, cfg, recipe.prompt, out_dir, tracker))
    release(model)  # the extension below loads its own (under vLLM: a second engine, which needs the memory)
    del model
    if "selected.step" in metrics:
        metrics.update(evaluate_selected(cfg, recipe, metrics, out_dir))
    return finish_row(
        metrics,
        paper_numbers(spec.paper, row, measured=metrics),
        (
            "avqa_val.accuracy",
            "mmau.sound",
            "mmau.music",
            "mmau.speech",
            "mmau.average",
            "mmau_no_audio.average",
            "music_avqa.average",
        ),
        f"{spec.paper} {row} (tiny)",
        out_dir,
        tracker,
    )


def row_params(cfg: GrpoConfig, row: str) -> dict:
    """What a row's run logs: the shared keys, its row (``grpo.row.*``) and its paper's recipe (``grpo.recipe.*``)."""
    spec = cfg.rows[row]
    params = {k: v for k, v in flatten(cfg, "grpo").items() if not k.startswith(("grpo.rows.", "grpo.recipes."))}
    return {**params, **flatten(spec, "grpo.row"), **flatten(cfg.recipes[spec.paper], "grpo.recipe")}


def row_deps(cfg: GrpoConfig, row: str) -> list[str]:
    """The inputs whose DVC hashes a row's run records: its initial model, its training data, MMAU test-full."""
    spec = cfg.rows[row]
    deps = [spec.init] + ([cfg.manifests[spec.data]] if spec.data in cfg.manifests else [cfg.teacher_labels])
    if spec.table in cfg.recipes[spec.paper].eval_mmau_full_tables:
        deps += [cfg.test_full.manifest, cfg.test_full.json]
    return deps


def summary(m: dict) -> str:
    return (
        f"MMAU avg {m['mmau.average']:.1f}"
        + (f" (no audio {m['mmau_no_audio.average']:.1f})" if "mmau_no_audio.average" in m else "")
        + (f"; AVQA val {m['avqa_val.accuracy']:.1f}" if "avqa_val.accuracy" in m else "")
    )


def main(argv: list[str] | None = None) -> None:
    cfg, tracking = stage_params("grpo", "tracking")
    row = matrix_row("grpo", cfg.rows, argv, description=__doc__.splitlines()[0])
    spec = cfg.rows[row]
    deps = row_deps(cfg, row)
    with stage_run(
        "grpo",
        tracking,
        paper=spec.paper,
        table=spec.table,
        row=row,
        params=row_params(cfg, row),
        deps=deps,
        metrics_path=METRICS / "grpo" / f"{row}.json",
    ) as stage:
        stage.metrics = run(cfg, row, stage.tracker, OUT / row)
    if is_main_process():
        print(f"grpo[{row}]: {summary(stage.metrics)}")


if __name__ == "__main__":
    main()

"""Stage ``grpo``: the audio GRPO runs of papers 02 and 03, one DVC matrix row each.

Every row starts from ``init`` (also the reference policy when beta > 0) and trains with
:class:`~audioreason.training.grpo.AudioGRPOTrainer` and its paper's recipe
(``grpo.recipes``):

- paper 02 (SightSound-R1 §3.3, §4.1): the think/answer prompt, reward = accuracy against
  the vision teacher's unanimous label + format (r in {0, 1, 2}); 8 completions,
  temperature 1.0, beta 0.04, lr 1e-6, full parameters. Rows ``sightsound_r1`` (from
  ``tts_agfv_sft``) and ``grpo_distilled_label`` (from ``sft_distilled_label``), both
  evaluated as Table 2 (AVQA val, MMAU test-mini, MUSIC-AVQA test).
- paper 03 (Omni-R1 §III, §IV): "<question> Please choose the answer from the following
  options: <choices>", reward = accuracy only; 4 responses, temperature 1.2, beta 0.04,
  lr 1e-6. Rows ``base`` (evaluated only), ``grpo_avqa``, ``grpo_avqa_gpt``,
  ``grpo_vggs_gpt`` and ``grpo_avqa_text_only`` (trained without the audio), each
  evaluated on MMAU test-mini with and without audio at inference (Tables I-II).

Checkpoints are saved every ``save_steps`` and the best on AVQA val (the validation
split, never a test set) becomes ``outputs/grpo/<row>/model``. Per-reward means, KL,
completion lengths and the GRPO loss are logged at every logging step; the evaluation
scores end the run, next to the paper's numbers. One MLflow run per row,
``<paper>.<table>.<row>.grpo``. Launch with ``grpo.launch`` (``torchrun`` /
``accelerate launch`` with a DeepSpeed config at paper scale).

    dvc repro grpo            # or: python -m audioreason.stages.grpo --row grpo_avqa
"""

from __future__ import annotations

from pathlib import Path

from audioreason.config import GrpoConfig, flatten
from audioreason.datasets.records import read_manifest
from audioreason.evaluation.paper_tables import paper_numbers
from audioreason.evaluation.suite import evaluate_suite, export_best_checkpoint, finish_row, validation_accuracy
from audioreason.models.factory import load_model
from audioreason.pipeline import METRICS, OUTPUTS, matrix_row, read_jsonl, stage_params
from audioreason.plots import plot_loss, plot_rewards
from audioreason.tracking import NullTracker, is_main_process, stage_run
from audioreason.training.callbacks import TrackerCallback

OUT = OUTPUTS / "grpo"


def training_records(cfg: GrpoConfig, data: str):
    """The questions a row trains on, and the per-question label its reward compares against."""
    if data != "teacher_label":
        return read_manifest(cfg.manifests[data]), None
    unanimous = {str(it["id"]): it["teacher_answer"] for it in read_jsonl(Path(cfg.teacher_labels))}
    records = [r for r in read_manifest(cfg.manifests["avqa"]) if r.id in unanimous]
    return records, unanimous


def train_row(cfg: GrpoConfig, row: str, out_dir: Path, tracker: NullTracker) -> dict:
    from audioreason.training.grpo import AudioGRPOTrainer, build_grpo_config, grpo_dataset
    from audioreason.training.rewards import reward_functions

    spec = cfg.rows[row]
    recipe = cfg.recipes[spec.paper]
    records, labels = training_records(cfg, spec.data)
    if not records:
        raise ValueError(f"grpo[{row}]: no training questions for data {spec.data!r}")
    model, processor = load_model(spec.init)
    ckpt = out_dir / "checkpoints"
    args = build_grpo_config({**recipe.trainer, **spec.trainer}, str(ckpt), where=f"grpo.rows.{row}.trainer")
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
        metrics.update(export_best_checkpoint(ckpt, out_dir, validation_accuracy(cfg.eval, recipe.prompt), tracker))
    return metrics


def run(cfg: GrpoConfig, row: str, tracker: NullTracker, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = cfg.rows[row]
    recipe = cfg.recipes[spec.paper]
    metrics = train_row(cfg, row, out_dir, tracker) if spec.train else {"steps": 0}
    if not is_main_process():
        return metrics  # every rank trains; rank 0 alone selects, evaluates and writes
    model, processor = load_model(str(out_dir / "model") if spec.train else spec.init)
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
    deps = [spec.init] + ([cfg.manifests[spec.data]] if spec.data in cfg.manifests else [cfg.teacher_labels])
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

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

import argparse
from pathlib import Path

from audioreason.config import GrpoConfig, flatten
from audioreason.datasets.records import read_manifest
from audioreason.models.factory import load_model
from audioreason.stages.common import OUTPUTS, read_jsonl, sections
from audioreason.stages.finetune import TrackerCallback, finish_row, is_main_process, plot_loss, row_stage
from audioreason.stages.row_selection import evaluate_suite, export_best_checkpoint, validation_accuracy
from audioreason.stages.sft_cot import PAPER_TABLE2, TABLE2_KEYS
from audioreason.tracking import NullTracker

OUT = OUTPUTS / "grpo"

# Paper 03 Table I (MMAU test-mini sound / music / speech / avg) and Table II (avg with / without audio).
PAPER_OMNI = {
    "base": {"mmau.sound": 69.4, "mmau.music": 66.8, "mmau.speech": 61.6, "mmau.average": 65.9,
             "mmau_no_audio.average": 49.3},
    "grpo_avqa": {"mmau.sound": 70.9, "mmau.music": 70.1, "mmau.speech": 64.9, "mmau.average": 68.6,
                  "mmau_no_audio.average": 51.7},
    "grpo_avqa_gpt": {"mmau.sound": 72.4, "mmau.music": 73.1, "mmau.speech": 64.3, "mmau.average": 69.9},
    "grpo_vggs_gpt": {"mmau.sound": 73.6, "mmau.music": 74.3, "mmau.speech": 66.1, "mmau.average": 71.3},
    "grpo_avqa_text_only": {"mmau.average": 65.6, "mmau_no_audio.average": 49.2},
}


def paper_numbers(row: str) -> dict[str, float]:
    if row in PAPER_TABLE2:
        return {f"paper.{k}": v for k, v in zip(TABLE2_KEYS, PAPER_TABLE2[row])}
    return {f"paper.{k}": v for k, v in PAPER_OMNI.get(row, {}).items()}


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
    trainer = AudioGRPOTrainer(model=model, args=args, reward_funcs=reward_functions(recipe.rewards),
                               train_dataset=grpo_dataset(records, recipe.prompt, with_audio=spec.with_audio,
                                                          labels=labels),
                               processing_class=processor, callbacks=[callback])
    result = trainer.train()
    metrics = {"train_loss": result.training_loss, "steps": result.global_step, "train_questions": len(records),
               "audio_rows_in_loss": trainer.audio_rows_in_loss,
               "deepspeed_zero_stage": (trainer.accelerator.state.deepspeed_plugin.zero_stage
                                        if trainer.is_deepspeed_enabled else -1)}
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


def plot_rewards(history: list[dict], names: list[str], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    for name in names:
        points = [(h["step"], h[f"rewards/{name}/mean"]) for h in history if f"rewards/{name}/mean" in h]
        if points:
            ax.plot(*zip(*points), marker="o", label=name)
    kl = [(h["step"], h["kl"]) for h in history if "kl" in h]
    if kl:
        ax.plot(*zip(*kl), ls="--", color="#888", label="kl")
    ax.set(xlabel="step", ylabel="mean reward", title="GRPO rewards")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def run(cfg: GrpoConfig, row: str, tracker: NullTracker, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = cfg.rows[row]
    recipe = cfg.recipes[spec.paper]
    metrics = train_row(cfg, row, out_dir, tracker) if spec.train else {"steps": 0}
    if not is_main_process():
        return metrics  # every rank trains; rank 0 alone selects, evaluates and writes
    model, processor = load_model(str(out_dir / "model") if spec.train else spec.init)
    metrics.update(evaluate_suite(model, processor, cfg.eval, recipe.prompt, out_dir, tracker,
                                  music_avqa=recipe.eval_music_avqa, no_audio=recipe.eval_no_audio))
    return finish_row(metrics, paper_numbers(row), ("avqa_val.accuracy", "mmau.sound", "mmau.music", "mmau.speech",
                                                    "mmau.average", "mmau_no_audio.average", "music_avqa.average"),
                      f"{spec.paper} {row} (tiny)", out_dir, tracker)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", required=True)
    row = parser.parse_args(argv).row
    cfg, tracking = sections("grpo", "tracking").values()
    if row not in cfg.rows:
        raise SystemExit(f"grpo: no row {row!r} in grpo.rows ({', '.join(cfg.rows)})")
    spec = cfg.rows[row]
    recipe = cfg.recipes[spec.paper]
    params = {k: v for k, v in flatten(cfg, "grpo").items()
              if not k.startswith(("grpo.rows.", "grpo.recipes."))}
    params.update(flatten(spec, "grpo.row"))
    params.update(flatten(recipe, "grpo.recipe"))
    deps = [spec.init] + ([cfg.manifests[spec.data]] if spec.data in cfg.manifests else [cfg.teacher_labels])
    row_stage("grpo", row, spec.paper, spec.table, params, deps, tracking,
              lambda tracker: run(cfg, row, tracker, OUT / row),
              lambda m: (f"MMAU avg {m['mmau.average']:.1f}"
                         + (f" (no audio {m['mmau_no_audio.average']:.1f})" if "mmau_no_audio.average" in m else "")
                         + (f"; AVQA val {m['avqa_val.accuracy']:.1f}" if "avqa_val.accuracy" in m else "")))


if __name__ == "__main__":
    main()

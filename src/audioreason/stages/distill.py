"""Stage ``distill``: one row of paper 01 Table 1 (a DVC matrix over ``distill.rows``).

Trains the audio student on D_text with the joint loss of eq. 9 as the row sets it
(:mod:`audioreason.training.distill`): ``sft_only`` (L_SFT), ``top_kd`` (+ top-layer txt
KD), ``skip_kd`` (+ 1-in-k layer KD, eq. 7), ``layer_kd`` (+ every layer, eq. 4),
``layer_ac_kd`` (+ acoustic KD against S0, eq. 8); ``baseline`` trains nothing. Then
evaluates the row as Table 1 does: the MMAU-format test-mini (sound / music / speech /
average accuracy, official rule, CoTA answer letter mapped to its option) and IEMOCAP
session 5 (unweighted accuracy over angry / happy / neutral / sad).

Training checkpoints live in ``outputs/distill/<row>/checkpoints`` (a DVC ``persist``
output): a run interrupted after a checkpoint resumes from it, into the same MLflow run.
The exported student (``outputs/distill/<row>/model``) holds no projection W_i.

One MLflow run per row, ``p01.table1.<row>.distill``, tagged ``paper=p01``, ``table=table1``,
``row=<row>``: every loss term per logged step, the MMAU and SER scores.

    dvc repro distill             # every row; one: dvc repro distill@top_kd
    python -m audioreason.stages.distill --row top_kd
    torchrun --nproc_per_node=8 -m audioreason.stages.distill --row top_kd   # paper scale (distill.launch)
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from audioreason.config import DistillConfig, flatten
from audioreason.datasets.records import QARecord, Utterance, read_manifest
from audioreason.evaluation.cota import EXTRACTOR_NAME, extract_cota_answer, extract_letter_answer
from audioreason.evaluation.generate import check_engine, generate_answers, load_eval_model, release
from audioreason.evaluation.mmau import SCORER_NAME, score_mmau_file, with_predictions
from audioreason.evaluation.paper_tables import paper_numbers
from audioreason.evaluation.ser import UNPARSED, plot_confusion, score_ser
from audioreason.evaluation.suite import finish_row
from audioreason.models.factory import load_model
from audioreason.pipeline import METRICS, OUTPUTS, matrix_row, read_jsonl, stage_params
from audioreason.tracking import NullTracker, is_main_process, stage_run
from audioreason.training.captions import EMOTION_WORDS
from audioreason.training.prompts import COTA_SYSTEM, cota_question

OUT = OUTPUTS / "distill"
PAPER, TABLE = "p01", "table1"
#: Table 1's columns.
TABLE1_KEYS = ("mmau.sound", "mmau.music", "mmau.speech", "mmau.average", "ser.ua")


def cota_records(records: list[QARecord]) -> list[QARecord]:
    """The questions as CoTA puts them: options inline after the question."""
    return [
        QARecord(
            r.id,
            r.dataset,
            r.split,
            r.audio,
            cota_question(r.question, r.choices),
            r.choices,
            r.answer,
            r.task,
            r.category,
            r.sub_category,
            r.difficulty,
            r.source,
        )
        for r in records
    ]


def ser_records(manifest: str, question: str) -> list[QARecord]:
    """IEMOCAP session 5 (the ``test`` split) as 4-way emotion questions."""
    choices = tuple(EMOTION_WORDS[k] for k in sorted(EMOTION_WORDS))
    return [
        QARecord(u.id, "iemocap", u.split, u.audio, question, choices, EMOTION_WORDS[u.label])
        for u in read_manifest(manifest, Utterance)
        if u.split == "test"
    ]


def evaluate_row(model, processor, cfg: DistillConfig, out_dir: Path, tracker: NullTracker) -> dict:
    """Table 1's two evaluations of one model."""
    ev = cfg.eval
    settings = ev.generation
    mmau = read_manifest(ev.mmau_manifest)
    gens = generate_answers(
        model,
        processor,
        cota_records(mmau),
        prompt="{question}",
        settings=settings,
        batch_size=ev.batch_size,
        system=COTA_SYSTEM,
    )
    test_items = json.loads(Path(ev.mmau_json).read_text())
    raw = {g["id"]: g["completion"] for g in gens}
    items = with_predictions(
        test_items, {g["id"]: extract_cota_answer(g["completion"], r.choices) for g, r in zip(gens, mmau)}, raw
    )
    predictions = out_dir / "mmau_predictions.json"
    predictions.write_text(json.dumps(items, indent=1, ensure_ascii=False) + "\n")
    scores = score_mmau_file(predictions)
    # The same outputs read by the answer letter alone (reported next to the main rule).
    letter_file = out_dir / "mmau_predictions_letter.json"
    letter_file.write_text(
        json.dumps(
            with_predictions(
                test_items,
                {g["id"]: extract_letter_answer(g["completion"], r.choices) or "" for g, r in zip(gens, mmau)},
            ),
            ensure_ascii=False,
        )
        + "\n"
    )
    letter_scores = score_mmau_file(letter_file)
    ser = ser_records(ev.ser_manifest, ev.ser_question)
    ser_gens = generate_answers(
        model,
        processor,
        cota_records(ser),
        prompt="{question}",
        settings=settings,
        batch_size=ev.batch_size,
        system=COTA_SYSTEM,
    )
    picks = [extract_cota_answer(g["completion"], r.choices) for g, r in zip(ser_gens, ser)]
    classes = [EMOTION_WORDS[k] for k in sorted(EMOTION_WORDS)]
    ua = score_ser([r.answer for r in ser], picks, classes)
    ua_letter = score_ser(
        [r.answer for r in ser],
        [extract_letter_answer(g["completion"], r.choices) or "" for g, r in zip(ser_gens, ser)],
        classes,
    )
    ser_scores = score_ser([r.answer for r in ser], [p if p in classes else UNPARSED for p in picks], classes)
    tracker.log_artifact(plot_confusion(ser_scores, out_dir / "ser_confusion.png", "IEMOCAP session 5"), "plots")
    (out_dir / "ser_predictions.json").write_text(
        json.dumps(
            [
                {"id": r.id, "answer": r.answer, "prediction": p, "raw_completion": g["completion"]}
                for r, p, g in zip(ser, picks, ser_gens)
            ],
            indent=1,
        )
        + "\n"
    )
    task = scores["task"]
    result = {
        "mmau.sound": task.get("sound", 0.0),
        "mmau.music": task.get("music", 0.0),
        "mmau.speech": task.get("speech", 0.0),
        "mmau.average": scores["overall"],
        "mmau.n": scores["n"],
        "ser.ua": ua["ua"],
        "ser.wa": ua["wa"],
        "ser.n": ua["n"],
        "letter.mmau.average": letter_scores["overall"],
        "letter.ser.ua": ua_letter["ua"],
        "mmau.no_option": sum(1 for i in items if "model_output" in i and i["model_output"] not in i["choices"]),
    }
    tracker.set_tags({"scorer": SCORER_NAME, "extractor": EXTRACTOR_NAME, "test_set_sha256": scores["test_set_sha256"]})
    return result


def build_trainer(cfg: DistillConfig, row_name: str, out_dir: Path, tracker: NullTracker, *, dtype=None):
    """The row's :class:`~audioreason.training.distill.KDTrainer`, ready to train (what :func:`train_row` runs).

    The student and the teacher need not share a vocabulary: the collator checks, per record, that
    every response id is the same token to both tokenizers and lies within the logits both output
    (Qwen2.5-Omni-7B and Qwen3-8B share the Qwen2 BPE, not their added tokens).

    Args:
        dtype: The weights' dtype when loaded (fp32 unless given; ``trainer.bf16`` then runs mixed precision).

    Returns:
        ``(trainer, module, processor, callback, pairs)``.
    """
    import torch
    from datasets import Dataset
    from transformers import TrainingArguments, set_seed

    from audioreason.config import ConfigError
    from audioreason.losses.layer_map import LayerProjections, layer_map
    from audioreason.training.callbacks import TrackerCallback
    from audioreason.training.distill import (
        DistillationModule,
        DistillCollator,
        KDSettings,
        KDTrainer,
        LossWeights,
        output_width,
    )

    row = cfg.rows[row_name]
    dtype = dtype or torch.float32
    student, processor = load_model(cfg.student, dtype=dtype)
    teacher, teacher_tok = load_model(cfg.teacher, dtype=dtype)
    s_cfg, t_cfg = student.config.get_text_config(), teacher.config.get_text_config()
    pairs = layer_map(row.layers, s_cfg.num_hidden_layers, t_cfg.num_hidden_layers, cfg.skip_k)
    try:
        args = TrainingArguments(output_dir=str(out_dir / "checkpoints"), remove_unused_columns=False, **cfg.trainer)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"distill.trainer: {e}") from e
    set_seed(args.seed)  # the W_i are initialised here, before the Trainer seeds itself: same seed, same W_i
    projections = LayerProjections(pairs, t_cfg.hidden_size, s_cfg.hidden_size).to(dtype)
    module = DistillationModule(student, projections)
    acoustic = cfg.alpha_ac if row.acoustic else 0.0
    weights = LossWeights(
        top=row.top,
        layer=cfg.alpha_layer if pairs else 0.0,
        acoustic=acoustic,
        sft=cfg.alpha_sft,
        acoustic_encoder=acoustic if cfg.acoustic_encoder_layers else 0.0,
    )
    kd = KDSettings(cfg.divergence, cfg.beta, cfg.temperature, cfg.hidden_kd, cfg.chunk_size)
    callback = TrackerCallback(tracker)
    collator = DistillCollator(
        processor,
        teacher_tok,
        cfg.teacher_prompt,
        cfg.max_length,
        vocab_limit=min(output_width(student), output_width(teacher)),
    )
    trainer = KDTrainer(
        model=module,
        args=args,
        train_dataset=Dataset.from_list(read_jsonl(Path(cfg.train))),
        data_collator=collator,
        teacher=teacher,
        weights=weights,
        kd=kd,
        callbacks=[callback],
    )
    return trainer, module, processor, callback, pairs


def train_row(cfg: DistillConfig, row_name: str, out_dir: Path, tracker: NullTracker):
    """Distil one row; returns the trained student, its processor and the training metrics."""
    from transformers.trainer_utils import get_last_checkpoint

    from audioreason.plots import plot_loss

    trainer, module, processor, callback, pairs = build_trainer(cfg, row_name, out_dir, tracker)
    weights, ckpt = trainer.weights, out_dir / "checkpoints"
    last = get_last_checkpoint(str(ckpt)) if ckpt.is_dir() else None
    result = trainer.train(resume_from_checkpoint=last)
    # Under ZeRO-3 each rank holds a shard: gather the full weights before saving.
    state = trainer.accelerator.get_state_dict(trainer.model_wrapped) if trainer.is_deepspeed_enabled else None
    if trainer.args.process_index == 0:
        module.export(out_dir / "model", processor, state_dict=state)
        shutil.rmtree(ckpt, ignore_errors=True)
        plot_loss(callback.history, out_dir / "loss.png", out_dir / "loss.csv")
        tracker.log_artifact(out_dir / "loss.png", "plots")
    metrics = {
        "train_loss": result.training_loss,
        "steps": result.global_step,
        "resumed_from_step": int(Path(last).name.split("-")[-1]) if last else 0,
        "layer_pairs": len(pairs),
        "alpha_layer_used": weights.layer,
        "alpha_ac_used": weights.acoustic,
        "alpha_ac_encoder_used": weights.acoustic_encoder,
        "deepspeed_zero_stage": (
            trainer.accelerator.state.deepspeed_plugin.zero_stage if trainer.is_deepspeed_enabled else -1
        ),
    }
    return module.student.eval(), processor, metrics


def run(cfg: DistillConfig, row_name: str, tracker: NullTracker, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    check_engine(cfg.eval, "distill.eval")  # before hours of training, not after
    row = cfg.rows[row_name]
    if row.train:
        model, processor, metrics = train_row(cfg, row_name, out_dir, tracker)
    else:
        model, processor, metrics = None, None, {"steps": 0}
    if not is_main_process():
        return metrics  # under torchrun every rank trains; rank 0 alone evaluates and writes
    if model is None or cfg.eval.engine == "vllm":
        # vLLM (distill.eval.engine) reads the exported student from disk, not the trained one in memory.
        del model
        path = str(out_dir / "model") if row.train else cfg.student
        model, processor = load_eval_model(path, cfg.eval, "distill.eval")
    metrics.update(evaluate_row(model, processor, cfg, out_dir, tracker))
    release(model)
    return finish_row(
        metrics,
        paper_numbers(PAPER, row_name, measured=metrics),
        TABLE1_KEYS,
        f"p01 Table 1, {row_name} (tiny)",
        out_dir,
        tracker,
    )


RESUME_FILE = "resume.json"


def params_fingerprint(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def resumable_run(ckpt_dir: Path, params: dict) -> str | None:
    """The MLflow run to continue, when ``ckpt_dir`` holds a checkpoint trained with these very params.

    Checkpoints of other params (or with nothing to resume) are deleted: resuming them would
    mix two configurations in one model.
    """
    info = ckpt_dir / RESUME_FILE
    if info.is_file() and any(ckpt_dir.glob("checkpoint-*")):
        saved = json.loads(info.read_text())
        if saved.get("params") == params_fingerprint(params):
            return saved.get("run_id")
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return None


def row_params(cfg: DistillConfig, row_name: str) -> dict:
    """What a row's run logs: the shared keys and its row (``distill.row.*``)."""
    params = {k: v for k, v in flatten(cfg, "distill").items() if not k.startswith("distill.rows.")}
    return {**params, **flatten(cfg.rows[row_name], "distill.row")}


def remember_run(ckpt_dir: Path, run_id: str, params: dict) -> None:
    """Write :data:`RESUME_FILE`: the run and params fingerprint a resumed training continues."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    (ckpt_dir / RESUME_FILE).write_text(json.dumps({"run_id": run_id, "params": params_fingerprint(params)}) + "\n")


def main(argv: list[str] | None = None) -> None:
    cfg, tracking = stage_params("distill", "tracking")
    row = matrix_row("distill", cfg.rows, argv, description=__doc__.splitlines()[0])
    out_dir, params = OUT / row, row_params(cfg, row)
    with stage_run(
        "distill",
        tracking,
        paper=PAPER,
        table=TABLE,
        row=row,
        params=params,
        deps=[cfg.student, cfg.teacher, cfg.train],
        metrics_path=METRICS / "distill" / f"{row}.json",
        resume_run_id=resumable_run(out_dir / "checkpoints", params),
    ) as stage:
        if cfg.rows[row].train and is_main_process():
            remember_run(out_dir / "checkpoints", stage.tracker.run_id, params)
        stage.metrics = run(cfg, row, stage.tracker, out_dir)
    if is_main_process():
        m = stage.metrics
        print(
            f"distill[{row}]: MMAU {m['mmau.sound']:.1f} / {m['mmau.music']:.1f} / {m['mmau.speech']:.1f} "
            f"avg {m['mmau.average']:.1f}; SER UA {m['ser.ua']:.1f}"
        )


if __name__ == "__main__":
    main()

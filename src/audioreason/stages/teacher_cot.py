"""Stage ``teacher_cot``: vision-teacher chains of thought with test-time scaling (paper 02 §3.1).

For every AVQA training question, a vision-language teacher watches the silent video
(``teacher_cot.video_dir``) with the audio-focused prompt P_audio and samples n traces
R(v, q). q is the question as AVQA asks it about the video (the record's
``extra["question_text"]``; §4.1: "retaining paired silent-video prompts for LVLM
reasoning"), not the audio rewrite the student is asked (``question``). Each trace's
answer is extracted (``<answer>`` content matched to an option); an item joins D_reason
when all n answers are the same option (|unique(A)| = 1). A trace whose answer cannot be
read counts as a disagreement and is counted per reason.

Writes ``traces.jsonl`` (every item: the student's audio question, the teacher's video
question, its n traces and answers, whether unanimous), ``d_reason.jsonl`` (the
unanimous items) and metrics: the unanimity rate and the teacher's accuracy against the
AVQA label, on all items (first sample: no test-time scaling) and on the unanimous ones.

One MLflow run, ``p02.data.teacher_cot.teacher_cot``.

    dvc repro teacher_cot     # or: python -m audioreason.stages.teacher_cot
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from audioreason.config import TeacherCotConfig, flatten
from audioreason.datasets.records import QARecord, read_manifest
from audioreason.pipeline import GENERATIONS, OUTPUTS, PARAMS_FILE, stage_params, write_jsonl
from audioreason.plots import bar_plot
from audioreason.teachers.backends import load_backend
from audioreason.teachers.base import ChatRequest, SamplingParams, user_turn
from audioreason.teachers.cache import generate_cached
from audioreason.teachers.oracle import TEACHER_COT
from audioreason.teachers.parsing import extract_answer_tag, match_choice
from audioreason.tracking import NullTracker, stage_run

OUT = OUTPUTS / "teacher_cot"
PAPER = "p02"


def video_path(r: QARecord, video_dir: str) -> str | None:
    if not video_dir:
        return None
    return str(Path(video_dir) / f"{r.extra['video_name']}.mp4")


def video_question(r: QARecord) -> str:
    """The question about the video that the vision teacher is asked (paper 02 §3.1: T(P_audio(v, q))).

    Raises:
        ValueError: the record keeps no original question (a manifest written before ingest kept it).
    """
    q = r.extra.get("question_text")
    if not isinstance(q, str) or not q.strip():
        raise ValueError(f"record {r.id}: no extra.question_text (AVQA's question about the video); rerun ingest")
    return q


def build_requests(records: list[QARecord], cfg: TeacherCotConfig) -> list[ChatRequest]:
    return [
        ChatRequest(
            item_id=r.id,
            video=video_path(r, cfg.video_dir),
            template=TEACHER_COT,
            messages=user_turn(cfg.prompt.format(question=video_question(r), choices=str(list(r.choices)))),
            meta={
                "record_id": r.id,
                "audio": r.audio,
                "question": r.question,
                "video_question": video_question(r),
                "choices": list(r.choices),
            },
        )
        for r in records
    ]


def read_trace(text: str, choices) -> tuple[str | None, str | None]:
    """(the option the trace answers, or None; the reason it cannot be read, or None)."""
    tag = extract_answer_tag(text)
    if tag is None:
        return None, "no <answer>" if text.strip() else "empty"
    choice = match_choice(tag, choices)
    return (choice, None) if choice is not None else (None, "answer not an option")


def run(
    cfg: TeacherCotConfig,
    backend,
    batch_size: int,
    tracker: NullTracker,
    out_dir: Path = OUT,
    cache: Path = GENERATIONS / "teacher_cot.jsonl",
) -> dict:
    records = read_manifest(cfg.manifest)
    if cfg.max_items:
        records = records[: cfg.max_items]
    sampling = SamplingParams.from_section(cfg.sampling)
    gens, stats = generate_cached(
        backend, build_requests(records, cfg), sampling, cache=cache, batch_size=batch_size, desc="teacher_cot"
    )
    rows, unreadable = [], Counter()
    per_type: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for r, g in zip(records, gens):
        answers = []
        for text in g.texts:
            choice, problem = read_trace(text, r.choices)
            answers.append(choice)
            if problem:
                unreadable[problem] += 1
        unanimous = answers[0] is not None and len(set(answers)) == 1
        rows.append(
            {
                "id": r.id,
                "audio": r.audio,
                "question": r.question,
                "video_question": video_question(r),
                "choices": list(r.choices),
                "answer": r.answer,
                "question_type": r.sub_category,
                "traces": g.texts,
                "trace_answers": answers,
                "unanimous": unanimous,
                "teacher_answer": answers[0] if unanimous else None,
            }
        )
        per_type[r.sub_category].append((unanimous, answers[0] == r.answer))
    kept = [row for row in rows if row["unanimous"]]
    write_jsonl(rows, out_dir / "traces.jsonl")
    write_jsonl(kept, out_dir / "d_reason.jsonl")
    n = len(rows)
    single_correct = sum(row["trace_answers"][0] == row["answer"] for row in rows)
    kept_correct = sum(row["teacher_answer"] == row["answer"] for row in kept)
    metrics = {
        "items": n,
        "samples_per_item": sampling.n,
        "unanimous": len(kept),
        "unanimity_rate": len(kept) / n if n else 0.0,
        "teacher_accuracy.single_sample": single_correct / n if n else 0.0,
        "teacher_accuracy.unanimous": kept_correct / len(kept) if kept else 0.0,
        "traces_unreadable": sum(unreadable.values()),
        **{
            f"traces_unreadable.{k.replace(' ', '_').replace('<', '').replace('>', '')}": v
            for k, v in sorted(unreadable.items())
        },
        **stats.metrics(),
    }
    for qt, vals in sorted(per_type.items()):
        metrics[f"unanimity_rate.{qt.replace(' ', '_')}"] = sum(u for u, _ in vals) / len(vals)
    png = bar_plot(
        {qt: sum(u for u, _ in v) / len(v) for qt, v in sorted(per_type.items())},
        out_dir / "unanimity.png",
        title=f"unanimous over n={sampling.n} samples, by question type",
        ylabel="share of questions",
        ylim=(0, 1.05),
    )
    tracker.log_artifact(png, "plots")
    return metrics


def main() -> None:
    cfg, tracking = stage_params("teacher_cot", "tracking")
    backend, spec = load_backend(PARAMS_FILE, cfg.teacher)
    params = {**flatten(cfg, "teacher_cot"), **flatten(spec, f"teachers.{cfg.teacher}")}
    with stage_run("teacher_cot", tracking, paper=PAPER, table="data", params=params, deps=[cfg.manifest]) as stage:
        stage.metrics = run(cfg, backend, spec.batch_size, stage.tracker)
    m = stage.metrics
    print(
        f"teacher_cot: {m['unanimous']}/{m['items']} unanimous (rate {m['unanimity_rate']:.3f}); teacher accuracy "
        f"single {m['teacher_accuracy.single_sample']:.3f}, unanimous {m['teacher_accuracy.unanimous']:.3f}"
    )


if __name__ == "__main__":
    main()

"""Stage ``textualize_cota``: CoTA -> D_text = (d, q, r, a) (paper 01 §3.1, eq. 2).

An audio LLM hears each CoTA clip, reads the question and the four-stage reasoning trace
r (planning, caption, reasoning, summary), and writes a description d that lets a text
model answer without the audio. The prompt is the paper's (params
``textualize_cota.prompt``); paper 01 §4.1 uses Qwen2.5-Omni-7B with greedy search.

Quality gate, per item: the description must be non-empty and must not contradict the
trace's answer (it names a wrong option and not the answer). Failing items go to
``rejected.jsonl`` with their reason and are counted in the metrics; nothing is dropped
silently. Generations are cached per item (``outputs/generations/textualize_cota.jsonl``),
so an interrupted run resumes.

One MLflow run, ``p01.data.textualize_cota.textualize_cota``.

    dvc repro textualize_cota     # or: python -m audioreason.stages.textualize_cota
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from audioreason.config import TextualizeCotaConfig, flatten
from audioreason.datasets.records import CotaRecord, read_manifest
from audioreason.pipeline import GENERATIONS, OUTPUTS, PARAMS_FILE, stage_params, write_jsonl
from audioreason.plots import bar_plot
from audioreason.teachers.backends import load_backend
from audioreason.teachers.base import ChatRequest, SamplingParams, user_turn
from audioreason.teachers.cache import generate_cached
from audioreason.teachers.oracle import TEXTUALIZE
from audioreason.teachers.parsing import contradicts_answer
from audioreason.tracking import NullTracker, stage_run

OUT = OUTPUTS / "textualize_cota"
PAPER = "p01"


def format_trace(r: CotaRecord) -> str:
    """The four-stage trace r as CoTA writes it (upper-case tags)."""
    return (
        f"<PLANNING>{r.planning}</PLANNING>\n<CAPTION>{r.caption}</CAPTION>\n"
        f"<REASONING>{r.reasoning}</REASONING>\n<SUMMARY>{r.summary}</SUMMARY>"
    )


def question_with_options(r: CotaRecord) -> str:
    """q as CoTA's user turn holds it: the question, then ``(a) … (b) …``."""
    options = " ".join(f"({chr(ord('a') + i)}) {c}" for i, c in enumerate(r.choices))
    return f"{r.question} {options}".strip()


def build_requests(records: list[CotaRecord], prompt: str) -> list[ChatRequest]:
    return [
        ChatRequest(
            item_id=r.id,
            audio=r.audio,
            template=TEXTUALIZE,
            messages=user_turn(prompt.format(question=question_with_options(r), trace=format_trace(r))),
            meta={
                "record_id": r.id,
                "audio": r.audio,
                "question": r.question,
                "choices": list(r.choices),
                "answer": r.answer,
            },
        )
        for r in records
    ]


def judge(description: str, r: CotaRecord) -> str | None:
    """Why a description is unusable, or ``None``."""
    if not description.strip():
        return "empty description"
    if r.choices:
        wrong = contradicts_answer(description, r.answer, r.choices)
        if wrong:
            return f"contradicts the trace's answer {r.answer!r}: names {wrong!r}"
    return None


def run(
    cfg: TextualizeCotaConfig,
    backend,
    batch_size: int,
    tracker: NullTracker,
    out_dir: Path = OUT,
    cache: Path = GENERATIONS / "textualize_cota.jsonl",
) -> dict:
    records = read_manifest(cfg.manifest, CotaRecord)
    if cfg.max_items:
        records = records[: cfg.max_items]
    sampling = SamplingParams.from_section(cfg.sampling)
    gens, stats = generate_cached(
        backend,
        build_requests(records, cfg.prompt),
        sampling,
        cache=cache,
        batch_size=batch_size,
        desc="textualize_cota",
    )
    kept, rejected, reasons = [], [], Counter()
    for r, g in zip(records, gens):
        d = g.texts[0].strip()
        problem = judge(d, r)
        row = {
            "id": r.id,
            "audio": r.audio,
            "description": d,
            "question": r.question,
            "choices": list(r.choices),
            "answer": r.answer,
            "answer_letter": r.answer_letter,
            "response": r.response,
            "trace": {"planning": r.planning, "caption": r.caption, "reasoning": r.reasoning, "summary": r.summary},
        }
        if problem:
            reasons["empty" if problem.startswith("empty") else "contradicts_answer"] += 1
            rejected.append({**row, "reason": problem, "source": r.source})
        else:
            kept.append(row)
    write_jsonl(kept, out_dir / "d_text.jsonl")
    write_jsonl(rejected, out_dir / "rejected.jsonl")
    words = [len(k["description"].split()) for k in kept]
    metrics = {
        "items": len(records),
        "kept": len(kept),
        "rejected": len(rejected),
        "rejected.empty": reasons["empty"],
        "rejected.contradicts_answer": reasons["contradicts_answer"],
        "kept_rate": len(kept) / len(records) if records else 0.0,
        "description_words_mean": sum(words) / len(words) if words else 0.0,
        **stats.metrics(),
    }
    png = bar_plot(
        {"kept": len(kept), "empty": reasons["empty"], "contradicts": reasons["contradicts_answer"]},
        out_dir / "quality.png",
        title="textualized CoTA descriptions",
        ylabel="items",
    )
    tracker.log_artifact(png, "plots")
    tracker.log_artifact(out_dir / "rejected.jsonl", "quality")
    return metrics


def main() -> None:
    cfg, tracking = stage_params("textualize_cota", "tracking")
    backend, spec = load_backend(PARAMS_FILE, cfg.teacher)
    params = {**flatten(cfg, "textualize_cota"), **flatten(spec, f"teachers.{cfg.teacher}")}
    with stage_run("textualize_cota", tracking, paper=PAPER, table="data", params=params, deps=[cfg.manifest]) as stage:
        stage.metrics = run(cfg, backend, spec.batch_size, stage.tracker)
    m = stage.metrics
    print(
        f"textualize_cota: kept {m['kept']}/{m['items']} "
        f"(empty {m['rejected.empty']}, contradicting {m['rejected.contradicts_answer']})"
    )


if __name__ == "__main__":
    main()

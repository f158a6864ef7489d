"""Stage ``agfv``: audio-grounded fact verification of the teacher's traces (paper 02 §3.2).

A checker that hears the clip (an LALM such as GPT-4o-audio at paper scale) reads each
trace r of every unanimous item of D_reason and answers yes or no:
AGFV(r, a) = accept iff C(r, a) = "yes", reject otherwise. Accepted traces form the
fact-checked corpus D_FC = {(a, q, r)} (``d_fc.jsonl``, one line per trace); a verdict
that is neither yes nor no rejects the trace and is counted (``verdict_unreadable``).

Table 2's "AGFV + SFT" row applies the filter without test-time scaling, so the first
trace of every item (unanimous or not) is checked as well: its accepted traces are
``d_fc_single.jsonl`` (metrics ``single.*``); the D_FC metrics above stay on the
unanimous items.

Where the ground truth of the clips is known (``agfv.truth``: the synthetic world), a
trace hallucinates when its answer is not what the clip contains, and the stage reports
AGFV's precision and recall as a hallucination detector (reject = flagged), next to the
acceptance rate and the accuracy of the traces before and after the filter.

One MLflow run, ``p02.data.agfv.agfv``.

    dvc repro agfv            # or: python -m audioreason.stages.agfv
"""

from __future__ import annotations

import json
from pathlib import Path

from audioreason.config import AgfvConfig, flatten
from audioreason.pipeline import GENERATIONS, OUTPUTS, PARAMS_FILE, read_jsonl, stage_params, write_jsonl
from audioreason.plots import bar_plot
from audioreason.teachers.backends import load_backend
from audioreason.teachers.base import ChatRequest, SamplingParams, user_turn
from audioreason.teachers.cache import generate_cached
from audioreason.teachers.oracle import AGFV
from audioreason.teachers.parsing import parse_yes_no
from audioreason.tracking import NullTracker, stage_run

OUT = OUTPUTS / "agfv"
TRACES = OUTPUTS / "teacher_cot" / "traces.jsonl"
PAPER = "p02"


def traces_to_check(items: list[dict]) -> list[tuple[dict, int]]:
    """Every trace of a unanimous item (TTS + AGFV) and the first trace of every other item (AGFV alone)."""
    return [(it, j) for it in items for j in (range(len(it["traces"])) if it["unanimous"] else [0])]


def build_requests(checked: list[tuple[dict, int]], prompt: str) -> list[ChatRequest]:
    return [
        ChatRequest(
            item_id=f"{it['id']}#{j}",
            audio=it["audio"],
            template=AGFV,
            messages=user_turn(prompt.format(question=it["question"], trace=it["traces"][j])),
            meta={"record_id": it["id"], "audio": it["audio"], "choices": it["choices"], "trace": it["traces"][j]},
        )
        for it, j in checked
    ]


def accuracy_before_after(rows: list[dict], accepted: list[dict], answers: dict[str, str], prefix: str) -> dict:
    return {
        f"{prefix}teacher_accuracy.before": (
            sum(r["trace_answer"] == answers[r["id"]] for r in rows) / len(rows) if rows else 0.0
        ),
        f"{prefix}teacher_accuracy.after": (
            sum(a["teacher_answer"] == a["answer"] for a in accepted) / len(accepted) if accepted else 0.0
        ),
    }


def clip_truth(truth_file: str) -> dict[str, str]:
    """``{absolute clip path: true answer}`` from the world's ``clips.jsonl``."""
    root = Path(truth_file).resolve().parent.parent  # data/world/clips.jsonl -> data/
    out = {}
    for line in Path(truth_file).read_text().splitlines():
        d = json.loads(line)
        if "answer" in d and "#" not in d["clip"]:
            out[str(root / d["clip"])] = d["answer"]
    return out


def detection_scores(rows: list[dict]) -> dict[str, float]:
    """Precision and recall of rejection as a hallucination detector (rows carry ``accepted``, ``hallucinated``)."""
    tp = sum(not r["accepted"] and r["hallucinated"] for r in rows)
    fp = sum(not r["accepted"] and not r["hallucinated"] for r in rows)
    fn = sum(r["accepted"] and r["hallucinated"] for r in rows)
    tn = sum(r["accepted"] and not r["hallucinated"] for r in rows)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "hallucinated": tp + fn,
        "detect.tp": tp,
        "detect.fp": fp,
        "detect.fn": fn,
        "detect.tn": tn,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "hallucination_rate.before": (tp + fn) / len(rows) if rows else 0.0,
        "hallucination_rate.after": fn / (fn + tn) if fn + tn else 0.0,
    }


def run(
    cfg: AgfvConfig,
    backend,
    batch_size: int,
    tracker: NullTracker,
    traces_file: Path = TRACES,
    out_dir: Path = OUT,
    cache: Path = GENERATIONS / "agfv.jsonl",
) -> dict:
    everything = read_jsonl(traces_file)
    checked = traces_to_check(everything)
    gens, stats = generate_cached(
        backend,
        build_requests(checked, cfg.prompt),
        SamplingParams.from_section(cfg.sampling),
        cache=cache,
        batch_size=batch_size,
        desc="agfv",
    )
    truth = clip_truth(cfg.truth) if cfg.truth else {}
    rows, accepted, unreadable = [], [], 0
    for (it, j), g in zip(checked, gens):
        verdict = parse_yes_no(g.texts[0])
        unreadable += verdict is None
        row = {
            "id": it["id"],
            "trace_index": j,
            "accepted": verdict is True,
            "verdict": g.texts[0],
            "trace_answer": it["trace_answers"][j],
            "unanimous": it["unanimous"],
        }
        if truth:
            true = truth.get(str(Path(it["audio"]).resolve()))
            if true is None:
                raise KeyError(f"agfv: {cfg.truth} has no ground truth for clip {it['audio']} (item {it['id']})")
            row["hallucinated"] = it["trace_answers"][j] != true
        rows.append(row)
        if verdict is True and it["trace_answers"][j] is not None:
            accepted.append(
                {
                    "id": it["id"],
                    "trace_index": j,
                    "audio": it["audio"],
                    "question": it["question"],
                    "choices": it["choices"],
                    "trace": it["traces"][j],
                    "teacher_answer": it["trace_answers"][j],
                    "answer": it["answer"],
                    "question_type": it.get("question_type", ""),
                    "unanimous": it["unanimous"],
                }
            )
    write_jsonl(rows, out_dir / "verdicts.jsonl")
    fc_rows = [r for r in rows if r["unanimous"]]
    d_fc = [a for a in accepted if a["unanimous"]]
    single_rows = [r for r in rows if r["trace_index"] == 0]
    single = [a for a in accepted if a["trace_index"] == 0]
    write_jsonl(d_fc, out_dir / "d_fc.jsonl")
    write_jsonl(single, out_dir / "d_fc_single.jsonl")
    answers = {it["id"]: it["answer"] for it in everything}
    n = len(fc_rows)
    metrics = {
        "items": sum(it["unanimous"] for it in everything),
        "traces": n,
        "accepted": len(d_fc),
        "acceptance_rate": len(d_fc) / n if n else 0.0,
        "verdict_unreadable": unreadable,
        "items_with_accepted_trace": len({a["id"] for a in d_fc}),
        **accuracy_before_after(fc_rows, d_fc, answers, ""),
        "single.items": len(single_rows),
        "single.accepted": len(single),
        "single.acceptance_rate": len(single) / len(single_rows) if single_rows else 0.0,
        **accuracy_before_after(single_rows, single, answers, "single."),
        **stats.metrics(),
    }
    if truth:
        metrics.update(detection_scores(fc_rows))
        png = bar_plot(
            {
                k: metrics[k]
                for k in (
                    "acceptance_rate",
                    "precision",
                    "recall",
                    "hallucination_rate.before",
                    "hallucination_rate.after",
                )
            },
            out_dir / "agfv.png",
            title="AGFV on the world's ground truth",
            ylabel="rate",
            ylim=(0, 1.05),
        )
        tracker.log_artifact(png, "plots")
    return metrics


def main() -> None:
    cfg, tracking = stage_params("agfv", "tracking")
    backend, spec = load_backend(PARAMS_FILE, cfg.teacher)
    params = {**flatten(cfg, "agfv"), **flatten(spec, f"teachers.{cfg.teacher}")}
    with stage_run("agfv", tracking, paper=PAPER, table="data", params=params, deps=[TRACES]) as stage:
        stage.metrics = run(cfg, backend, spec.batch_size, stage.tracker)
    m = stage.metrics
    extra = f"; precision {m['precision']:.3f}, recall {m['recall']:.3f}" if "precision" in m else ""
    print(f"agfv: accepted {m['accepted']}/{m['traces']} traces (rate {m['acceptance_rate']:.3f}){extra}")


if __name__ == "__main__":
    main()

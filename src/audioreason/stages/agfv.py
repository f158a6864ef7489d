"""Stage ``agfv``: audio-grounded fact verification of the teacher's traces (paper 02 §3.2).

A checker that hears the clip (an LALM such as GPT-4o-audio at paper scale) reads each
trace r of every unanimous item of D_reason and answers yes or no:
AGFV(r, a) = accept iff C(r, a) = "yes", reject otherwise. Accepted traces form the
fact-checked corpus D_FC = {(a, q, r)} (``d_fc.jsonl``, one line per trace); a verdict
that is neither yes nor no rejects the trace and is counted (``verdict_unreadable``).

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

from audioreason.config import AgfvConfig
from audioreason.stages.common import (GENERATIONS, OUTPUTS, bar_plot, generation_stage, read_jsonl, sampling_params,
                                       write_jsonl)
from audioreason.teachers.base import ChatRequest, user_turn
from audioreason.teachers.cache import generate_cached
from audioreason.teachers.oracle import AGFV
from audioreason.teachers.parsing import parse_yes_no
from audioreason.tracking import NullTracker

OUT = OUTPUTS / "agfv"
D_REASON = OUTPUTS / "teacher_cot" / "d_reason.jsonl"
PAPER = "p02"


def build_requests(items: list[dict], prompt: str) -> list[ChatRequest]:
    return [ChatRequest(
        item_id=f"{it['id']}#{j}", audio=it["audio"], template=AGFV,
        messages=user_turn(prompt.format(question=it["question"], trace=trace)),
        meta={"record_id": it["id"], "audio": it["audio"], "choices": it["choices"], "trace": trace},
    ) for it in items for j, trace in enumerate(it["traces"])]


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
    return {"hallucinated": tp + fn, "detect.tp": tp, "detect.fp": fp, "detect.fn": fn, "detect.tn": tn,
            "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "hallucination_rate.before": (tp + fn) / len(rows) if rows else 0.0,
            "hallucination_rate.after": fn / (fn + tn) if fn + tn else 0.0}


def run(cfg: AgfvConfig, backend, batch_size: int, tracker: NullTracker, d_reason: Path = D_REASON,
        out_dir: Path = OUT, cache: Path = GENERATIONS / "agfv.jsonl") -> dict:
    items = read_jsonl(d_reason)
    requests = build_requests(items, cfg.prompt)
    gens, stats = generate_cached(backend, requests, sampling_params(cfg.sampling), cache=cache,
                                  batch_size=batch_size, desc="agfv")
    truth = clip_truth(cfg.truth) if cfg.truth else {}
    rows, accepted, unreadable = [], [], 0
    traces = [(it, j, trace) for it in items for j, trace in enumerate(it["traces"])]
    for (it, j, trace), g in zip(traces, gens):
        verdict = parse_yes_no(g.texts[0])
        unreadable += verdict is None
        row = {"id": it["id"], "trace_index": j, "accepted": verdict is True, "verdict": g.texts[0],
               "trace_answer": it["trace_answers"][j]}
        if truth:
            true = truth.get(str(Path(it["audio"]).resolve()))
            if true is None:
                raise KeyError(f"agfv: {cfg.truth} has no ground truth for clip {it['audio']} (item {it['id']})")
            row["hallucinated"] = it["trace_answers"][j] != true
        rows.append(row)
        if verdict is True:
            accepted.append({"id": it["id"], "trace_index": j, "audio": it["audio"], "question": it["question"],
                             "choices": it["choices"], "trace": trace, "teacher_answer": it["trace_answers"][j],
                             "answer": it["answer"], "question_type": it.get("question_type", "")})
    write_jsonl(rows, out_dir / "verdicts.jsonl")
    write_jsonl(accepted, out_dir / "d_fc.jsonl")
    n = len(rows)
    metrics = {"items": len(items), "traces": n, "accepted": len(accepted),
               "acceptance_rate": len(accepted) / n if n else 0.0, "verdict_unreadable": unreadable,
               "items_with_accepted_trace": len({a["id"] for a in accepted}),
               "teacher_accuracy.before": sum(r["trace_answer"] == it_answer for r, it_answer in
                                              zip(rows, [it["answer"] for it in items for _ in it["traces"]])) / n if n else 0.0,
               "teacher_accuracy.after": (sum(a["teacher_answer"] == a["answer"] for a in accepted) / len(accepted)
                                          if accepted else 0.0),
               **stats.metrics()}
    if truth:
        metrics.update(detection_scores(rows))
        png = bar_plot({k: metrics[k] for k in ("acceptance_rate", "precision", "recall", "hallucination_rate.before",
                                                "hallucination_rate.after")},
                       out_dir / "agfv.png", title="AGFV on the world's ground truth", ylabel="rate", ylim=(0, 1.05))
        tracker.log_artifact(png, "plots")
    tracker.log_metrics(metrics)
    return metrics


def main() -> None:
    metrics = generation_stage("agfv", PAPER, run, lambda cfg: [D_REASON])
    extra = (f"; precision {metrics['precision']:.3f}, recall {metrics['recall']:.3f}" if "precision" in metrics else "")
    print(f"agfv: accepted {metrics['accepted']}/{metrics['traces']} traces "
          f"(rate {metrics['acceptance_rate']:.3f}){extra}")


if __name__ == "__main__":
    main()

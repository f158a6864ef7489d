"""Stage ``generate_qa``: AVQA-GPT and VGGS-GPT, questions written from captions (paper 03 §III.C).

For every training clip of each source (AVQA: AVQA-GPT; VGGSound: VGGS-GPT), an LLM
reads the clip's AudioSetCaps captions (it never hears the clip) and writes, as JSON, a
question with one correct and three similar but clearly incorrect answers; ``sampling.n``
samples per clip. Then, as §III.C describes:

- unparseable or empty outputs are counted per reason (``rejected.jsonl``);
- duplicates (same clip, same question after normalisation) are removed and counted;
- the length filter drops question + choices longer than ``max_qa_chars`` (counted);
- the correct answer's position is randomised, balanced over the four slots, and the
  balance is checked (the stage fails above ``max_balance_deviation``).

Each dataset is written in the AVQA format (``<name>/train_qa.json``; its audio is the
source clips, listed in ``<name>/audio_dir.txt``) and as a validated-style manifest
(``<name>.jsonl``, QARecords with absolute audio paths) that training reads.

One MLflow run, ``p03.data.generate_qa.generate_qa``.

    dvc repro generate_qa     # or: python -m audioreason.stages.generate_qa
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from audioreason.config import GenerateQaConfig, flatten
from audioreason.datasets.records import Caption, QARecord, read_manifest, write_manifest
from audioreason.pipeline import GENERATIONS, OUTPUTS, PARAMS_FILE, read_jsonl, stage_params, write_jsonl
from audioreason.plots import bar_plot
from audioreason.teachers.backends import load_backend
from audioreason.teachers.base import ChatRequest, SamplingParams, user_turn
from audioreason.teachers.cache import generate_cached
from audioreason.teachers.oracle import GENERATE_QA
from audioreason.teachers.parsing import parse_question_json
from audioreason.tracking import NullTracker, stage_run

OUT = OUTPUTS / "generate_qa"
PAPER = "p03"


def clip_name(row: dict) -> str:
    """``<ytid>_<start:06d>``: AVQA's ``video_name``, VGGSound's id (AudioSetCaps uses the same ids)."""
    return (row.get("extra") or {}).get("video_name") or row["id"]


def source_clips(manifest: str, split: str) -> dict[str, str]:
    """``{clip name: audio path}`` of the manifest's records in ``split`` (AVQA repeats clips: one entry each)."""
    clips: dict[str, str] = {}
    for row in read_jsonl(Path(manifest)):
        if row.get("split") == split:
            clips.setdefault(clip_name(row), row["audio"])
    return clips


def normalise(question: str) -> str:
    return " ".join(re.findall(r"\w+", question.lower()))


def balanced_positions(n: int, seed: int) -> list[int]:
    """Correct-answer slots for ``n`` items: each of 0-3 used n/4 times (+-1), in a seeded order."""
    slots = [i % 4 for i in range(n)]
    return [slots[i] for i in np.random.default_rng(seed).permutation(n)]


def position_shares(answers: list[int]) -> dict[str, float]:
    counts = Counter(answers)
    return {f"slot_{k}": counts.get(k, 0) / len(answers) if answers else 0.0 for k in range(4)}


def build_dataset(
    name: str, clips: dict[str, str], gens, cfg: GenerateQaConfig, counts: Counter, rejected: list[dict]
) -> tuple[list[dict], list[QARecord]]:
    """Parse, deduplicate, filter and shuffle one dataset's generations into AVQA rows and QARecords."""
    parsed = []
    for clip, g in zip(clips, gens):
        seen: set[str] = set()
        for s, text in enumerate(g.texts):
            where = {"dataset": name, "clip": clip, "sample": s, "text": text}
            try:
                qa = parse_question_json(text)
            except ValueError as e:
                counts[f"{name}.unparseable"] += 1
                rejected.append({**where, "reason": f"unparseable: {e}"})
                continue
            key = normalise(qa["question"])
            if key in seen:
                counts[f"{name}.duplicate"] += 1
                rejected.append({**where, "reason": "duplicate question for this clip"})
                continue
            seen.add(key)
            length = len(qa["question"]) + len(qa["answer"]) + sum(len(d) for d in qa["distractors"])
            if length > cfg.max_qa_chars:
                counts[f"{name}.too_long"] += 1
                rejected.append({**where, "reason": f"question + choices {length} chars > {cfg.max_qa_chars}"})
                continue
            parsed.append((clip, s, qa))
    rows, records = [], []
    for i, ((clip, s, qa), slot) in enumerate(zip(parsed, balanced_positions(len(parsed), cfg.seed))):
        choices = list(qa["distractors"])
        choices.insert(slot, qa["answer"])
        rows.append(
            {
                "id": i,
                "video_name": clip,
                "video_id": i,
                "question_text": qa["question"],
                "multi_choice": choices,
                "answer": slot,
                "question_relation": "Sound",
                "question_type": "Generated",
            }
        )
        records.append(
            QARecord(
                id=str(i),
                dataset=name,
                split="train",
                audio=clips[clip],
                question=qa["question"],
                choices=tuple(choices),
                answer=qa["answer"],
                category="Sound",
                sub_category="Generated",
                source=f"{name}/train_qa.json#{i}",
                extra={"video_name": clip, "sample": s},
            )
        )
    return rows, records


def run(
    cfg: GenerateQaConfig,
    backend,
    batch_size: int,
    tracker: NullTracker,
    out_dir: Path = OUT,
    cache: Path = GENERATIONS / "generate_qa.jsonl",
) -> dict:
    captions: dict[str, list[str]] = defaultdict(list)
    for c in read_manifest(cfg.captions, Caption):
        if c.clip:
            captions[c.clip].append(c.caption)
    counts: Counter = Counter()
    rejected: list[dict] = []
    sources, requests = {}, []
    for name, src in cfg.sources.items():
        clips = source_clips(src.manifest, src.split)
        missing = [c for c in clips if c not in captions]
        for reason in ("unparseable", "duplicate", "too_long"):
            counts[f"{name}.{reason}"] = 0
        counts[f"{name}.clips"] = len(clips)
        counts[f"{name}.no_caption"] = len(missing)
        rejected += [{"dataset": name, "clip": c, "reason": "no caption for this clip"} for c in missing]
        clips = {c: a for c, a in clips.items() if c in captions}
        if cfg.max_items:
            clips = dict(list(clips.items())[: cfg.max_items])
        sources[name] = clips
        for clip, audio in clips.items():
            text = cfg.prompt.format(captions="\n".join(f"- {c}" for c in captions[clip]))
            requests.append(
                ChatRequest(
                    item_id=f"{name}:{clip}",
                    messages=user_turn(text),
                    template=GENERATE_QA,
                    meta={"audio": audio, "clip": clip},
                )
            )
    sampling = SamplingParams.from_section(cfg.sampling)
    gens, stats = generate_cached(backend, requests, sampling, cache=cache, batch_size=batch_size, desc="generate_qa")
    metrics: dict[str, float] = {}
    offset = 0
    shares_all = {}
    for name, clips in sources.items():
        rows, records = build_dataset(name, clips, gens[offset : offset + len(clips)], cfg, counts, rejected)
        offset += len(clips)
        shares = position_shares([r["answer"] for r in rows])
        deviation = max(abs(v - 0.25) for v in shares.values()) if rows else 0.0
        if deviation > cfg.max_balance_deviation:
            raise ValueError(
                f"generate_qa: {name}: correct-answer positions are unbalanced {shares} "
                f"(max deviation {deviation:.3f} > {cfg.max_balance_deviation})"
            )
        (out_dir / name).mkdir(parents=True, exist_ok=True)
        (out_dir / name / "train_qa.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
        audio_dirs = sorted({str(Path(a).parent) for a in clips.values()})
        (out_dir / name / "audio_dir.txt").write_text("\n".join(audio_dirs) + "\n")
        write_manifest(records, out_dir / f"{name}.jsonl")
        metrics.update({f"{name}.{k}": v for k, v in shares.items()})
        metrics.update(
            {
                f"{name}.kept": len(rows),
                f"{name}.position_max_deviation": round(deviation, 4),
                f"{name}.samples": len(clips) * sampling.n,
            }
        )
        shares_all.update({f"{name}.{k}": v for k, v in shares.items()})
    write_jsonl(rejected, out_dir / "rejected.jsonl")
    metrics.update({k: float(v) for k, v in sorted(counts.items())})
    metrics.update(stats.metrics())
    png = bar_plot(
        shares_all,
        out_dir / "positions.png",
        title="correct-answer position",
        ylabel="share",
        ylim=(0, 0.5),
        reference=0.25,
    )
    tracker.log_artifact(png, "plots")
    tracker.log_artifact(out_dir / "rejected.jsonl", "quality")
    return metrics


def main() -> None:
    cfg, tracking = stage_params("generate_qa", "tracking")
    backend, spec = load_backend(PARAMS_FILE, cfg.teacher)
    params = {**flatten(cfg, "generate_qa"), **flatten(spec, f"teachers.{cfg.teacher}")}
    deps = [cfg.captions, *sorted({s.manifest for s in cfg.sources.values()})]
    with stage_run("generate_qa", tracking, paper=PAPER, table="data", params=params, deps=deps) as stage:
        stage.metrics = run(cfg, backend, spec.batch_size, stage.tracker)
    print(
        "generate_qa: "
        + ", ".join(f"{k.split('.')[0]} {int(v)} questions" for k, v in stage.metrics.items() if k.endswith(".kept"))
    )


if __name__ == "__main__":
    main()

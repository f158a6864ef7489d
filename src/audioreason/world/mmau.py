"""MMAU-format test-mini of the world: the evaluation set of every paper.

Writes ``mmau/mmau-test-mini.json`` and ``mmau/test-mini-audios/<id>.wav`` (16 kHz) in the
MMAU test-mini layout (read by :mod:`audioreason.datasets.mmau`): a JSON list of items
with a UUID ``id``, ``audio_id`` (``./test-mini-audios/<id>.wav``), ``question`` ("... in the audio?"),
2 to 8 ``choices`` (MMAU mixes 2-, 4-, 5- and 8-option items), the ``answer`` text,
``task`` (sound / music / speech), ``category``, ``sub-category`` and ``difficulty``.
Tasks are balanced (the remainder spread over the first tasks alphabetically) and within
a task the kinds of :mod:`audioreason.world.scenes` are balanced.

:func:`write_mmau_test` writes the test-full split the same way, as MMAU publishes it (paper
03 Table I, Test-full): ``mmau/mmau-test.json`` and ``mmau/test-audios/<id>.wav``, ``split``
``test`` and every ``answer`` an empty string (the answers are withheld; results come from
uploading predictions). Its ground truth goes to a separate list, which ``write_world`` keeps
out of ``world/clips.jsonl`` so that no teacher or trainer reading the truth can see it.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from audioreason.config import WorldConfig
from audioreason.world.audio_out import write_audio
from audioreason.world.scenes import KINDS, Kind, balanced_schedule, render, shuffled_options


def write_mmau(out: Path, cfg: WorldConfig, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict[str, int]:
    """Write the test-mini JSON and its clips; append one ground-truth line per clip to ``truth``.

    Returns:
        Items per task, sorted by task.
    """
    return _write_split(out, cfg, seed_seq, truth, split="test-mini", n=cfg.n_test_mini, hide_answers=False)


def write_mmau_test(
    out: Path, cfg: WorldConfig, seed_seq: np.random.SeedSequence, hidden_truth: list[dict]
) -> dict[str, int]:
    """Write the test-full JSON (answers withheld) and its clips; one ground-truth line per clip to ``hidden_truth``.

    Returns:
        Items per task, sorted by task.
    """
    return _write_split(out, cfg, seed_seq, hidden_truth, split="test", n=cfg.n_test_full, hide_answers=True)


def _write_split(
    out: Path,
    cfg: WorldConfig,
    seed_seq: np.random.SeedSequence,
    truth: list[dict],
    *,
    split: str,
    n: int,
    hide_answers: bool,
) -> dict[str, int]:
    """``mmau/mmau-<split>.json`` and ``mmau/<split>-audios/``: ``n`` items, tasks and kinds balanced."""
    rng = np.random.default_rng(seed_seq)
    by_task: dict[str, list[Kind]] = {}
    for k in KINDS:
        by_task.setdefault(k.task, []).append(k)
    tasks = sorted(by_task)
    schedule: list[Kind] = []
    for j, task in enumerate(tasks):
        n_task = n // len(tasks) + (1 if j < n % len(tasks) else 0)
        schedule += balanced_schedule(rng, n_task, by_task[task])
    clip_seqs = seed_seq.spawn(len(schedule))
    items = []
    for i, kind in enumerate(tqdm(schedule, desc=f"world mmau/{split}", leave=False, disable=None)):
        crng = np.random.default_rng(clip_seqs[i])
        scene = render(kind, crng, cfg.mmau_sample_rate, cfg.clip_seconds)
        item_id = str(uuid.UUID(int=int.from_bytes(crng.bytes(16), "big"), version=4))
        # MMAU mixes 2-, 4-, 5- and 8-option items; the kind's option pool bounds it.
        n_opts = min(1 + len(scene.distractors), cfg.mmau_n_choices[int(crng.integers(len(cfg.mmau_n_choices)))])
        choices = shuffled_options(crng, scene, n_opts)
        write_audio(out / "mmau" / f"{split}-audios" / f"{item_id}.wav", scene.audio, cfg.mmau_sample_rate)
        items.append(
            {
                "id": item_id,
                "audio_id": f"./{split}-audios/{item_id}.wav",
                "question": scene.mmau_question,
                "choices": choices,
                "answer": "" if hide_answers else scene.answer,
                "dataset": "audioreason-world",
                "task": kind.task,
                "split": split,
                "category": kind.category,
                "sub-category": kind.sub_category,
                "difficulty": kind.difficulty,
            }
        )
        truth.append(
            {
                "dataset": "mmau",
                "split": split,
                "clip": f"mmau/{split}-audios/{item_id}.wav",
                "kind": kind.name,
                "answer": scene.answer,
                **scene.truth,
            }
        )
    (out / "mmau").mkdir(parents=True, exist_ok=True)
    (out / "mmau" / f"mmau-{split}.json").write_text(json.dumps(items, indent=4) + "\n")
    tasks_written: dict[str, int] = {}
    for item in items:
        tasks_written[item["task"]] = tasks_written.get(item["task"], 0) + 1
    return dict(sorted(tasks_written.items()))

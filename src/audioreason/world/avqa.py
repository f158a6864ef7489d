"""AVQA-format question sets of the world: the training data of papers 02/03.

Writes ``avqa/train_qa.json``, ``avqa/val_qa.json`` and ``avqa/audio/<video_name>.wav``
(32 kHz) in the AVQA layout (read by :mod:`audioreason.datasets.avqa`): a JSON list of
items with ``id``, ``video_name`` (``<ytid>_<start*10:06d>``, the VGGSound video), ``video_id``,
``question_text`` ("... in the video?"), a four-slot ``multi_choice`` (null where the
kind has fewer options), the ``answer`` index, ``question_relation`` (View / Sound /
Both) and ``question_type``. Clips are scenes of every kind of
:mod:`audioreason.world.scenes`, balanced, plus a configurable fraction of visual-only
("View") questions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from audioreason.config import WorldConfig
from audioreason.world.audio_out import write_audio, ytid
from audioreason.world.scenes import KINDS, VIEW_KIND, balanced_schedule, render, shuffled_options


def write_avqa_split(
    out: Path, split: str, n: int, cfg: WorldConfig, seed_seq: np.random.SeedSequence, id_offset: int, truth: list[dict]
) -> None:
    """Write ``avqa/<split>_qa.json`` and its clips; append one ground-truth line per clip to ``truth``.

    Args:
        out: The world's root folder.
        split: ``"train"`` or ``"val"``.
        n: Questions (one clip each) in the split.
        cfg: The world's config.
        seed_seq: The split's seed sequence.
        id_offset: First item ``id`` (ids do not collide across splits).
        truth: Ground-truth lines of the world, appended to.
    """
    rng = np.random.default_rng(seed_seq)
    records = []
    n_view = int(round(cfg.avqa_view_fraction * n))
    schedule = balanced_schedule(rng, n - n_view, KINDS) + [VIEW_KIND] * n_view
    schedule = [schedule[i] for i in rng.permutation(n)]
    clip_seqs = seed_seq.spawn(n)
    for i, kind in enumerate(tqdm(schedule, desc=f"world avqa/{split}", leave=False, disable=None)):
        crng = np.random.default_rng(clip_seqs[i])
        scene = render(kind, crng, cfg.avqa_sample_rate, cfg.clip_seconds)
        video_name = f"{ytid(crng)}_{int(crng.integers(0, 300)) * 10:06d}"
        # AVQA's multi_choice has four slots; kinds with fewer options leave them null.
        options = shuffled_options(crng, scene, 4)
        multi_choice = options + [None] * (4 - len(options))
        write_audio(out / "avqa" / "audio" / f"{video_name}.wav", scene.audio, cfg.avqa_sample_rate)
        records.append(
            {
                "id": id_offset + i,
                "video_name": video_name,
                "video_id": 100000 + id_offset + i,
                "question_text": scene.avqa_question,
                "multi_choice": multi_choice,
                "answer": options.index(scene.answer),
                "question_relation": kind.question_relation,
                "question_type": kind.question_type,
            }
        )
        truth.append(
            {
                "dataset": "avqa",
                "split": split,
                "clip": f"avqa/audio/{video_name}.wav",
                "kind": kind.name,
                "answer": scene.answer,
                **scene.truth,
            }
        )
    (out / "avqa").mkdir(parents=True, exist_ok=True)
    (out / "avqa" / f"{split}_qa.json").write_text(json.dumps(records, indent=1) + "\n")


def write_avqa(
    out: Path, cfg: WorldConfig, train_seq: np.random.SeedSequence, val_seq: np.random.SeedSequence, truth: list[dict]
) -> None:
    """Write the train split (``cfg.n_train`` items), then the val split (``cfg.n_val``, ids after train's)."""
    write_avqa_split(out, "train", cfg.n_train, cfg, train_seq, 0, truth)
    write_avqa_split(out, "val", cfg.n_val, cfg, val_seq, cfg.n_train, truth)

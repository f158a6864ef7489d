"""AudioSetCaps-format captions of the world (paper 03 §III.C).

Paper 03 generates AVQA-GPT and VGGS-GPT questions with an LLM from AudioSetCaps captions
of AVQA and VGGSound audio, and notes that the captions sometimes describe music that is
not in the clip. Writes two CSVs with an ``id,caption`` header, as the real release:

- ``audiosetcaps/VGGSound_AudioSetCaps_caption.csv``: one caption per VGGSound clip and
  per AVQA clip (AVQA's videos are VGGSound's, so they share the ``<ytid>_<start:06d>``
  ids), a configurable fraction of them hallucinating a source the clip does not contain
  (recorded in the ground truth as ``caption_hallucination``);
- ``audiosetcaps/AudioSetCaps_caption.csv``: captions under AudioSet ids ``Y<ytid>`` with
  no clip in the world (the real file covers all of AudioSet).

It runs after the AVQA and VGGSound writers: it captions their ground-truth lines.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from audioreason.config import WorldConfig
from audioreason.world import sounds
from audioreason.world.audio_out import ytid
from audioreason.world.captions import caption_for
from audioreason.world.scenes import ALL_EVENTS

HALLUCINATIONS = (
    "a piano plays softly in the background",
    "music plays in the background",
    "a guitar is strummed nearby",
    "a dog barks in the distance",
    "people cheer",
)


def write_audiosetcaps(out: Path, cfg: WorldConfig, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
    """Write both caption CSVs; add ``caption`` (and any ``caption_hallucination``) to ``truth``.

    Only the AVQA and VGGSound lines of ``truth`` are captioned, in their order there.

    Returns:
        Expected counts: ``vggsound_captions``, ``audioset_captions`` and ``hallucinated``.
    """
    rng = np.random.default_rng(seed_seq)
    rate = cfg.vggsound.caption_hallucination_rate
    rows, n_hall = [], 0
    for line in truth:
        if line["dataset"] not in ("avqa", "vggsound"):
            continue
        cap = caption_for(line)
        if rng.random() < rate:
            extra = HALLUCINATIONS[int(rng.integers(len(HALLUCINATIONS)))]
            cap = f"{cap[:-1]}, while {extra}."
            line["caption_hallucination"] = extra
            n_hall += 1
        line["caption"] = cap
        rows.append((Path(line["clip"]).stem, cap))
    rows.sort()
    audioset = []
    for _ in range(cfg.vggsound.audioset_captions):
        cls = ALL_EVENTS[int(rng.integers(len(ALL_EVENTS)))]
        audioset.append((f"Y{ytid(rng)}", f'The sound of "{sounds.event_label(cls)}" fills the room, with some echo.'))
    for name, data in (("VGGSound_AudioSetCaps_caption.csv", rows), ("AudioSetCaps_caption.csv", audioset)):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["id", "caption"])
        w.writerows(data)
        (out / "audiosetcaps").mkdir(parents=True, exist_ok=True)
        (out / "audiosetcaps" / name).write_text(buf.getvalue())
    return {"vggsound_captions": len(rows), "audioset_captions": len(audioset), "hallucinated": n_hall}

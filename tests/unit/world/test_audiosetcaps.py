"""Tests of the AudioSetCaps writer: captions of AVQA and VGGSound clips, hallucinations recorded."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np

from audioreason.world.audiosetcaps import write_audiosetcaps


def _write(tmp_path, cfg, truth, rate: float) -> tuple[dict, list[dict]]:
    # The lines as the writer receives them: before any caption was added.
    lines = [{k: v for k, v in t.items() if k not in ("caption", "caption_hallucination")} for t in truth]
    cfg = dataclasses.replace(cfg, vggsound=dataclasses.replace(cfg.vggsound, caption_hallucination_rate=rate))
    return write_audiosetcaps(tmp_path, cfg, np.random.SeedSequence(0), lines), lines


def test_caption_hallucinations_are_recorded(small_cfg, truth, tmp_path):
    counts, lines = _write(tmp_path / "a", small_cfg, truth, 1.0)
    captioned = [t for t in lines if t["dataset"] in ("avqa", "vggsound")]
    assert captioned and all(t["caption_hallucination"] in t["caption"] for t in captioned)
    assert counts["hallucinated"] == counts["vggsound_captions"] == len(captioned)
    counts, lines = _write(tmp_path / "b", small_cfg, truth, 0.0)
    assert counts["hallucinated"] == 0 and not any("caption_hallucination" in t for t in lines)
    assert not any("caption" in t for t in lines if t["dataset"] not in ("avqa", "vggsound"))


def test_csvs_in_the_release_layout(world, truth):
    with (world / "audiosetcaps" / "VGGSound_AudioSetCaps_caption.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id", "caption"]
    by_stem = {t["clip"].rsplit("/", 1)[1][:-4]: t for t in truth if t["dataset"] in ("avqa", "vggsound")}
    assert {i: c for i, c in rows[1:]} == {i: t["caption"] for i, t in by_stem.items()}
    with (world / "audiosetcaps" / "AudioSetCaps_caption.csv").open() as f:
        audioset = list(csv.reader(f))[1:]
    assert len(audioset) == 2 and all(i.startswith("Y") and len(i) == 12 for i, _ in audioset)

"""Write the whole synthetic audio world: every dataset, in a fixed order, from one seed.

:func:`write_world` is the one entry point (``audioreason world --out DIR`` calls it). It
spawns one seed sequence per writer from ``cfg.seed`` and calls the dataset writers
(``world/<dataset>.py``, each in that dataset's real on-disk format) in a fixed order, so
the same seed and library versions give byte-identical files. Beside the datasets it
writes what only the world knows, under ``world/``:

- ``world/clips.jsonl``: the ground truth of every clip (what sounds where), one JSON
  object per line in writing order, which the scripted teachers of later stages read and
  the importers never do;
- ``world/visual.jsonl``: what a silent video of each clip drawn from a scene (AVQA, MMAU,
  VGGSound, CoTA) or an ensemble (MUSIC-AVQA) shows: the visual channel, for paper 02's
  vision teacher;
- ``world/mmau-test-truth.jsonl``: the ground truth of the MMAU test-full clips, whose
  answers ``mmau/mmau-test.json`` withholds (the leaderboard's answer key), in the shape of
  ``clips.jsonl`` but apart from it, so that nothing reading the truth for teaching sees it;
- ``world/metadata.json``: what the importers must report on each dataset
  (:mod:`audioreason.world.metadata`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from audioreason.config import WorldConfig
from audioreason.world import (
    arc,
    audiosetcaps,
    avqa,
    cota,
    desed,
    fau_aibo,
    iemocap,
    maestro,
    mmau,
    music_avqa,
    vctk,
    vggsound,
)
from audioreason.world.metadata import expected_counts


def write_world(out_dir: str | Path, cfg: WorldConfig) -> dict[str, int]:
    """Write every dataset of the world and its ``world/`` ground truth under ``out_dir``.

    Args:
        out_dir: The world's root folder (``data/`` in the pipeline); created if absent.
        cfg: The world's config (sizes, sample rates, seed).

    Returns:
        Usable records per dataset (as the importers must read them) and the number of clips
        in ``world/clips.jsonl``.
    """
    out = Path(out_dir)
    # The spawn order fixes every writer's random stream: appending a writer keeps the
    # others' streams, reordering or inserting changes the data.
    root = np.random.SeedSequence(cfg.seed)
    (
        train_seq,
        val_seq,
        mmau_seq,
        music_seq,
        iemocap_seq,
        fau_seq,
        vctk_seq,
        desed_seq,
        maestro_seq,
        vgg_seq,
        caption_seq,
        cota_seq,
        arc_seq,
        mmau_test_seq,
    ) = root.spawn(14)
    truth: list[dict] = []
    avqa.write_avqa(out, cfg, train_seq, val_seq, truth)
    expected = {
        "mmau": mmau.write_mmau(out, cfg, mmau_seq, truth),
        "music_avqa": music_avqa.write_music_avqa(out, cfg, music_seq, truth),
        "iemocap": iemocap.write_iemocap(out, cfg, iemocap_seq, truth),
        "fau_aibo": fau_aibo.write_fau_aibo(out, cfg, fau_seq, truth),
        "vctk": vctk.write_vctk(out, cfg, vctk_seq, truth),
        "desed": desed.write_desed(out, cfg, desed_seq, truth),
        "maestro": maestro.write_maestro(out, cfg, maestro_seq, truth),
        "vggsound": vggsound.write_vggsound(out, cfg, vgg_seq, truth),
    }
    # Captions describe the AVQA and VGGSound clips already in ``truth``, so they come after both.
    expected["audiosetcaps"] = audiosetcaps.write_audiosetcaps(out, cfg, caption_seq, truth)
    expected["cota"] = cota.write_cota(out, cfg, cota_seq, truth)
    expected["arc"] = arc.write_arc(out, cfg, arc_seq)
    hidden_truth: list[dict] = []
    expected["mmau_test"] = mmau.write_mmau_test(out, cfg, mmau_test_seq, hidden_truth)
    _write_ground_truth(out, truth)
    _write_jsonl(out / "world" / "mmau-test-truth.jsonl", hidden_truth)
    metadata = expected_counts(out, cfg, expected)
    (out / "world" / "metadata.json").write_text(json.dumps(metadata, indent=1, sort_keys=True) + "\n")
    return {**{name: d["records"] for name, d in metadata["datasets"].items()}, "clips": len(truth)}


def _write_ground_truth(out: Path, truth: list[dict]) -> None:
    """``world/clips.jsonl`` (every line) and ``world/visual.jsonl`` (clips a video would show)."""
    (out / "world").mkdir(parents=True, exist_ok=True)
    with (out / "world" / "clips.jsonl").open("w") as f:
        for line in truth:
            f.write(json.dumps(line, sort_keys=True) + "\n")
    with (out / "world" / "visual.jsonl").open("w") as f:
        for line in truth:
            if "visible" in line:
                f.write(json.dumps({"clip": line["clip"], "visible": line["visible"]}, sort_keys=True) + "\n")
            elif line["dataset"] == "music_avqa":
                f.write(json.dumps(music_avqa.visual_record(line), sort_keys=True) + "\n")


def _write_jsonl(path: Path, lines: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for line in lines:
            f.write(json.dumps(line, sort_keys=True) + "\n")

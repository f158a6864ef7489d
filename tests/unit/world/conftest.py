"""A small world, written once for the tests of every world module."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from audioreason.config import WorldConfig, load_params
from audioreason.world.write import write_world


def small_config() -> WorldConfig:
    """The params.yaml world, shrunk so that every dataset has a handful of items."""
    cfg = load_params(Path(__file__).resolve().parents[3] / "params.yaml", sections=["world"])["world"]
    r = dataclasses.replace
    return r(
        cfg,
        clip_seconds=1.0,
        n_train=14,
        n_val=7,
        n_test_mini=9,
        avqa_view_fraction=0.0,
        music_avqa=r(cfg.music_avqa, train_videos=3, val_videos=2, test_videos=3),
        iemocap=r(cfg.iemocap, dialogs_per_session=1, utterances_per_dialog=6),
        fau_aibo=r(cfg.fau_aibo, ohm_chunks=6, mont_chunks=4),
        vctk=r(cfg.vctk, speakers=3, utterances_per_speaker=2),
        desed=r(cfg.desed, clip_seconds=3.0, strong_clips=3, weak_clips=2),
        maestro=r(cfg.maestro, clip_seconds=4.0, files_per_scene=1),
        vggsound=r(cfg.vggsound, train_clips=4, test_clips=2, audioset_captions=2),
        cota=r(cfg.cota, items=20, defect_rate=0.1),
    )


def read_truth(root: Path) -> list[dict]:
    """The lines of ``world/clips.jsonl`` under ``root``."""
    return [json.loads(line) for line in (root / "world" / "clips.jsonl").read_text().splitlines()]


@pytest.fixture(scope="session")
def small_cfg() -> WorldConfig:
    return small_config()


@pytest.fixture(scope="session")
def world(tmp_path_factory, small_cfg) -> Path:
    """The small world, written once per test session (read-only for the tests)."""
    out = tmp_path_factory.mktemp("world_a")
    counts = write_world(out, small_cfg)
    assert {k: counts[k] for k in ("avqa_train", "avqa_val", "mmau_test_mini")} == {
        "avqa_train": 14,
        "avqa_val": 7,
        "mmau_test_mini": 9,
    }
    return out


@pytest.fixture(scope="session")
def truth(world) -> list[dict]:
    """The small world's ground truth (``world/clips.jsonl``)."""
    return read_truth(world)

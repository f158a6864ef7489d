"""Tests of :func:`audioreason.world.write.write_world`: layout, determinism, audio, counts."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioreason.world.write import write_world


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_layout(world):
    files = _digests(world)
    assert {"avqa/train_qa.json", "avqa/val_qa.json", "mmau/mmau-test-mini.json", "world/clips.jsonl"} <= set(files)
    wavs = [f for f in files if f.endswith(".wav")]
    assert sum(f.startswith("avqa/audio/") for f in wavs) == 14 + 7
    assert sum(f.startswith("mmau/test-mini-audios/") for f in wavs) == 9
    assert {
        "world/visual.jsonl",
        "world/metadata.json",
        "vctk/speaker-info.txt",
        "vggsound/vggsound.csv",
        "cota/data/train-00000-of-00001.parquet",
        "music_avqa/json_update/avqa-test.json",
        "fau_aibo/labels/IS2009EmotionChallenge/chunk_labels_5cl_corpus.txt",
        "desed/dataset/metadata/validation/validation.tsv",
        "desed/dataset/metadata/train/weak.tsv",
        "audiosetcaps/VGGSound_AudioSetCaps_caption.csv",
    } <= set(files)


def test_same_seed_is_byte_identical(world, small_cfg, tmp_path):
    write_world(tmp_path, small_cfg)
    a, b = _digests(world), _digests(tmp_path)
    assert a.keys() == b.keys()
    assert a == b


def test_different_seed_differs(world, small_cfg, tmp_path):
    write_world(tmp_path, dataclasses.replace(small_cfg, seed=1))
    assert (tmp_path / "avqa" / "train_qa.json").read_bytes() != (world / "avqa" / "train_qa.json").read_bytes()
    assert (tmp_path / "mmau" / "mmau-test-mini.json").read_bytes() != (
        world / "mmau" / "mmau-test-mini.json"
    ).read_bytes()


def test_sample_rates_and_durations(world):
    for p in (world / "avqa" / "audio").glob("*.wav"):
        info = sf.info(p)
        assert (info.samplerate, info.channels, info.frames) == (32000, 1, 32000), p
    for p in (world / "mmau" / "test-mini-audios").glob("*.wav"):
        info = sf.info(p)
        assert (info.samplerate, info.channels, info.frames) == (16000, 1, 16000), p
    rates = {
        "music_avqa": 16000,
        "iemocap": 16000,
        "fau_aibo": 16000,
        "vctk": 48000,
        "desed": 16000,
        "maestro": 44100,
        "vggsound": 16000,
    }
    for top, sr in rates.items():
        files = [p for p in (world / top).rglob("*") if p.suffix in (".wav", ".flac") and not p.name.startswith("._")]
        assert files, top
        for p in files:
            info = sf.info(p)
            assert (info.samplerate, info.channels) == (sr, 1), p
    assert sf.info(next((world / "maestro").rglob("*.wav"))).duration == pytest.approx(4.0)


def test_clips_are_not_silent(world):
    for p in world.rglob("*"):
        if p.suffix not in (".wav", ".flac") or p.name.startswith("._"):
            continue
        x, _ = sf.read(p, dtype="float64")
        rms_dbfs = 20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-12)
        peak_dbfs = 20 * np.log10(np.abs(x).max())
        assert rms_dbfs > -55.0, p
        assert peak_dbfs < -0.5, p  # never clipped
        if p.is_relative_to(world / "avqa") or p.is_relative_to(world / "mmau"):
            assert -13.0 < peak_dbfs < -2.5, p  # seeded loudness: -12..-3 dBFS peak


def test_importers_report_the_worlds_own_counts(world):
    from audioreason.datasets.inspect import inspect_dataset

    meta = json.loads((world / "world" / "metadata.json").read_text())
    assert len(meta["datasets"]) == 17
    for name, expected in meta["datasets"].items():
        got = inspect_dataset(expected["format"], world / expected["path"])
        for key, value in expected.items():
            if key != "path":
                assert got[key] == value, (name, key, got.get(key), value)


def test_ground_truth_lines_come_in_writer_order(truth):
    # audiosetcaps captions the avqa and vggsound lines in this order; reordering changes the data.
    order = list(dict.fromkeys(t["dataset"] for t in truth))
    assert order == [
        "avqa",
        "mmau",
        "music_avqa",
        "iemocap",
        "fau_aibo",
        "vctk",
        "desed",
        "maestro",
        "vggsound",
        "cota",
    ]

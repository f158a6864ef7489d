"""Tests of the synthetic audio world: determinism, real formats, audio properties."""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioreason.config import WorldConfig, load_params
from audioreason.datasets.avqa import read_avqa
from audioreason.datasets.mmau import read_mmau
from audioreason.world.generator import KINDS, write_world

def _small() -> WorldConfig:
    """The params.yaml world, shrunk so that every dataset has a handful of items."""
    cfg = load_params(Path(__file__).resolve().parents[2] / "params.yaml", sections=["world"])["world"]
    r = dataclasses.replace
    return r(cfg, clip_seconds=1.0, n_train=14, n_val=7, n_test_mini=9, avqa_view_fraction=0.0,
             music_avqa=r(cfg.music_avqa, train_videos=3, val_videos=2, test_videos=3),
             iemocap=r(cfg.iemocap, dialogs_per_session=1, utterances_per_dialog=6),
             fau_aibo=r(cfg.fau_aibo, ohm_chunks=6, mont_chunks=4),
             vctk=r(cfg.vctk, speakers=3, utterances_per_speaker=2),
             desed=r(cfg.desed, clip_seconds=3.0, strong_clips=3, weak_clips=2),
             maestro=r(cfg.maestro, clip_seconds=4.0, files_per_scene=1),
             vggsound=r(cfg.vggsound, train_clips=4, test_clips=2, audioset_captions=2),
             cota=r(cfg.cota, items=20, defect_rate=0.1))


CFG = _small()


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world_a")
    counts = write_world(out, CFG)
    assert {k: counts[k] for k in ("avqa_train", "avqa_val", "mmau_test_mini")} == {
        "avqa_train": 14, "avqa_val": 7, "mmau_test_mini": 9}
    return out


def test_layout(world):
    files = _digests(world)
    assert {"avqa/train_qa.json", "avqa/val_qa.json", "mmau/mmau-test-mini.json", "world/clips.jsonl"} <= set(files)
    wavs = [f for f in files if f.endswith(".wav")]
    assert sum(f.startswith("avqa/audio/") for f in wavs) == 14 + 7
    assert sum(f.startswith("mmau/test-mini-audios/") for f in wavs) == 9
    assert {"world/visual.jsonl", "world/metadata.json", "vctk/speaker-info.txt", "vggsound/vggsound.csv",
            "cota/data/train-00000-of-00001.parquet", "music_avqa/json_update/avqa-test.json",
            "fau_aibo/labels/IS2009EmotionChallenge/chunk_labels_5cl_corpus.txt",
            "desed/dataset/metadata/validation/validation.tsv", "desed/dataset/metadata/train/weak.tsv",
            "audiosetcaps/VGGSound_AudioSetCaps_caption.csv"} <= set(files)


def test_same_seed_is_byte_identical(world, tmp_path):
    write_world(tmp_path, CFG)
    a, b = _digests(world), _digests(tmp_path)
    assert a.keys() == b.keys()
    assert a == b


def test_different_seed_differs(world, tmp_path):
    write_world(tmp_path, dataclasses.replace(CFG, seed=1))
    assert (tmp_path / "avqa" / "train_qa.json").read_bytes() != (world / "avqa" / "train_qa.json").read_bytes()
    assert (tmp_path / "mmau" / "mmau-test-mini.json").read_bytes() != (
        world / "mmau" / "mmau-test-mini.json"
    ).read_bytes()


def test_avqa_reads_with_real_importer(world):
    train = read_avqa(world / "avqa" / "train_qa.json", world / "avqa" / "audio", "train").records
    val = read_avqa(world / "avqa" / "val_qa.json", world / "avqa" / "audio", "val").records
    assert len(train) == 14 and len(val) == 7
    assert len({r.id for r in train + val}) == 21  # ids do not collide across splits
    for r in train + val:
        assert r.answer in r.choices
        assert "video" not in r.question.lower()  # audio variant
        assert Path(r.audio).is_file()
        assert len(r.extra["ytid"]) == 11
        assert r.extra["start_s"] % 10 == 0
        assert r.category in {"View", "Sound", "Both"}
    raw = json.loads((world / "avqa" / "train_qa.json").read_text())
    assert all(len(x["multi_choice"]) == 4 for x in raw)
    assert all("video" in x["question_text"] for x in raw)
    assert set(raw[0]) == {"id", "video_name", "video_id", "question_text", "multi_choice", "answer",
                           "question_relation", "question_type"}


def test_mmau_reads_with_real_importer(world):
    recs = read_mmau(world / "mmau" / "mmau-test-mini.json", world / "mmau").records
    assert len(recs) == 9
    for r in recs:
        assert r.answer in r.choices
        assert 2 <= len(r.choices) <= 8
        assert len(set(r.choices)) == len(r.choices)
        assert r.difficulty in {"easy", "medium", "hard"}
        assert r.category in {"Reasoning", "Information Extraction"}
        assert Path(r.audio).is_file()
    assert collections.Counter(r.task for r in recs) == {"sound": 3, "music": 3, "speech": 3}
    raw = json.loads((world / "mmau" / "mmau-test-mini.json").read_text())
    assert all(x["audio_id"] == f"./test-mini-audios/{x['id']}.wav" for x in raw)


def test_sample_rates_and_durations(world):
    for p in (world / "avqa" / "audio").glob("*.wav"):
        info = sf.info(p)
        assert (info.samplerate, info.channels, info.frames) == (32000, 1, 32000), p
    for p in (world / "mmau" / "test-mini-audios").glob("*.wav"):
        info = sf.info(p)
        assert (info.samplerate, info.channels, info.frames) == (16000, 1, 16000), p
    rates = {"music_avqa": 16000, "iemocap": 16000, "fau_aibo": 16000, "vctk": 48000, "desed": 16000,
             "maestro": 44100, "vggsound": 16000}
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


def test_every_kind_in_train(world):
    truth = [json.loads(line) for line in (world / "world" / "clips.jsonl").read_text().splitlines()]
    train = [t for t in truth if t["dataset"] == "avqa" and t["split"] == "train"]
    assert collections.Counter(t["kind"] for t in train) == {k.name: 2 for k in KINDS}  # 14 = 2 x 7 kinds
    # Ground truth agrees with the questions: same answers, in file order.
    raw = json.loads((world / "avqa" / "train_qa.json").read_text())
    assert [x["multi_choice"][x["answer"]] for x in raw] == [t["answer"] for t in train]
    assert [f"avqa/audio/{x['video_name']}.wav" for x in raw] == [t["clip"] for t in train]


def test_mmau_tasks_balanced_with_remainder(tmp_path):
    write_world(tmp_path, dataclasses.replace(CFG, n_train=1, n_val=1, n_test_mini=4))
    items = json.loads((tmp_path / "mmau" / "mmau-test-mini.json").read_text())
    assert collections.Counter(x["task"] for x in items) == {"music": 2, "sound": 1, "speech": 1}


# --------------------------------------------------------------------------- every dataset, through the importers


def test_importers_report_the_worlds_own_counts(world):
    from audioreason.datasets.inspect import inspect_dataset

    meta = json.loads((world / "world" / "metadata.json").read_text())
    assert len(meta["datasets"]) == 15
    for name, expected in meta["datasets"].items():
        got = inspect_dataset(expected["format"], world / expected["path"])
        for key, value in expected.items():
            if key != "path":
                assert got[key] == value, (name, key, got.get(key), value)


def _truth(world) -> list[dict]:
    return [json.loads(line) for line in (world / "world" / "clips.jsonl").read_text().splitlines()]


def _answer_from_truth(t: dict) -> str:
    from audioreason.world import sounds

    kind = t["kind"]
    if kind == "source":
        return sounds.event_label(t["events"][0])
    if kind == "count":
        return ["one", "two", "three", "four"][len(t["events"]) - 1]
    if kind == "order":
        return sounds.event_label(t["events"][0])
    if kind in ("instrument",):
        return t["instrument"]
    if kind == "tempo":
        return t["tempo"]
    if kind == "speaker":
        return t["speakers"][0]
    if kind == "n_speakers":
        return ["one", "two", "three"][len(t["speakers"]) - 1]
    if kind == "view":
        return t["visible"][0].removeprefix("a ")
    raise AssertionError(kind)


def test_every_question_answer_recomputed_from_ground_truth(world):
    truth = _truth(world)
    by_clip = {t["clip"]: t for t in truth}
    for split in ("train", "val"):
        for x in json.loads((world / "avqa" / f"{split}_qa.json").read_text()):
            t = by_clip[f"avqa/audio/{x['video_name']}.wav"]
            assert x["multi_choice"][x["answer"]] == _answer_from_truth(t)
    for x in json.loads((world / "mmau" / "mmau-test-mini.json").read_text()):
        assert x["answer"] == _answer_from_truth(by_clip[f"mmau/test-mini-audios/{x['id']}.wav"])
    # MUSIC-AVQA: recompute the answers of the templates from the ensemble.
    words = ["zero", "one", "two", "three", "four"]
    n_checked = 0
    for split in ("train", "val", "test"):
        for x in json.loads((world / "music_avqa" / "json_update" / f"avqa-{split}.json").read_text()):
            t = by_clip[f"music_avqa/audio/{x['video_id']}.wav"]
            sounding = [p for p in t["players"] if p["sounding"]]
            q, v = x["question_content"][:-1], json.loads(x["templ_values"])
            expected = {
                "How many musical instruments were heard throughout the video": words[len(sounding)],
                "How many instruments are sounding in the video": words[len(sounding)],
                "How many types of musical instruments appeared in the entire video": words[len(t["players"])],
                "Where is the performance": "indoor" if t["indoor"] else "outdoor",
                "Is there a voiceover": "yes" if t["voiceover"] else "no",
                "Is there a <Object> sound": "yes" if v and v[0] in {p["instrument"] for p in sounding} else "no",
            }.get(q)
            if q == "Is the <Object> louder than the <Object>":
                a, b = (next(p for p in sounding if p["instrument"] == i) for i in v)
                expected = "yes" if a["gain_db"] > b["gain_db"] else "no"
            if expected is not None:
                assert x["anser"] == expected, (x, t)
                n_checked += 1
    assert n_checked > 5
    # Speech corpora: the written labels and transcripts are the ground truth.
    emo = {t["clip"].rsplit("/", 1)[1][:-4]: t for t in truth if t["dataset"] == "iemocap"}
    for f in (world / "iemocap").rglob("EmoEvaluation/Ses*.txt"):
        for line in f.read_text().splitlines():
            if line.startswith("["):
                _, utt, code, _ = line.split("\t")
                assert emo[utt]["code"] == code and utt.rsplit("_", 1)[1][0] == emo[utt]["gender"]
    fau = {t["clip"].rsplit("/", 1)[1][:-4]: t for t in truth if t["dataset"] == "fau_aibo"}
    letters = {"A": "anger", "E": "emphatic", "N": "neutral", "P": "positive", "R": "rest"}
    for line in (world / "fau_aibo" / "labels" / "IS2009EmotionChallenge" / "chunk_labels_5cl_corpus.txt").read_text().split("\n")[:-1]:
        chunk, cls, _ = line.split(" ")
        assert fau[chunk]["emotion"] == letters[cls]
    for t in truth:
        if t["dataset"] == "vctk" and t["speaker"] != "p315":
            sid, n = t["clip"].rsplit("/", 1)[1].split("_")[:2]
            assert (world / "vctk" / "txt" / sid / f"{sid}_{n}.txt").read_text().strip() == t["text"]


def test_cota_defects_are_the_only_quarantined_items(world):
    from audioreason.datasets.cota import read as read_cota

    result = read_cota(world / "cota" / "data", on_error="quarantine")
    truth = {t["clip"].split("#")[1]: t for t in _truth(world) if t["dataset"] == "cota"}
    assert {r.id for r in result.records} == {i for i, t in truth.items() if not t["defect"]}
    assert len(result.quarantined) == sum(t["defect"] for t in truth.values()) == 2
    for r in result.records:
        assert r.answer == truth[r.id]["answer"]


def test_visual_channel_shows_sources_not_acoustics(world):
    visual = {json.loads(line)["clip"]: json.loads(line) for line in (world / "world" / "visual.jsonl").read_text().splitlines()}
    truth = _truth(world)
    avqa = [t for t in truth if t["dataset"] == "avqa"]
    assert all(t["clip"] in visual for t in avqa)
    for t in avqa:
        text = " ".join(visual[t["clip"]]["visible"])
        assert not any(w in text for w in ("slow", "moderate", "fast", "times")), text
    assert any(t["dataset"] == "music_avqa" and t["clip"] in visual for t in truth)


def test_caption_hallucinations_are_recorded(tmp_path):
    cfg = dataclasses.replace(CFG, vggsound=dataclasses.replace(CFG.vggsound, caption_hallucination_rate=1.0))
    write_world(tmp_path, cfg)
    truth = [t for t in _truth(tmp_path) if t["dataset"] in ("avqa", "vggsound")]
    assert truth and all(t["caption_hallucination"] in t["caption"] for t in truth)
    write_world(tmp_path / "b", dataclasses.replace(cfg, vggsound=dataclasses.replace(cfg.vggsound, caption_hallucination_rate=0.0)))
    assert not any("caption_hallucination" in t for t in _truth(tmp_path / "b"))

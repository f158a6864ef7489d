"""Tests of the ARC-Easy writer and the MMAU test-full writer: read by the real importers, appended streams."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import numpy as np

from audioreason.datasets.arc import read_arc
from audioreason.datasets.mmau import read_mmau
from audioreason.evaluation.mmau import score_mmau, write_submission
from audioreason.world.arc import ARC_DIR, write_arc
from audioreason.world.mmau import write_mmau

WORLD_WRITERS_BEFORE_ARC = 12  # spawns of write_world before the ARC and test-full writers were appended


def test_arc_files_read_with_the_real_importer(world, small_cfg):
    root = world / ARC_DIR
    assert sorted(p.name for p in root.iterdir()) == [
        "ARC-Easy-Dev.jsonl",
        "ARC-Easy-Test.jsonl",
        "ARC-Easy-Train.jsonl",
    ]
    result = read_arc(root)
    assert not result.quarantined
    splits = collections.Counter(r.split for r in result.records)
    assert splits == {
        "train": small_cfg.arc.train_items,
        "val": small_cfg.arc.dev_items,
        "test": small_cfg.arc.test_items,
    }
    assert {(r.dataset, r.audio, r.task) for r in result.records} == {("arc_easy", "", "")}
    assert len({r.id for r in result.records}) == len(result.records)  # ids unique over the three files


def test_arc_release_layout_with_numeric_labels_and_odd_choice_counts(world, small_cfg):
    path = world / ARC_DIR / "ARC-Easy-Train.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert all(list(x) == ["id", "question", "answerKey"] and list(x["question"]) == ["stem", "choices"] for x in lines)
    labels = [[c["label"] for c in x["question"]["choices"]] for x in lines]
    n = small_cfg.arc.train_items
    assert sum(lab[0] == "1" for lab in labels) == round(small_cfg.arc.numeric_label_fraction * n) > 0
    counts = collections.Counter(len(lab) for lab in labels)
    n_odd = round(small_cfg.arc.odd_choice_fraction * n)
    assert counts[3] == (n_odd + 1) // 2 > 0 and counts[5] == n_odd // 2 > 0 and counts[4] == n - n_odd
    assert all(lab in (list("ABCDE"[: len(lab)]), [str(k + 1) for k in range(len(lab))]) for lab in labels)
    for x, lab in zip(lines, labels):
        assert x["answerKey"] in lab
    # Answerable from the text: an echo heard 2k seconds later puts the cliff 170 * 2k meters away.
    recs = read_arc(path).records
    echoes = [r for r in recs if "echo" in r.question]
    for r in echoes:
        seconds = int(r.question.split("echo ")[1].split(" seconds")[0])
        assert r.answer == f"{170 * seconds} meters"


def test_arc_is_deterministic_and_seeded(small_cfg, tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        write_arc(tmp_path / name, small_cfg, np.random.SeedSequence(seed))
    train = [(tmp_path / n / ARC_DIR / "ARC-Easy-Train.jsonl").read_bytes() for n in "abc"]
    assert train[0] == train[1] != train[2]


def test_test_full_is_published_without_answers(world, small_cfg):
    raw = json.loads((world / "mmau" / "mmau-test.json").read_text())
    assert len(raw) == small_cfg.n_test_full
    assert {(x["split"], x["answer"]) for x in raw} == {("test", "")}
    assert all(x["audio_id"] == f"./test-audios/{x['id']}.wav" for x in raw)
    recs = read_mmau(world / "mmau" / "mmau-test.json", world / "mmau").records
    assert [r.id for r in recs] == [x["id"] for x in raw] and all(Path(r.audio).is_file() for r in recs)
    assert collections.Counter(r.task for r in recs) == {
        t: small_cfg.n_test_full // 3 for t in ("sound", "music", "speech")
    }
    mini = json.loads((world / "mmau" / "mmau-test-mini.json").read_text())
    assert not {x["id"] for x in mini} & {x["id"] for x in raw}


def test_test_full_answer_key_stays_out_of_the_teachers_truth(world, truth):
    raw = json.loads((world / "mmau" / "mmau-test.json").read_text())
    hidden = [json.loads(x) for x in (world / "world" / "mmau-test-truth.jsonl").read_text().splitlines()]
    assert [h["clip"] for h in hidden] == [f"mmau/test-audios/{x['id']}.wav" for x in raw]
    assert all(h["answer"] in x["choices"] and h["split"] == "test" for h, x in zip(hidden, raw))
    assert not [t for t in truth if "test-audios" in t["clip"]]
    # The answer key scores a submission as the leaderboard would.
    path = write_submission(raw, {x["id"]: h["answer"] for x, h in zip(raw, hidden)}, world.parent / "sub.json")
    scored = [dict(x, answer=h["answer"]) for x, h in zip(json.loads(path.read_text()), hidden)]
    assert score_mmau(scored)["overall"] == 100.0


def test_new_writers_are_appended_spawns(world, small_cfg, tmp_path):
    # Appending keeps every earlier writer's stream: test-mini is still drawn from spawn #2 of 12.
    streams = np.random.SeedSequence(small_cfg.seed).spawn(WORLD_WRITERS_BEFORE_ARC)
    write_mmau(tmp_path, small_cfg, streams[2], [])
    assert (tmp_path / "mmau" / "mmau-test-mini.json").read_bytes() == (
        world / "mmau" / "mmau-test-mini.json"
    ).read_bytes()
    arc_stream = np.random.SeedSequence(small_cfg.seed).spawn(WORLD_WRITERS_BEFORE_ARC + 1)[-1]
    write_arc(tmp_path, small_cfg, arc_stream)
    name = ARC_DIR / "ARC-Easy-Train.jsonl"
    assert (tmp_path / name).read_bytes() == (world / name).read_bytes()

"""Tests of the scene model: every answer is in the clip's ground truth, options, schedules, vision."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest

from audioreason.world import sounds
from audioreason.world.scenes import (
    COUNT_OPTIONS,
    KINDS,
    NUMBER_WORDS,
    VIEW_KIND,
    balanced_schedule,
    render,
    shuffled_options,
)


def _answer_from_truth(t: dict) -> str:
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


@pytest.mark.parametrize("kind", [*KINDS, VIEW_KIND], ids=lambda k: k.name)
def test_render_answers_from_ground_truth_at_a_seeded_level(kind):
    for seed in range(4):
        scene = render(kind, np.random.default_rng(seed), 16000, 1.0)
        assert scene.kind == kind.name
        assert scene.audio.dtype == np.float32 and scene.audio.shape == (16000,)
        assert -12.01 < 20 * np.log10(np.abs(scene.audio).max()) < -2.99
        assert _answer_from_truth({"kind": kind.name, **scene.truth}) == scene.answer
        assert scene.answer not in scene.distractors and len(set(scene.distractors)) == len(scene.distractors)


def test_render_is_deterministic():
    a, b = (render(KINDS[0], np.random.default_rng(3), 16000, 1.0) for _ in range(2))
    assert np.array_equal(a.audio, b.audio) and a.truth == b.truth


def test_shuffled_options_hold_the_answer_once():
    scene = render(KINDS[0], np.random.default_rng(0), 16000, 1.0)
    for n in (2, 4, 8):
        opts = shuffled_options(np.random.default_rng(n), scene, n)
        assert len(opts) == n and opts.count(scene.answer) == 1 and set(opts) <= {scene.answer, *scene.distractors}


def test_balanced_schedule_spreads_the_remainder():
    sched = balanced_schedule(np.random.default_rng(0), 16, KINDS)
    assert sorted(collections.Counter(k.name for k in sched).values()) == [2] * 5 + [3] * 2


def test_count_words():
    assert NUMBER_WORDS[3] == "three" and COUNT_OPTIONS[:4] == ["one", "two", "three", "four"]


def test_every_avqa_and_mmau_answer_recomputed_from_ground_truth(world, truth):
    by_clip = {t["clip"]: t for t in truth}
    for split in ("train", "val"):
        for x in json.loads((world / "avqa" / f"{split}_qa.json").read_text()):
            t = by_clip[f"avqa/audio/{x['video_name']}.wav"]
            assert x["multi_choice"][x["answer"]] == _answer_from_truth(t)
    for x in json.loads((world / "mmau" / "mmau-test-mini.json").read_text()):
        assert x["answer"] == _answer_from_truth(by_clip[f"mmau/test-mini-audios/{x['id']}.wav"])


def test_visual_channel_shows_sources_not_acoustics(world, truth):
    visual = {
        json.loads(line)["clip"]: json.loads(line)
        for line in (world / "world" / "visual.jsonl").read_text().splitlines()
    }
    avqa = [t for t in truth if t["dataset"] == "avqa"]
    assert all(t["clip"] in visual for t in avqa)
    for t in avqa:
        text = " ".join(visual[t["clip"]]["visible"])
        assert not any(w in text for w in ("slow", "moderate", "fast", "times")), text
    assert any(t["dataset"] == "music_avqa" and t["clip"] in visual for t in truth)

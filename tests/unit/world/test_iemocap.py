"""Tests of the IEMOCAP writer: EmoEvaluation codes and speaker genders are the ground truth."""

from __future__ import annotations


def test_emoevaluation_lines_are_the_ground_truth(world, truth):
    emo = {t["clip"].rsplit("/", 1)[1][:-4]: t for t in truth if t["dataset"] == "iemocap"}
    n_lines = 0
    for f in (world / "iemocap").rglob("EmoEvaluation/Ses*.txt"):
        for line in f.read_text().splitlines():
            if line.startswith("["):
                _, utt, code, _ = line.split("\t")
                assert emo[utt]["code"] == code and utt.rsplit("_", 1)[1][0] == emo[utt]["gender"]
                n_lines += 1
    assert n_lines == len(emo) == 5 * 6  # five sessions, one dialog of six utterances each


def test_traps_of_the_real_release(world):
    root = world / "iemocap" / "IEMOCAP_full_release"
    assert sorted(p.name for p in root.iterdir()) == [f"Session{s}" for s in range(1, 6)]
    assert list(root.rglob("EmoEvaluation/Categorical/*.txt"))
    assert list(root.rglob("._*.txt")) and list(root.rglob("._*.wav"))

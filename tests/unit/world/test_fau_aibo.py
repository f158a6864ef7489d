"""Tests of the FAU-Aibo writer: chunk labels are the ground truth; schools are the splits."""

from __future__ import annotations


def test_chunk_labels_are_the_ground_truth(world, truth):
    fau = {t["clip"].rsplit("/", 1)[1][:-4]: t for t in truth if t["dataset"] == "fau_aibo"}
    letters = {"A": "anger", "E": "emphatic", "N": "neutral", "P": "positive", "R": "rest"}
    lines = (
        (world / "fau_aibo" / "labels" / "IS2009EmotionChallenge" / "chunk_labels_5cl_corpus.txt")
        .read_text()
        .split("\n")[:-1]
    )
    for line in lines:
        chunk, cls, _ = line.split(" ")
        assert fau[chunk]["emotion"] == letters[cls]
    assert len(lines) == len(fau) == 6 + 4
    assert {t["split"] for c, t in fau.items() if c.startswith("Ohm_")} == {"train"}
    assert {t["split"] for c, t in fau.items() if c.startswith("Mont_")} == {"test"}

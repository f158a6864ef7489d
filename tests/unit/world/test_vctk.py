"""Tests of the VCTK writer: transcripts are the ground truth; the p280 / p315 traps."""

from __future__ import annotations


def test_transcripts_are_the_ground_truth(world, truth):
    lines = [t for t in truth if t["dataset"] == "vctk"]
    assert lines
    for t in lines:
        if t["speaker"] != "p315":
            sid, n = t["clip"].rsplit("/", 1)[1].split("_")[:2]
            assert (world / "vctk" / "txt" / sid / f"{sid}_{n}.txt").read_text().strip() == t["text"]


def test_p280_has_no_mic2_and_p315_no_text(world):
    wav = world / "vctk" / "wav48_silence_trimmed"
    assert list((wav / "p280").glob("*_mic1.flac")) and not list((wav / "p280").glob("*_mic2.flac"))
    assert list((wav / "p315").glob("*_mic2.flac")) and not (world / "vctk" / "txt" / "p315").exists()

"""The quality gate: findings from every check, the policy, kept records, and the reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioreason.datasets.records import QARecord, Utterance, write_manifest
from audioreason.quality.audio_checks import AudioLimits
from audioreason.quality.checks import Policy
from audioreason.quality.expectations import ManifestRules
from audioreason.quality.findings import QualityError
from audioreason.quality.gate import ManifestSpec, run_quality_gate

SR = 16_000
LIMITS = AudioLimits(sample_rates=(SR,), max_channels=1, min_duration_s=0.5, max_duration_s=10.0)
FAIL = Policy({"default": "fail"})
QUARANTINE = Policy({"default": "quarantine"})


def _clip(path: Path, seed: int, silent: bool = False) -> str:
    rng = np.random.default_rng(seed)
    x = np.zeros(SR, np.float32) if silent else (0.1 * rng.standard_normal(SR) * np.repeat(rng.random(50), 320))
    sf.write(path, x.astype(np.float32), SR, subtype="PCM_16")
    return str(path)


def _qa(i: int, audio: str, split: str = "train", **kw) -> QARecord:
    d = dict(
        id=str(i),
        dataset="avqa",
        split=split,
        audio=audio,
        question=f"<q{i}>?",
        choices=("dog", "cat"),
        answer="dog",
        task="",
        source=f"{split}_qa.json#{i}",
    )
    d.update(kw)
    return QARecord(**d)


@pytest.fixture()
def world(tmp_path: Path) -> dict:
    audio = [_clip(tmp_path / f"clip{i}.wav", i) for i in range(6)]
    silent = _clip(tmp_path / "silent.wav", 0, silent=True)
    train = [_qa(0, audio[0]), _qa(1, silent), _qa(2, audio[1], answer="<lion>"), _qa(3, audio[2]), _qa(4, silent)]
    evals = [_qa(0, audio[3], split="val"), _qa(1, audio[2], split="val"), _qa(2, audio[4], split="val")]
    write_manifest(train, tmp_path / "train.jsonl")
    write_manifest(evals, tmp_path / "val.jsonl")
    rules = ManifestRules(splits=["train", "val"], tasks=[""])
    specs = [
        ManifestSpec("train", "QARecord", tmp_path / "train.jsonl", 5, rules, LIMITS),
        ManifestSpec("val", "QARecord", tmp_path / "val.jsonl", 3, rules, LIMITS),
    ]
    return {"specs": specs, "train": train, "evals": evals, "tmp": tmp_path}


def _gate(world, policy, **kw):
    return run_quality_gate(world["specs"], policy=policy, overlap=[("train", "val")], **kw)


def test_fail_policy_names_every_offending_row(world):
    result = _gate(world, FAIL)
    report = result.report
    assert not report.success
    got = sorted((f.check, f.manifest, f.row) for f in report.findings)
    assert got == [
        ("audio.silent", "train", 1),
        ("audio.silent", "train", 4),
        ("manifest.answer_in_choices", "train", 2),
        ("overlap.clip_id", "train", 3),
    ]
    assert all(f.action == "fail" for f in report.findings)
    summary = {m.name: (m.n_in, m.n_kept, m.n_quarantined, m.n_failed) for m in report.manifests}
    assert summary == {"train": (5, 1, 0, 4), "val": (3, 3, 0, 0)}
    with pytest.raises(QualityError, match="Quality checks FAILED: 3 check"):
        report.raise_for_failure()


def test_quarantine_policy_sets_rows_aside_and_keeps_the_rest_in_order(world):
    result = _gate(world, QUARANTINE)
    report = result.report
    assert report.success
    assert [r.id for r in result.kept["train"]] == ["0"]
    assert result.kept["val"] == world["evals"]
    lines = report.quarantine_lines()
    assert [(q["manifest"], q["id"], q["check"]) for q in lines] == [
        ("train", "1", "audio.silent"),
        ("train", "2", "manifest.answer_in_choices"),
        ("train", "3", "overlap.clip_id"),
        ("train", "4", "audio.silent"),
    ]
    assert lines[0]["source"] == "train_qa.json#1"
    assert lines[2]["overlaps_with"] == [{"manifest": "val", "id": "1", "source": "val_qa.json#1"}]
    assert report.summary_line() == (
        "Quality checks passed: 2 manifest(s), 8 records (4 kept, 4 quarantined), 6 audio file(s)."
    )


def test_mixed_policy(world):
    policy = Policy({"default": "fail", "audio.silent": "quarantine", "overlap.clip_id": "quarantine"})
    report = _gate(world, policy).report
    assert not report.success
    assert {f.check for f in report.findings if f.action == "fail"} == {"manifest.answer_in_choices"}
    assert report.manifests[0].n_quarantined == 3 and report.manifests[0].n_failed == 1


def test_overlap_pairs_name_both_records(world):
    report = _gate(world, QUARANTINE).report
    (pair,) = report.overlaps
    assert (pair.check, pair.train, pair.eval, pair.train_clip) == ("overlap.clip_id", "train", "val", "clip2")
    assert pair.train_rows == (3,) and pair.eval_rows == (1,)
    finding = next(f for f in report.findings if f.check == "overlap.clip_id")
    assert finding.problem == "clip clip2 is also in val (1 row(s))"


def test_fingerprint_overlap_of_a_renamed_copy(world):
    tmp = world["tmp"]
    x, _ = sf.read(world["train"][0].audio, dtype="float32")
    sf.write(tmp / "renamed.wav", 0.7 * x, SR, subtype="PCM_24")
    evals = world["evals"] + [_qa(3, str(tmp / "renamed.wav"), split="val")]
    write_manifest(evals, tmp / "val.jsonl")
    specs = [world["specs"][0], ManifestSpec("val", "QARecord", tmp / "val.jsonl", 4, world["specs"][1].rules, LIMITS)]
    report = run_quality_gate(specs, policy=QUARANTINE, overlap=[("train", "val")]).report
    fp = [p for p in report.overlaps if p.check == "overlap.fingerprint"]
    assert [(p.train_clip, p.eval_clip, p.train_rows, p.eval_rows) for p in fp] == [("clip0", "renamed", (0,), (3,))]
    assert fp[0].bit_error_rate <= 0.05
    # Without an overlap pair nothing is fingerprinted, so nothing matches.
    report = run_quality_gate(specs, policy=QUARANTINE).report
    assert report.overlaps == [] and all(a.fingerprint is None for a in report.audio)


def test_split_selectors_compare_two_splits_of_one_manifest(tmp_path):
    audio = [_clip(tmp_path / f"u{i}.wav", i) for i in range(3)]
    utts = [
        Utterance(
            id=f"u{i}", dataset="iemocap", split=s, audio=a, speaker="S", gender="F", label="neu", source=f"emo.txt#{i}"
        )
        for i, (s, a) in enumerate(zip(["train", "train", "test"], audio))
    ]
    utts.append(
        Utterance(
            id="u0",
            dataset="iemocap",
            split="test",
            audio=audio[0],
            speaker="S",
            gender="F",
            label="neu",
            source="emo.txt#3",
        )
    )
    write_manifest(utts, tmp_path / "iemocap.jsonl")
    spec = ManifestSpec(
        "iemocap",
        "Utterance",
        tmp_path / "iemocap.jsonl",
        4,
        ManifestRules(splits=["train", "test"], labels=["neu"]),
        LIMITS,
    )
    report = run_quality_gate([spec], policy=QUARANTINE, overlap=[("iemocap:train", "iemocap:test")]).report
    assert [(p.train_clip, p.train_rows, p.eval_rows) for p in report.overlaps] == [("u0", (0,), (3,))]
    with pytest.raises(ValueError, match="no manifest named 'iemocab'"):
        run_quality_gate([spec], policy=QUARANTINE, overlap=[("iemocab:train", "iemocap:test")])


def test_unreadable_manifest_and_wrong_count_always_fail(world):
    tmp = world["tmp"]
    (tmp / "broken.jsonl").write_text('{"id": "1"}\nnot json\n')
    specs = [
        ManifestSpec("broken", "QARecord", tmp / "broken.jsonl", 2),
        ManifestSpec("absent", "QARecord", tmp / "absent.jsonl"),
        ManifestSpec("val", "QARecord", tmp / "val.jsonl", 99, world["specs"][1].rules, LIMITS),
    ]
    result = run_quality_gate(specs, policy=QUARANTINE)
    report = result.report
    assert not report.success
    table = [(f.manifest, f.check, f.action) for f in report.findings if f.row is None]
    assert table == [
        ("broken", "manifest.readable", "fail"),
        ("absent", "manifest.readable", "fail"),
        ("val", "manifest.index_count", "fail"),
    ]
    assert "line 1" in report.findings[0].problem
    assert "says 99 records, the manifest holds 3" in report.findings[2].problem
    assert result.kept["val"] == []


def test_reports_render_and_escape(world):
    report = _gate(world, Policy({"default": "quarantine", "manifest.answer_in_choices": "fail"})).report
    text = report.to_text()
    assert text.splitlines()[0].startswith(
        "Quality checks FAILED: 1 check(s) failed in 1 of 2 manifest(s) (1 row(s)): "
        "manifest.answer_in_choices; 3 row(s) would be quarantined"
    )
    assert "FAILED manifest.answer_in_choices in train (1 row(s))" in text
    assert "  train_qa.json#2 (id 2): answer not among choices: '<lion>' not in ['dog', 'cat']" in text
    assert "QUARANTINED audio.silent in train (2 row(s))" in text
    assert "used by: train_qa.json#1, train_qa.json#4" in text

    data = json.loads(json.dumps(report.to_json()))
    assert data["success"] is False
    assert data["manifests"]["train"] == {
        "record_type": "QARecord",
        "path": str(world["tmp"] / "train.jsonl"),
        "n_in": 5,
        "n_kept": 1,
        "n_quarantined": 3,
        "n_failed": 1,
        "success": False,
        "gx_statistics": data["manifests"]["train"]["gx_statistics"],
    }
    assert data["checks"]["audio.silent"] == {"action": "quarantine", "rows": 2, "manifests": {"train": 2}}
    assert data["audio"]["n_failed"] == 1 and data["audio"]["failures"][0]["checks"] == ["audio.silent"]
    assert data["overlaps"][0]["train_rows"] == [3]

    html = report.to_html()
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "http" not in html
    assert "&#39;&lt;lion&gt;&#39;" in html and "<lion>" not in html
    assert html.count("<table>") == 2

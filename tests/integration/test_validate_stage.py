"""The ``validate`` stage on a small ingest output: one test per kind of bad input.

Each test builds ``outputs/ingest/`` (index + manifests of three record types) over a few
generated clips, breaks one thing, runs the stage (in-process through ``run``; the last
tests as DVC runs it, ``python -m audioreason.stages.validate``), and checks the outcome
the policy asks for: a failure naming the row, or a counted, listed quarantine with the
row left out of the validated manifest.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from math import gcd
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from scipy.signal import resample_poly

from audioreason.config import ValidateConfig, build_section
from audioreason.datasets.records import Caption, QARecord, Utterance, read_manifest, write_manifest
from audioreason.stages import validate

pytestmark = pytest.mark.slow

PARAMS = {
    "policy": {
        "default": "fail",
        "audio.silent": "quarantine",
        "audio.clipping": "quarantine",
        "overlap.clip_id": "quarantine",
        "overlap.fingerprint": "quarantine",
    },
    "workers": 2,
    "defaults": {
        "audio": True,
        "sample_rates": [16000],
        "max_channels": 1,
        "min_duration_s": 0.5,
        "max_duration_s": 30.0,
        "silence_dbfs": -60.0,
        "clipping_fraction": 0.01,
        "splits": ["train", "val", "test"],
        "tasks": [""],
        "difficulties": [""],
        "labels": None,
    },
    "manifests": {
        "avqa_train": {"sample_rates": [32000], "splits": ["train"]},
        "mmau_test_mini": {
            "splits": ["test-mini"],
            "tasks": ["sound", "music", "speech"],
            "difficulties": ["easy", "medium", "hard"],
        },
        "iemocap": {"splits": ["train", "test"], "labels": ["ang", "hap", "neu", "sad"]},
        "audiosetcaps": {"audio": False},
    },
    "overlap": [["avqa_train", "mmau_test_mini"], ["iemocap:train", "iemocap:test"]],
    "fingerprint": {"max_bit_error_rate": 0.1, "min_compared_bits": 256},
}
N_TRAIN, N_EVAL = 8, 4


def clip(seed: int, sr: int, seconds: float = 1.5) -> np.ndarray:
    """Barks (harmonic bursts) at random times over a noise bed: same class, different timing and noise."""
    rng = np.random.default_rng(seed)
    x = 0.01 * rng.standard_normal(int(seconds * sr))
    for _ in range(int(rng.integers(2, 4))):
        t = np.arange(int(0.2 * sr)) / sr
        phase = 2 * np.pi * np.cumsum(450 * rng.uniform(0.9, 1.1) * np.linspace(1.15, 0.85, len(t))) / sr
        burst = (np.sin(phase) + 0.6 * np.sin(2 * phase) + 0.3 * rng.standard_normal(len(t))) * np.exp(-t / 0.06)
        start = int(rng.uniform(0, len(x) - len(t)))
        x[start : start + len(t)] += burst
    return (0.4 * x / np.abs(x).max()).astype(np.float32)


def cfg_from(params: dict) -> ValidateConfig:
    return build_section(ValidateConfig, params, "validate")


class Workspace:
    """``data/`` clips and ``outputs/ingest/`` manifests + index, editable before a run."""

    def __init__(self, root: Path):
        self.root = root
        self.ingest = root / "outputs" / "ingest"
        self.out = root / "outputs" / "validate"
        audio = root / "data"
        (audio / "avqa").mkdir(parents=True)
        (audio / "mmau").mkdir()
        (audio / "iemocap").mkdir()
        self.train = []
        for i in range(N_TRAIN):
            path = audio / "avqa" / f"yt{i}_000010.wav"
            sf.write(path, clip(i, 32000), 32000, subtype="PCM_16")
            self.train.append(
                QARecord(
                    id=str(i),
                    dataset="avqa",
                    split="train",
                    audio=str(path),
                    question="What makes the sound?",
                    choices=("dog", "cat", "bell", "car"),
                    answer="dog",
                    category="Sound",
                    sub_category="Come From",
                    source=f"data/avqa/train_qa.json#{i}",
                )
            )
        self.evals = []
        for i in range(N_EVAL):
            path = audio / "mmau" / f"m{i}.wav"
            sf.write(path, clip(100 + i, 16000), 16000, subtype="PCM_16")
            self.evals.append(
                QARecord(
                    id=f"m{i}",
                    dataset="mmau",
                    split="test-mini",
                    audio=str(path),
                    question="Which sound?",
                    choices=("dog", "cat"),
                    answer="cat",
                    task="sound",
                    difficulty="easy",
                    source=f"data/mmau/mmau-test-mini.json#{i}",
                )
            )
        self.utts = []
        for i, split in enumerate(["train", "train", "test", "test"]):
            path = audio / "iemocap" / f"Ses0{i + 1}F_impro01_F000.wav"
            sf.write(path, clip(200 + i, 16000), 16000, subtype="PCM_16")
            self.utts.append(
                Utterance(
                    id=path.stem,
                    dataset="iemocap",
                    split=split,
                    audio=str(path),
                    speaker=f"Ses0{i + 1}_F",
                    gender="F",
                    label="neu",
                    source=f"Session{i + 1}/dialog/EmoEvaluation/x.txt#{i}",
                )
            )
        self.caps = [
            Caption(
                id=f"Y{i}",
                dataset="audiosetcaps",
                caption="A dog barks.",
                corpus="audioset",
                source=f"caps.csv#{i + 2}",
            )
            for i in range(3)
        ]
        self.params = copy.deepcopy(PARAMS)
        self.write()

    def write(self) -> None:
        manifests = {
            "avqa_train": ("QARecord", "avqa", self.train),
            "mmau_test_mini": ("QARecord", "mmau", self.evals),
            "iemocap": ("Utterance", "iemocap", self.utts),
            "audiosetcaps": ("Caption", "audiosetcaps", self.caps),
        }
        index = {}
        for name, (record_type, fmt, records) in manifests.items():
            n = write_manifest(records, self.ingest / f"{name}.jsonl")
            index[name] = {"record_type": record_type, "format": fmt, "path": f"{name}.jsonl", "n": n}
        (self.ingest / "index.json").write_text(json.dumps({"manifests": index}))

    def run(self, **policy) -> validate.QualityReport:
        params = copy.deepcopy(self.params)
        params["policy"].update(policy)
        return validate.run(cfg_from(params), self.ingest, self.out)

    def audio_of(self, name: str, row: int) -> Path:
        return Path({"avqa_train": self.train, "mmau_test_mini": self.evals, "iemocap": self.utts}[name][row].audio)

    def kept(self, name: str) -> list:
        record_type = {
            "avqa_train": QARecord,
            "mmau_test_mini": QARecord,
            "iemocap": Utterance,
            "audiosetcaps": Caption,
        }[name]
        return read_manifest(self.out / f"{name}.jsonl", record_type)

    def quarantine(self) -> list[dict]:
        return [json.loads(line) for line in (self.out / "quarantine.jsonl").read_text().splitlines()]


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


def _rows(report, check: str) -> list[tuple[str, int, str]]:
    return [(f.manifest, f.row, f.action) for f in report.findings if f.check == check]


def _assert_failed(ws: Workspace, report, check: str, manifest: str, row: int) -> None:
    assert not report.success
    assert (manifest, row, "fail") in _rows(report, check)
    # Nothing validated is written when the stage fails; the reports are.
    assert not (ws.out / f"{manifest}.jsonl").exists() and not (ws.out / "index.json").exists()
    text = (ws.out / "report.txt").read_text()
    assert f"FAILED {check} in {manifest}" in text
    data = json.loads((ws.out / "report.json").read_text())
    assert data["success"] is False and data["checks"][check]["action"] == "fail"
    assert "FAILED" in (ws.out / "report.html").read_text()


def _assert_quarantined(ws: Workspace, report, check: str, manifest: str, row: int) -> None:
    assert report.success, report.to_text()
    assert (manifest, row, "quarantine") in _rows(report, check)
    kept = ws.kept(manifest)
    original = {"avqa_train": ws.train, "mmau_test_mini": ws.evals, "iemocap": ws.utts}[manifest]
    assert kept == [r for i, r in enumerate(original) if i != row]
    lines = [q for q in ws.quarantine() if q["manifest"] == manifest]
    assert [(q["row"], q["check"]) for q in lines] == [(row, check)]
    assert lines[0]["source"] == original[row].source and lines[0]["id"] == original[row].id
    index = json.loads((ws.out / "index.json").read_text())["manifests"]
    assert index[manifest]["n"] == len(original) - 1
    metrics = validate.stage_metrics(report)
    assert metrics["manifests"][manifest] == {
        "in": len(original),
        "kept": len(original) - 1,
        "quarantined": 1,
        "failed": 0,
    }
    assert metrics["checks"][check] == 1
    assert f"QUARANTINED {check} in {manifest} (1 row(s))" in (ws.out / "report.txt").read_text()


# --------------------------------------------------------------------------- clean input


def test_clean_input_passes_and_writes_every_output(ws):
    report = ws.run()
    assert report.success, report.to_text()
    assert report.overlaps == []  # different clips of one sound class do not collide
    assert {p.name for p in ws.out.iterdir()} == {
        "avqa_train.jsonl",
        "mmau_test_mini.jsonl",
        "iemocap.jsonl",
        "audiosetcaps.jsonl",
        "index.json",
        "quarantine.jsonl",
        "report.json",
        "report.txt",
        "report.html",
    }
    for name in ("avqa_train", "mmau_test_mini", "iemocap", "audiosetcaps"):
        assert (ws.out / f"{name}.jsonl").read_bytes() == (ws.ingest / f"{name}.jsonl").read_bytes()
    index = json.loads((ws.out / "index.json").read_text())["manifests"]
    assert index["iemocap"] == {"record_type": "Utterance", "format": "iemocap", "path": "iemocap.jsonl", "n": 4}
    assert ws.quarantine() == []
    metrics = validate.stage_metrics(report)
    assert metrics["success"] is True and metrics["records"] == metrics["records_kept"] == 19
    assert metrics["audio_checked"] == N_TRAIN + N_EVAL + 4 and metrics["audio_failed"] == 0
    assert metrics["checks"] == {}
    # Captions carry no audio: not checked, not fingerprinted.
    assert not any("audiosetcaps" in a.path for a in report.audio)
    assert (ws.out / "report.txt").read_text().startswith("Quality checks passed: 4 manifest(s), 19 records")


# --------------------------------------------------------------------------- audio


def test_truncated_wav_fails(ws):
    path = ws.audio_of("avqa_train", 2)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    report = ws.run()
    _assert_failed(ws, report, "audio.truncated", "avqa_train", 2)
    assert f"{path}: truncated: header declares" in (ws.out / "report.txt").read_text()
    assert "used by: data/avqa/train_qa.json#2" in (ws.out / "report.txt").read_text()


def test_truncated_wav_quarantined_by_policy(ws):
    path = ws.audio_of("avqa_train", 2)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _assert_quarantined(ws, ws.run(**{"audio.truncated": "quarantine"}), "audio.truncated", "avqa_train", 2)


def test_empty_file_fails_as_undecodable(ws):
    ws.audio_of("mmau_test_mini", 1).write_bytes(b"")
    report = ws.run()
    _assert_failed(ws, report, "audio.undecodable", "mmau_test_mini", 1)


def test_missing_file_fails(ws):
    ws.audio_of("iemocap", 0).unlink()
    _assert_failed(ws, ws.run(), "audio.missing", "iemocap", 0)


def test_wrong_sample_rate_is_per_manifest(ws):
    # A 16 kHz clip is right for MMAU and wrong for AVQA (32 kHz).
    path = ws.audio_of("avqa_train", 4)
    sf.write(path, clip(4, 16000), 16000, subtype="PCM_16")
    report = ws.run()
    _assert_failed(ws, report, "audio.sample_rate", "avqa_train", 4)
    assert "sample rate 16000 Hz not in {32000}" in (ws.out / "report.txt").read_text()
    assert _rows(report, "audio.sample_rate") == [("avqa_train", 4, "fail")]


def test_stereo_where_mono_is_required(ws):
    x = clip(5, 32000)
    sf.write(ws.audio_of("avqa_train", 5), np.stack([x, x], axis=1), 32000, subtype="PCM_16")
    report = ws.run()
    _assert_failed(ws, report, "audio.channels", "avqa_train", 5)
    ws.params["defaults"]["max_channels"] = 2
    assert ws.run().success


def test_nan_samples_fail(ws):
    x = clip(101, 16000)
    x[500:510] = np.nan
    sf.write(ws.audio_of("mmau_test_mini", 1), x, 16000, subtype="FLOAT")
    report = ws.run()
    _assert_failed(ws, report, "audio.non_finite", "mmau_test_mini", 1)
    assert "non-finite samples (10 NaN, 0 inf)" in (ws.out / "report.txt").read_text()


def test_clipping_quarantined(ws):
    sf.write(ws.audio_of("iemocap", 1), np.clip(8 * clip(201, 16000), -1, 1), 16000, subtype="PCM_16")
    _assert_quarantined(ws, ws.run(), "audio.clipping", "iemocap", 1)


def test_clipping_fails_under_fail_policy(ws):
    sf.write(ws.audio_of("iemocap", 1), np.clip(8 * clip(201, 16000), -1, 1), 16000, subtype="PCM_16")
    _assert_failed(ws, ws.run(**{"audio.clipping": "fail"}), "audio.clipping", "iemocap", 1)


def test_silent_clip_quarantined(ws):
    sf.write(ws.audio_of("avqa_train", 6), np.zeros(48000, np.float32), 32000, subtype="PCM_16")
    report = ws.run()
    _assert_quarantined(ws, report, "audio.silent", "avqa_train", 6)
    assert ws.quarantine()[0]["problem"] == "silent (rms -inf dBFS < -60 dBFS)"


def test_silent_clip_fails_under_fail_policy(ws):
    sf.write(ws.audio_of("avqa_train", 6), np.zeros(48000, np.float32), 32000, subtype="PCM_16")
    _assert_failed(ws, ws.run(**{"audio.silent": "fail"}), "audio.silent", "avqa_train", 6)


def test_a_shared_bad_clip_flags_every_row_using_it(ws):
    ws.train.append(
        QARecord(
            **{**ws.train[6].to_json(), "id": "8", "choices": ("dog", "cat"), "source": "data/avqa/train_qa.json#8"}
        )
    )
    ws.write()
    sf.write(ws.audio_of("avqa_train", 6), np.zeros(48000, np.float32), 32000, subtype="PCM_16")
    report = ws.run()
    assert report.success
    assert [(q["row"], q["check"]) for q in ws.quarantine()] == [(6, "audio.silent"), (8, "audio.silent")]
    assert len(ws.kept("avqa_train")) == N_TRAIN - 1
    assert report.to_json()["audio"]["failures"][0]["records"] == [
        "data/avqa/train_qa.json#6",
        "data/avqa/train_qa.json#8",
    ]


# --------------------------------------------------------------------------- records


def test_duplicate_ids_fail(ws):
    ws.evals[3] = QARecord(**{**ws.evals[3].to_json(), "id": "m0", "choices": ("dog", "cat")})
    ws.write()
    report = ws.run()
    _assert_failed(ws, report, "manifest.id_unique", "mmau_test_mini", 3)
    assert _rows(report, "manifest.id_unique") == [("mmau_test_mini", 0, "fail"), ("mmau_test_mini", 3, "fail")]


def test_duplicate_ids_quarantined_by_policy(ws):
    ws.utts[1] = Utterance(**{**ws.utts[1].to_json(), "id": ws.utts[0].id})
    ws.write()
    report = ws.run(**{"manifest.id_unique": "quarantine"})
    assert report.success
    assert [(q["row"], q["check"]) for q in ws.quarantine()] == [(0, "manifest.id_unique"), (1, "manifest.id_unique")]
    assert [u.id for u in ws.kept("iemocap")] == [u.id for u in ws.utts[2:]]


def test_wrong_field_types_fail(ws):
    lines = (ws.ingest / "avqa_train.jsonl").read_text().splitlines()
    bad = json.loads(lines[3])
    bad.update(id=3, choices="dog,cat")
    lines[3] = json.dumps(bad)
    (ws.ingest / "avqa_train.jsonl").write_text("\n".join(lines) + "\n")
    report = ws.run()
    _assert_failed(ws, report, "manifest.field_types", "avqa_train", 3)
    assert [f.check for f in report.findings] == ["manifest.field_types"]
    assert (
        "data/avqa/train_qa.json#3 (id 3): wrong field type: id: expected a string, got int; "
        "choices: expected a list, got str"
    ) in (ws.out / "report.txt").read_text()


def test_answer_not_among_choices_fails(ws):
    ws.train[1] = QARecord(**{**ws.train[1].to_json(), "answer": "lion", "choices": ("dog", "cat", "bell", "car")})
    ws.write()
    report = ws.run()
    _assert_failed(ws, report, "manifest.answer_in_choices", "avqa_train", 1)
    assert (
        "data/avqa/train_qa.json#1 (id 1): answer not among choices: 'lion' not in ['dog', 'cat', 'bell', 'car']"
    ) in (ws.out / "report.txt").read_text()


def test_answer_not_among_choices_quarantined_by_policy(ws):
    ws.train[1] = QARecord(**{**ws.train[1].to_json(), "answer": "lion", "choices": ("dog", "cat", "bell", "car")})
    ws.write()
    _assert_quarantined(
        ws, ws.run(**{"manifest.answer_in_choices": "quarantine"}), "manifest.answer_in_choices", "avqa_train", 1
    )


def test_label_outside_the_per_manifest_set_fails(ws):
    ws.utts[2] = Utterance(**{**ws.utts[2].to_json(), "label": "exc"})
    ws.write()
    _assert_failed(ws, ws.run(), "manifest.label_in_set", "iemocap", 2)


def test_unreadable_manifest_line_always_fails(ws):
    with (ws.ingest / "iemocap.jsonl").open("a") as f:
        f.write("{not json\n")
    report = ws.run(default="quarantine")
    assert not report.success
    (finding,) = [f for f in report.findings if f.manifest == "iemocap"]
    assert (finding.check, finding.row, finding.action) == ("manifest.readable", None, "fail")
    assert "line 5" in finding.problem


# --------------------------------------------------------------------------- overlap


def test_overlap_by_clip_id_quarantines_the_training_row(ws):
    # The MMAU item uses the very file of training row 3 (clip id yt3_000010).
    ws.evals[2] = QARecord(**{**ws.evals[2].to_json(), "audio": ws.train[3].audio, "choices": ("dog", "cat")})
    ws.write()
    sf.write(ws.audio_of("avqa_train", 3), clip(3, 16000), 16000, subtype="PCM_16")
    ws.params["manifests"]["avqa_train"]["sample_rates"] = [16000, 32000]
    report = ws.run()
    _assert_quarantined(ws, report, "overlap.clip_id", "avqa_train", 3)
    (pair,) = report.overlaps  # the same file is not reported a second time by fingerprint
    assert (pair.check, pair.train_clip, pair.train_rows, pair.eval_rows) == (
        "overlap.clip_id",
        "yt3_000010",
        (3,),
        (2,),
    )
    line = ws.quarantine()[0]
    assert line["overlaps_with"] == [
        {"manifest": "mmau_test_mini", "id": "m2", "source": "data/mmau/mmau-test-mini.json#2"}
    ]


def test_overlap_by_clip_id_fails_under_fail_policy(ws):
    ws.utts[3] = Utterance(**{**ws.utts[3].to_json(), "id": ws.utts[0].id})  # a session-1 id in the test split
    ws.write()
    report = ws.run(**{"overlap.clip_id": "fail"})
    _assert_failed(ws, report, "overlap.clip_id", "iemocap", 0)
    assert f"clip {ws.utts[0].id} is also in iemocap:test (1 row(s))" in (ws.out / "report.txt").read_text()


def _reencode(src: Path, dst: Path, sr: int, *, new_sr: int, gain_db: float, lead_ms: float, subtype: str) -> None:
    x, _ = sf.read(src, dtype="float64")
    g = gcd(sr, new_sr)
    y = resample_poly(x, new_sr // g, sr // g) * 10 ** (gain_db / 20)
    y = np.concatenate([np.zeros(int(new_sr * lead_ms / 1000)), y])
    sf.write(dst, y, new_sr, subtype=subtype)


def test_overlap_by_fingerprint_of_a_reencoded_copy(ws):
    # MMAU item 0 becomes training clip 5, resampled 32 -> 16 kHz, -5 dB, 24-bit, 10 ms of silence in front.
    _reencode(
        ws.audio_of("avqa_train", 5),
        ws.audio_of("mmau_test_mini", 0),
        32000,
        new_sr=16000,
        gain_db=-5.0,
        lead_ms=10.0,
        subtype="PCM_24",
    )
    report = ws.run()
    _assert_quarantined(ws, report, "overlap.fingerprint", "avqa_train", 5)
    (pair,) = report.overlaps
    assert (pair.train_clip, pair.eval_clip) == ("yt5_000010", "m0")
    assert pair.bit_error_rate <= 0.05
    assert (pair.train_audio, pair.eval_audio) == (ws.train[5].audio, ws.evals[0].audio)
    assert "audio matches" in ws.quarantine()[0]["problem"]
    assert json.loads((ws.out / "report.json").read_text())["overlaps"][0]["eval_rows"] == [0]


def test_overlap_by_fingerprint_fails_under_fail_policy(ws):
    _reencode(
        ws.audio_of("avqa_train", 5),
        ws.audio_of("mmau_test_mini", 0),
        32000,
        new_sr=16000,
        gain_db=4.0,
        lead_ms=0.0,
        subtype="PCM_16",
    )
    _assert_failed(ws, ws.run(**{"overlap.fingerprint": "fail"}), "overlap.fingerprint", "avqa_train", 5)


def test_no_fingerprint_overlap_between_different_clips_of_one_class(ws):
    # Same generator, same class, same rate and length: only the timing and the noise differ.
    for i in range(N_EVAL):
        sf.write(ws.audio_of("mmau_test_mini", i), clip(1000 + i, 16000), 16000, subtype="PCM_16")
    ws.params["fingerprint"]["max_bit_error_rate"] = 0.2  # twice the proposed threshold
    report = ws.run()
    assert report.success and report.overlaps == []


# --------------------------------------------------------------------------- configuration and the CLI


def test_params_naming_an_unknown_manifest_stop_the_stage(ws):
    ws.params["manifests"]["avqa_trian"] = {"splits": ["train"]}
    with pytest.raises(validate.ValidateError, match="validate.manifests: avqa_trian not in the ingest index"):
        ws.run()
    ws.params["manifests"].pop("avqa_trian")
    ws.params["overlap"].append(["avqa_train", "mmau"])
    with pytest.raises(validate.ValidateError, match="names 'mmau', which is not in the ingest index"):
        ws.run()


def test_missing_index_stops_the_stage(ws):
    (ws.ingest / "index.json").unlink()
    with pytest.raises(validate.ValidateError, match="cannot read the ingest index"):
        ws.run()


def _run_module(ws: Workspace) -> subprocess.CompletedProcess:
    (ws.root / "params.yaml").write_text(yaml.safe_dump({"validate": ws.params}, sort_keys=False))
    env = {**os.environ, "AUDIOREASON_PARAMS": "params.yaml"}
    return subprocess.run(
        [sys.executable, "-m", "audioreason.stages.validate"],
        cwd=ws.root,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_stage_module_exit_codes_and_metrics(ws):
    proc = _run_module(ws)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("Quality checks passed")
    metrics = json.loads((ws.root / "metrics" / "validate.json").read_text())
    assert metrics["success"] is True and metrics["manifests"]["avqa_train"]["kept"] == N_TRAIN

    ws.train[0] = QARecord(**{**ws.train[0].to_json(), "answer": "lion", "choices": ("dog", "cat", "bell", "car")})
    ws.write()
    sf.write(ws.audio_of("avqa_train", 1), np.zeros(48000, np.float32), 32000, subtype="PCM_16")
    proc = _run_module(ws)
    assert proc.returncode == 1
    assert "validate failed: Quality checks FAILED: 1 check(s) failed" in proc.stderr
    assert "data/avqa/train_qa.json#0 (id 0): answer not among choices" in proc.stdout
    metrics = json.loads((ws.root / "metrics" / "validate.json").read_text())
    assert metrics["success"] is False
    assert metrics["checks"] == {"manifest.answer_in_choices": 1, "audio.silent": 1}
    assert metrics["manifests"]["avqa_train"] == {"in": N_TRAIN, "kept": N_TRAIN - 2, "quarantined": 1, "failed": 1}
    assert not (ws.root / "outputs" / "validate" / "avqa_train.jsonl").exists()

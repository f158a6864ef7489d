"""Unit tests for the per-file audio checks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioreason.datasets.records import QARecord
from audioreason.quality.audio_checks import AudioReport, check_audio, check_audio_files
from audioreason.quality.report import QualityError, QualityReport

SR = 16_000
LIMITS = dict(expected_sample_rates=[16_000], min_duration_s=0.5, max_duration_s=30.0, silence_dbfs=-60.0)


def _tone(seconds: float, sr: int = SR, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


@pytest.fixture()
def wavs(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "good": tmp_path / "good.wav",
        "silent": tmp_path / "silent.wav",
        "rate": tmp_path / "rate_8k.wav",
        "short": tmp_path / "short.wav",
        "garbage": tmp_path / "garbage.wav",
        "truncated": tmp_path / "truncated.wav",
        "nan": tmp_path / "nan.wav",
    }
    sf.write(paths["good"], _tone(1.0), SR, subtype="PCM_16")
    sf.write(paths["silent"], np.zeros(SR, dtype=np.float32), SR, subtype="PCM_16")
    sf.write(paths["rate"], _tone(1.0, sr=8_000), 8_000, subtype="PCM_16")
    sf.write(paths["short"], _tone(0.1), SR, subtype="PCM_16")
    paths["garbage"].write_bytes(b"RIFF\x00\x00\x00\x00this is not audio" * 8)
    # Two seconds of tone cut to half its bytes: still decodable, but 1 s is missing.
    full = tmp_path / "full.wav"
    sf.write(full, _tone(2.0), SR, subtype="PCM_16")
    data = full.read_bytes()
    paths["truncated"].write_bytes(data[: len(data) // 2])
    samples = _tone(1.0)
    samples[100] = np.nan
    samples[200] = np.inf
    sf.write(paths["nan"], samples, SR, subtype="FLOAT")
    return paths


def test_good_tone_passes(wavs):
    report = check_audio(wavs["good"], **LIMITS)
    assert report.ok
    assert report.problems == ()
    assert report.sample_rate == SR
    assert report.channels == 1
    assert report.duration_s == pytest.approx(1.0)
    # A 0.5-amplitude sine has RMS 0.5/sqrt(2), i.e. about -9.03 dBFS.
    assert report.rms_dbfs == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.05)


def test_silent_file_is_reported_with_level(wavs):
    report = check_audio(wavs["silent"], **LIMITS)
    assert not report.ok
    assert report.rms_dbfs == -math.inf
    assert report.problems == ("silent (rms -inf dBFS < -60 dBFS)",)


def test_quiet_but_not_zero_file_gives_numeric_level(tmp_path):
    path = tmp_path / "quiet.wav"
    sf.write(path, _tone(1.0, amplitude=1e-4), SR, subtype="FLOAT")
    report = check_audio(path, **LIMITS)
    assert len(report.problems) == 1
    assert report.problems[0].startswith("silent (rms -83.0 dBFS < -60 dBFS")


def test_wrong_sample_rate(wavs):
    report = check_audio(wavs["rate"], **LIMITS)
    assert not report.ok
    assert report.sample_rate == 8_000
    assert report.problems == ("sample rate 8000 Hz not in {16000}",)


def test_any_rate_accepted_when_no_expected_rates(wavs):
    report = check_audio(wavs["rate"], **{**LIMITS, "expected_sample_rates": []})
    assert report.ok


def test_too_short_and_too_long(wavs):
    short = check_audio(wavs["short"], **LIMITS)
    assert short.problems == ("too short (0.100 s < 0.5 s)",)
    long = check_audio(wavs["good"], **{**LIMITS, "max_duration_s": 0.5})
    assert long.problems == ("too long (1.000 s > 0.5 s)",)


def test_garbage_file_is_undecodable(wavs):
    report = check_audio(wavs["garbage"], **LIMITS)
    assert not report.ok
    assert len(report.problems) == 1
    assert report.problems[0].startswith("undecodable: ")
    assert report.sample_rate is None and report.duration_s is None


def test_empty_file_is_undecodable(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    report = check_audio(path, **LIMITS)
    assert report.problems[0].startswith("undecodable: ")


def test_truncated_file_is_reported(wavs):
    report = check_audio(wavs["truncated"], **LIMITS)
    assert not report.ok
    assert report.duration_s == pytest.approx(1.0, abs=0.01)
    assert any(p.startswith("truncated: header declares 64000 data bytes") for p in report.problems)


def test_non_finite_samples(wavs):
    report = check_audio(wavs["nan"], **LIMITS)
    assert report.problems == ("non-finite samples (1 NaN, 1 inf)",)
    # The level is measured over the finite samples only.
    assert math.isfinite(report.rms_dbfs)


def test_missing_file(tmp_path):
    report = check_audio(tmp_path / "nope.wav", **LIMITS)
    assert report == AudioReport(str(tmp_path / "nope.wav"), False, ("missing: file does not exist",))


def test_stereo_rms_over_all_channels(tmp_path):
    path = tmp_path / "stereo.wav"
    tone = _tone(1.0)
    sf.write(path, np.stack([tone, np.zeros_like(tone)], axis=1), SR, subtype="FLOAT")
    report = check_audio(path, **LIMITS)
    assert report.ok
    assert report.channels == 2
    # Half the samples are zero: the mean square halves, i.e. 3 dB below the mono tone.
    assert report.rms_dbfs == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)) - 10 * math.log10(2), abs=0.05)


def test_check_audio_files_checks_each_path_once_in_order(wavs):
    paths = [wavs["good"], wavs["silent"], str(wavs["good"]), wavs["rate"], wavs["silent"]]
    reports = check_audio_files(paths, **LIMITS)
    assert [r.path for r in reports] == [str(wavs["good"]), str(wavs["silent"]), str(wavs["rate"])]
    assert [r.ok for r in reports] == [True, False, False]


def test_quality_report_names_records_using_bad_audio(wavs):
    def rec(i: int, audio: Path) -> QARecord:
        return QARecord(
            id=str(i),
            dataset="avqa",
            split="train",
            audio=str(audio),
            question="What makes the sound?",
            choices=("dog", "cat"),
            answer="dog",
            task="sound",
            source=f"data/avqa/train_qa.json#{i}",
        )

    records = [rec(0, wavs["good"]), rec(1, wavs["silent"]), rec(2, wavs["silent"]), rec(3, wavs["garbage"])]
    audio = check_audio_files([r.audio for r in records], **LIMITS)
    report = QualityReport.from_checks([], audio, records)
    assert not report.success

    data = report.to_json()
    assert data["audio"]["n_checked"] == 3
    assert data["audio"]["n_failed"] == 2
    by_path = {f["path"]: f for f in data["audio"]["failures"]}
    assert by_path[str(wavs["silent"])]["records"] == ["data/avqa/train_qa.json#1", "data/avqa/train_qa.json#2"]
    assert by_path[str(wavs["garbage"])]["problems"][0].startswith("undecodable: ")

    text = report.to_text()
    assert text.startswith("Quality checks FAILED: 2 of 3 audio file(s) failed")
    assert f"{wavs['silent']}: silent (rms -inf dBFS < -60 dBFS)" in text
    assert "used by: data/avqa/train_qa.json#1, data/avqa/train_qa.json#2" in text
    assert "data/avqa/train_qa.json#3" in text
    assert "data/avqa/train_qa.json#0" not in text

    with pytest.raises(QualityError) as excinfo:
        report.raise_for_failure()
    assert str(excinfo.value) == text
    assert excinfo.value.report is report

"""Unit tests for the per-file audio checks (one decode per file, a check key per problem)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioreason.quality.audio_checks import (
    AudioJob,
    AudioLimits,
    AudioReport,
    check_audio,
    check_audio_files,
    run_audio_jobs,
)
from audioreason.quality.checks import AUDIO_CHECKS

SR = 16_000
LIMITS = AudioLimits(
    sample_rates=(16_000,),
    max_channels=1,
    min_duration_s=0.5,
    max_duration_s=30.0,
    silence_dbfs=-60.0,
    clipping_fraction=0.01,
)


def _tone(seconds: float, sr: int = SR, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


@pytest.fixture()
def wavs(tmp_path: Path) -> dict[str, Path]:
    paths = {
        name: tmp_path / f"{name}.wav"
        for name in ("good", "silent", "rate", "short", "garbage", "truncated", "nan", "stereo", "clipped", "empty")
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
    tone = _tone(1.0)
    sf.write(paths["stereo"], np.stack([tone, tone], axis=1), SR, subtype="PCM_16")
    # A tone driven 4x into full scale: about 60% of its samples sit at +-1.
    sf.write(paths["clipped"], np.clip(4 * _tone(1.0), -1, 1), SR, subtype="PCM_16")
    paths["empty"].write_bytes(b"")
    return paths


def test_good_tone_passes(wavs):
    report = check_audio(wavs["good"], LIMITS)
    assert report.ok
    assert report.problems == () and report.checks == ()
    assert report.sample_rate == SR
    assert report.channels == 1
    assert report.duration_s == pytest.approx(1.0)
    assert report.clipped_fraction == 0.0
    # A 0.5-amplitude sine has RMS 0.5/sqrt(2), i.e. about -9.03 dBFS.
    assert report.rms_dbfs == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.05)
    assert report.fingerprint is None


def test_silent_file_is_reported_with_level(wavs):
    report = check_audio(wavs["silent"], LIMITS)
    assert not report.ok
    assert report.rms_dbfs == -math.inf
    assert report.problems == ("silent (rms -inf dBFS < -60 dBFS)",)
    assert report.checks == ("audio.silent",)


def test_quiet_but_not_zero_file_gives_numeric_level(tmp_path):
    path = tmp_path / "quiet.wav"
    sf.write(path, _tone(1.0, amplitude=1e-4), SR, subtype="FLOAT")
    report = check_audio(path, LIMITS)
    assert report.checks == ("audio.silent",)
    assert report.problems[0].startswith("silent (rms -83.0 dBFS < -60 dBFS")


def test_wrong_sample_rate(wavs):
    report = check_audio(wavs["rate"], LIMITS)
    assert not report.ok
    assert report.sample_rate == 8_000
    assert report.problems == ("sample rate 8000 Hz not in {16000}",)
    assert report.checks == ("audio.sample_rate",)


def test_sample_rates_are_per_limits(wavs):
    assert check_audio(wavs["rate"], AudioLimits(sample_rates=(), max_channels=1)).ok
    assert check_audio(wavs["rate"], AudioLimits(sample_rates=(8_000, 48_000), max_channels=1)).ok
    assert check_audio(wavs["good"], AudioLimits(sample_rates=(48_000,))).checks == ("audio.sample_rate",)


def test_too_short_and_too_long(wavs):
    short = check_audio(wavs["short"], LIMITS)
    assert short.problems == ("too short (0.100 s < 0.5 s)",)
    assert short.checks == ("audio.duration",)
    long = check_audio(wavs["good"], AudioLimits(sample_rates=(SR,), max_duration_s=0.5))
    assert long.problems == ("too long (1.000 s > 0.5 s)",)


def test_garbage_file_is_undecodable(wavs):
    report = check_audio(wavs["garbage"], LIMITS)
    assert not report.ok
    assert report.checks == ("audio.undecodable",)
    assert report.problems[0].startswith("undecodable: ")
    assert report.sample_rate is None and report.duration_s is None


def test_empty_file_is_undecodable(wavs):
    report = check_audio(wavs["empty"], LIMITS)
    assert report.checks == ("audio.undecodable",)
    assert report.problems[0].startswith("undecodable: ")


def test_directory_is_undecodable(tmp_path):
    report = check_audio(tmp_path, LIMITS)
    assert report.checks == ("audio.undecodable",)
    assert report.problems == ("undecodable: not a regular file",)


def test_truncated_file_is_reported(wavs):
    report = check_audio(wavs["truncated"], LIMITS)
    assert not report.ok
    assert report.duration_s == pytest.approx(1.0, abs=0.01)
    assert report.checks == ("audio.truncated",)
    assert report.problems[0].startswith("truncated: header declares 64000 data bytes")


def test_non_finite_samples(wavs):
    report = check_audio(wavs["nan"], LIMITS)
    assert report.problems == ("non-finite samples (1 NaN, 1 inf)",)
    assert report.checks == ("audio.non_finite",)
    # The level is measured over the finite samples only.
    assert math.isfinite(report.rms_dbfs)


def test_missing_file(tmp_path):
    report = check_audio(tmp_path / "nope.wav", LIMITS)
    assert report == AudioReport(
        str(tmp_path / "nope.wav"), False, ("missing: file does not exist",), ("audio.missing",)
    )


def test_stereo_where_mono_is_required(wavs):
    report = check_audio(wavs["stereo"], LIMITS)
    assert report.channels == 2
    assert report.checks == ("audio.channels",)
    assert report.problems == ("2 channels, at most 1 allowed",)
    assert check_audio(wavs["stereo"], AudioLimits(sample_rates=(SR,), max_channels=2)).ok


def test_stereo_rms_over_all_channels(tmp_path):
    path = tmp_path / "stereo.wav"
    tone = _tone(1.0)
    sf.write(path, np.stack([tone, np.zeros_like(tone)], axis=1), SR, subtype="FLOAT")
    report = check_audio(path, AudioLimits(sample_rates=(SR,), max_channels=2))
    assert report.ok
    # Half the samples are zero: the mean square halves, i.e. 3 dB below the mono tone.
    assert report.rms_dbfs == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)) - 10 * math.log10(2), abs=0.05)


def test_clipping(wavs):
    report = check_audio(wavs["clipped"], LIMITS)
    assert report.checks == ("audio.clipping",)
    assert 0.5 < report.clipped_fraction < 0.7
    assert report.problems[0].startswith("clipping: ")
    assert "at most 1% allowed" in report.problems[0]
    # The fraction is a threshold: a tolerant limit accepts the same file.
    assert check_audio(wavs["clipped"], AudioLimits(sample_rates=(SR,), max_channels=1, clipping_fraction=0.8)).ok


def test_a_few_full_scale_peaks_are_not_clipping(tmp_path):
    x = _tone(1.0)
    x[:10] = 1.0  # 10 of 16000 samples: 0.06%
    path = tmp_path / "peaks.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    report = check_audio(path, LIMITS)
    assert report.ok and report.clipped_fraction == pytest.approx(10 / SR)


def test_several_problems_are_all_reported_with_keys(tmp_path):
    path = tmp_path / "bad.wav"
    x = np.zeros((800, 2), dtype=np.float32)  # 0.1 s of stereo silence at 8 kHz
    sf.write(path, x, 8_000, subtype="PCM_16")
    report = check_audio(path, LIMITS)
    assert report.checks == ("audio.sample_rate", "audio.channels", "audio.duration", "audio.silent")
    assert len(report.problems) == 4


def test_every_problem_key_is_in_the_catalogue(wavs):
    keys = {k for p in wavs.values() for k in check_audio(p, LIMITS).checks}
    assert keys <= set(AUDIO_CHECKS)
    assert keys == set(AUDIO_CHECKS) - {"audio.missing"}


def test_fingerprint_computed_in_the_same_pass(wavs):
    report = check_audio(wavs["good"], LIMITS, fingerprint=True)
    assert report.ok and report.fingerprint is not None
    assert report.fingerprint.duration_s == pytest.approx(1.0, abs=0.01)
    # Digital silence has nothing to fingerprint.
    assert check_audio(wavs["silent"], LIMITS, fingerprint=True).fingerprint is None


def test_check_audio_files_checks_each_path_once_in_order(wavs):
    paths = [wavs["good"], wavs["silent"], str(wavs["good"]), wavs["rate"], wavs["silent"]]
    reports = check_audio_files(paths, LIMITS)
    assert [r.path for r in reports] == [str(wavs["good"]), str(wavs["silent"]), str(wavs["rate"])]
    assert [r.ok for r in reports] == [True, False, False]


def test_threads_give_the_same_reports_in_job_order(wavs):
    jobs = [AudioJob(str(p), LIMITS) for p in wavs.values()] * 3
    serial = run_audio_jobs(jobs, workers=1)
    threaded = run_audio_jobs(jobs, workers=3)
    assert [r.path for r in threaded] == [j.path for j in jobs]
    assert threaded == serial

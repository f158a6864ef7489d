"""mix_sseu's plan and rendering on hand-made corpora: bad inputs are handled as documented and counted."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from audioreason.audio.mixing import MIX_RATE, measured_snr
from audioreason.config import MixSseuConfig, build_section
from audioreason.datasets.records import SoundEvent, Soundscape, Utterance
from audioreason.stages import mix_sseu

REPO = Path(__file__).resolve().parents[3]


def write(path: Path, x: np.ndarray, rate: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.astype(np.float32), rate)
    return str(path)


@pytest.fixture
def corpora(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(int(1.2 * 48000)) / 48000
    voiced = 0.3 * np.sin(2 * np.pi * 160 * t) * (0.5 - 0.5 * np.cos(2 * np.pi * 3 * t))
    speech = [
        Utterance("p1_001", "vctk", "all", write(tmp_path / "s1.flac", voiced, 48000), "p1", text="hello there"),
        Utterance(
            "p2_001", "vctk", "all", write(tmp_path / "s2.flac", np.zeros_like(t), 48000), "p2", text="silent one"
        ),
        Utterance("p3_001", "vctk", "all", write(tmp_path / "s3.flac", voiced[::-1], 48000), "p3", text=None),
        Utterance("p4_001", "vctk", "all", write(tmp_path / "s4.flac", 0.5 * voiced, 48000), "p4", text="again"),
    ]
    bgs = [
        Soundscape(
            "home_1",
            "desed",
            "validation",
            write(tmp_path / "h.wav", 0.05 * rng.normal(size=16000 * 10), 16000),
            "home",
            (SoundEvent(1.0, 3.0, "Dog"), SoundEvent(2.0, 2.1, "Cat"), SoundEvent(0.0, 9.0, "Speech")),
        ),
        Soundscape(
            "home_w",
            "desed",
            "train",
            write(tmp_path / "w.wav", 0.05 * rng.normal(size=16000 * 10), 16000),
            "home",
            (),
            ("Dog",),
            strong=False,
        ),
        Soundscape(
            "metro_1",
            "maestro",
            "development",
            write(tmp_path / "m.wav", 0.05 * rng.normal(size=44100), 44100),
            "metro_station",  # 1 s < speech
            (SoundEvent(0.2, 0.9, "metro leaving", 0.9), SoundEvent(0.2, 0.9, "car", 0.3)),
        ),
    ]
    (tmp_path / "vctk.jsonl").write_text("".join(json.dumps(u.to_json()) + "\n" for u in speech))
    (tmp_path / "bg.jsonl").write_text("".join(json.dumps(b.to_json()) + "\n" for b in bgs))
    raw = yaml.safe_load((REPO / "params.yaml").read_text())["mix_sseu"]
    raw.update(
        speech=str(tmp_path / "vctk.jsonl"),
        backgrounds=[str(tmp_path / "bg.jsonl")],
        items_per_scene=2,
        clip_seconds=3.0,
        scenes={"home": "home", "metro_station": "metro station"},
    )
    return build_section(MixSseuConfig, raw, "mix_sseu")


def test_plan_skips_bad_speech_and_keeps_only_mapped_events(corpora):
    counts = Counter()
    items = mix_sseu.plan_items(corpora, counts)
    assert counts["speech_missing_transcript"] == 1  # p3 has no transcript: never used
    assert counts["speech_silent"] >= 1  # p2 is silent: drawn, rejected, the next one used
    assert counts["background_weak"] == 1  # no onsets in a weak DESED clip
    assert {i["speech_id"] for i in items} <= {"p1_001", "p4_001"}
    assert len(items) == 4 and [i["scene"] for i in items] == ["home", "home", "metro station", "metro station"]
    for i in items:
        assert {e["label"] for e in i["events"]} <= {"Dog", "Metro leaving"}  # Cat too short, car too unsure
        assert all(0 <= e["onset"] < e["offset"] <= i["seconds"] for e in i["events"])
    assert counts["events_unmapped.Speech"] >= 1
    assert mix_sseu.plan_items(corpora, Counter()) == items  # deterministic from the seed


def test_render_writes_every_snr_at_the_target(corpora, tmp_path):
    counts = Counter()
    item = [i for i in mix_sseu.plan_items(corpora, counts) if i["scene"] == "metro station"][0]
    rows = mix_sseu.render_item(item, corpora, tmp_path / "out", counts)
    assert all(r["background_looped"] for r in rows)  # a 1 s recording under 1.2 s of speech, a 3 s window
    # ... and its event repeats with it: "Metro leaving" at 0.2-0.9 s, 1.2-1.9 s and 2.2-2.9 s.
    assert [(e["onset"], e["offset"]) for e in item["events"]] == [(0.2, 0.9), (1.2, 1.9), (2.2, 2.9)]
    assert [r["snr_key"] for r in rows] == ["snr_inf", "snr_10", "snr_5", "snr_0", "snr_m5", "snr_m10", "snr_minf"]
    for r in rows:
        x, rate = sf.read(r["audio"])
        assert rate == MIX_RATE and x.ndim == 1 and np.max(np.abs(x)) <= 1.0
        if isinstance(r["snr_db"], float):
            assert r["measured_snr_db"] == pytest.approx(r["snr_db"], abs=0.1)
    speech_only, _ = sf.read(rows[0]["audio"])
    onset = int(round(rows[0]["speech_onset_s"] * MIX_RATE))
    assert not np.any(speech_only[: max(0, onset - 1)])  # +inf: nothing but the speech
    assert rows[-1]["speech_gain"] == 0.0 and rows[0]["background_gain"] == 0.0
    # The file itself: subtracting the known scaled speech leaves the background at the target SNR.
    r = rows[2]
    mix, _ = sf.read(r["audio"])
    from audioreason.audio.io import load_audio

    speech = load_audio(corpora_speech(corpora, r["speech_id"]), MIX_RATE)
    s = r["headroom_gain"] * r["speech_gain"] * speech
    span = slice(onset, onset + len(speech))
    assert measured_snr(s, mix[span] - s) == pytest.approx(5.0, abs=0.1)
    assert math.isfinite(r["measured_snr_db"])


def corpora_speech(cfg, speech_id: str) -> str:
    rows = [json.loads(line) for line in Path(cfg.speech).read_text().splitlines()]
    return next(r["audio"] for r in rows if r["id"] == speech_id)

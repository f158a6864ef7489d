"""MAESTRO-Real importer on a small tree in the real layout (FORMATS.md, "MAESTRO-Real")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioreason.datasets.formats import read_dataset
from audioreason.datasets.maestro import (
    MAESTRO_CLASSES,
    MAESTRO_SCENES,
    hard_events,
    parse_annotation_line,
    parse_clip_name,
    read,
)
from audioreason.datasets.records import RecordError, SoundEvent


def _wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(8820) / 44100  # 0.2 s
    sf.write(path, (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 44100, subtype="PCM_16")


def _ann(root: Path, rel: str, lines: list[str]) -> Path:
    path = root / "development_annotation" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.fixture
def maestro(tmp_path: Path) -> Path:
    root = tmp_path / "MAESTRO_Real"
    # Annotations at two different depths; no header; unsorted onsets; labels with spaces and a slash.
    _ann(
        root,
        "soft_labels_cafe_restaurant/cafe_restaurant_01.txt",
        [
            "2.0\t3.0\tpeople talking\t0.8",
            "0.0\t1.0\tdoor opens/closes\t0.333",
            "0.0\t1.0\tcutlery and dishes\t1.0",
            "1.0\t2.0\tfootsteps\t0.2",
        ],
    )
    _ann(
        root,
        "city_center/nested/city_center_10.txt",
        [
            "0.0\t1.5\tcar\t0.5",
            "0.5\t1.0\tbirds singing\t0.0",
        ],
    )
    _ann(root, "city_center/nested/city_center_02.txt", ["0.0\t1.0\tlarge vehicle\t0.6"])
    for stem in ("cafe_restaurant_01", "city_center_02", "city_center_10"):
        _wav(root / "development_audio" / parse_clip_name(stem)[0] / f"{stem}.wav")
    return root


def test_reads_every_annotation_with_soft_confidences(maestro: Path):
    res = read(maestro)
    assert res.format == "maestro" and res.quarantined == [] and res.filtered == {}
    assert [(r.id, r.scene, r.split) for r in res.records] == [
        ("cafe_restaurant_01", "cafe_restaurant", "development"),
        ("city_center_02", "city_center", "development"),
        ("city_center_10", "city_center", "development"),
    ]
    cafe = res.records[0]
    assert cafe.events == (
        SoundEvent(0.0, 1.0, "cutlery and dishes", 1.0),
        SoundEvent(0.0, 1.0, "door opens/closes", 0.333),
        SoundEvent(1.0, 2.0, "footsteps", 0.2),
        SoundEvent(2.0, 3.0, "people talking", 0.8),
    )
    assert cafe.strong and cafe.dataset == "maestro"
    assert cafe.audio == str((maestro / "development_audio/cafe_restaurant/cafe_restaurant_01.wav").resolve())
    assert cafe.extra["annotation"] == "development_annotation/soft_labels_cafe_restaurant/cafe_restaurant_01.txt"


def test_labels_are_hard_tags_and_soft_labels_kept(maestro: Path):
    by_id = {r.id: r for r in read(maestro).records}
    assert by_id["cafe_restaurant_01"].labels == ("cutlery and dishes", "people talking")
    assert by_id["cafe_restaurant_01"].extra["soft_labels"] == [
        "cutlery and dishes",
        "door opens/closes",
        "footsteps",
        "people talking",
    ]
    # Confidence 0.0 is kept as an event, 0.5 counts as heard.
    assert len(by_id["city_center_10"].events) == 2 and by_id["city_center_10"].labels == ("car",)


def test_hard_events_threshold(maestro: Path):
    cafe = read(maestro).records[0]
    assert [e.label for e in hard_events(cafe)] == ["cutlery and dishes", "people talking"]
    assert [e.label for e in hard_events(cafe, threshold=0.3)] == [
        "cutlery and dishes",
        "door opens/closes",
        "people talking",
    ]
    assert len(hard_events(cafe, threshold=0.0)) == 4


@pytest.mark.parametrize(
    "line, problem",
    [
        ("0.0\t1.0\tdog barking\t0.5", "unknown event label 'dog barking'"),
        ("0.0\t1.0\tcar\t1.2", "confidence 1.2 is outside [0, 1]"),
        ("0.0\t1.0\tcar\t-0.1", "confidence -0.1 is outside [0, 1]"),
        ("0.0\t1.0\tcar\thigh", "confidence 'high' is not a number"),
        ("1.0\t1.0\tcar\t0.5", "onset 1.0 is not before offset 1.0"),
        ("-1.0\t1.0\tcar\t0.5", "negative onset -1.0"),
        ("a\t1.0\tcar\t0.5", "onset 'a' is not a number"),
        ("0.0 1.0 car 0.5", "expected 4 tab-separated fields"),
    ],
)
def test_bad_line_names_file_and_line(maestro: Path, line: str, problem: str):
    ann = _ann(maestro, "city_center/nested/city_center_02.txt", ["0.0\t1.0\tcar\t0.6", line])
    with pytest.raises(RecordError) as e:
        read(maestro)
    assert (e.value.source, e.value.record) == (str(ann), "line 2")
    assert problem in e.value.problem


def test_bad_line_quarantines_the_whole_clip(maestro: Path):
    _ann(maestro, "city_center/nested/city_center_02.txt", ["0.0\t1.0\tcar\t0.6", "5\t4\tcar\t0.5", "x\t1\tcar\t1"])
    res = read(maestro, on_error="quarantine")
    assert [r.id for r in res.records] == ["cafe_restaurant_01", "city_center_10"]
    assert [q.record for q in res.quarantined] == ["line 2", "line 3"]


def test_annotation_without_audio(maestro: Path):
    ann = _ann(maestro, "metro_station_03.txt", ["0\t1\tmetro leaving\t0.9"])
    with pytest.raises(RecordError, match="annotation has no audio") as e:
        read(maestro)
    assert e.value.source == str(ann)
    res = read(maestro, on_error="quarantine")
    assert len(res.quarantined) == 1 and len(res.records) == 3
    assert [r.id for r in read(maestro, check_audio_exists=False).records][-1] == "metro_station_03"


def test_audio_without_annotation(maestro: Path):
    wav = maestro / "development_audio/grocery_store/grocery_store_05.wav"
    _wav(wav)
    with pytest.raises(RecordError, match="audio has no annotation") as e:
        read(maestro)
    assert e.value.source == str(wav)
    res = read(maestro, on_error="quarantine", check_audio_exists=False)
    assert len(res.quarantined) == 1 and len(res.records) == 3


def test_audio_in_wrong_scene_folder(maestro: Path):
    wav = maestro / "development_audio/city_center/cafe_restaurant_01.wav"
    _wav(wav)
    with pytest.raises(RecordError, match="not at development_audio/cafe_restaurant/cafe_restaurant_01.wav") as e:
        read(maestro)
    assert e.value.source == str(wav)


def test_unknown_scene_and_duplicate_annotation(maestro: Path):
    odd = _ann(maestro, "airport_01.txt", ["0\t1\tcar\t1"])
    dup = _ann(maestro, "zz_copy/cafe_restaurant_01.txt", ["0\t1\tcar\t1"])
    res = read(maestro, on_error="quarantine")
    assert [(q.source, q.record) for q in res.quarantined] == [(str(odd), "(file)"), (str(dup), "(file)")]
    assert "not '<scene>_NN'" in res.quarantined[0].problem
    assert "second annotation of cafe_restaurant_01" in res.quarantined[1].problem
    assert len(res.records) == 3
    with pytest.raises(RecordError, match="airport_01"):
        read(maestro)


def test_macos_forks_are_counted(maestro: Path):
    _ann(maestro, "._cafe_restaurant_01.txt", ["\x00\x05"])
    (maestro / "development_audio/cafe_restaurant/._cafe_restaurant_01.wav").write_bytes(b"\x00\x05")
    res = read(maestro)
    assert res.filtered == {"._ file": 2} and len(res.records) == 3


def test_missing_annotation_folder(tmp_path: Path):
    with pytest.raises(RecordError, match="no development_annotation/ folder"):
        read(tmp_path)


def test_parsers_and_constants():
    assert parse_clip_name("residential_area_07") == ("residential_area", 7)
    with pytest.raises(ValueError):
        parse_clip_name("city_center")
    assert parse_annotation_line("0.5\t2\tmetro approaching\t0.25\r\n") == SoundEvent(
        0.5, 2.0, "metro approaching", 0.25
    )
    assert len(MAESTRO_CLASSES) == 17 and len(set(MAESTRO_CLASSES)) == 17
    assert MAESTRO_SCENES == ("cafe_restaurant", "city_center", "grocery_store", "metro_station", "residential_area")


def test_through_registry(maestro: Path):
    res = read_dataset("maestro", maestro)
    assert [r.id for r in res.records] == ["cafe_restaurant_01", "city_center_02", "city_center_10"]

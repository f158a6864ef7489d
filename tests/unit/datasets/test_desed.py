"""DESED importer on a small ``dataset/`` tree in the real layout (FORMATS.md, "DESED")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioreason.datasets.desed import DESED_CLASSES, audio_folder, parse_strong_row, parse_weak_row, read, tsv_kind
from audioreason.datasets.formats import read_dataset
from audioreason.datasets.records import RecordError, SoundEvent

STRONG = "filename\tonset\toffset\tevent_label\n"
WEAK = "filename\tevent_labels\n"


def _wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(3200) / 16000  # 0.2 s
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000, subtype="PCM_16")


def _tsv(root: Path, rel: str, text: str) -> Path:
    path = root / "metadata" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _clips(root: Path, folder: str, *names: str) -> None:
    for name in names:
        _wav(root / "audio" / folder / name)


@pytest.fixture
def desed(tmp_path: Path) -> Path:
    root = tmp_path / "dataset"
    # Rows of clip 0.wav are not contiguous and not in onset order; 2.wav is an "empty" soundscape.
    _tsv(
        root,
        "train/synthetic21_train/soundscapes.tsv",
        STRONG
        + "0.wav\t5.0\t7.5\tSpeech\n"
        + "1.wav\t0.0\t10.0\tFrying\n"
        + "0.wav\t0.25\t1.0\tDog\n"
        + "2.wav\t\t\t\n"
        + "0.wav\t3.0\t4.0\tSpeech\n",
    )
    _clips(root, "train/synthetic21_train/soundscapes", "0.wav", "1.wav", "2.wav")
    _tsv(
        root,
        "train/weak.tsv",
        WEAK
        + "Y07fghylishw_20.000_30.000.wav\tDog,Cat,Dog\n"
        + "Y-BJNMHMZDcU_50.000_60.000.wav\tElectric_shaver_toothbrush\n",
    )
    _clips(root, "train/weak", "Y07fghylishw_20.000_30.000.wav", "Y-BJNMHMZDcU_50.000_60.000.wav")
    # The DCASE baseline keeps only the resampled copy of the validation audio.
    _tsv(
        root,
        "validation/validation.tsv",
        STRONG
        + "Y00pbt6aJV8Y_350.000_360.000.wav\t0.0\t9.99\tRunning_water\n"
        + "Y00pbt6aJV8Y_350.000_360.000.wav\t1.5\t2.0\tDishes\n"
        + "Y01pbt6aJV8Y_0.000_10.000.wav\tnan\tnan\tnan\n",
    )
    _clips(root, "validation/validation_16k", "Y00pbt6aJV8Y_350.000_360.000.wav", "Y01pbt6aJV8Y_0.000_10.000.wav")
    return root


def test_reads_strong_and_weak_tsvs_in_sorted_order(desed: Path):
    res = read(desed)
    assert res.format == "desed" and res.quarantined == [] and res.filtered == {}
    assert [(r.id, r.split, r.strong) for r in res.records] == [
        ("0", "train", True),
        ("1", "train", True),
        ("2", "train", True),
        ("Y07fghylishw_20.000_30.000", "train", False),
        ("Y-BJNMHMZDcU_50.000_60.000", "train", False),
        ("Y00pbt6aJV8Y_350.000_360.000", "validation", True),
        ("Y01pbt6aJV8Y_0.000_10.000", "validation", True),
    ]
    assert {r.dataset for r in res.records} == {"desed"} and {r.scene for r in res.records} == {"home"}


def test_strong_rows_grouped_by_filename_and_sorted_by_onset(desed: Path):
    clip = read(desed).records[0]
    assert clip.events == (SoundEvent(0.25, 1.0, "Dog"), SoundEvent(3.0, 4.0, "Speech"), SoundEvent(5.0, 7.5, "Speech"))
    assert clip.labels == ("Dog", "Speech")
    assert clip.extra == {"tsv": "train/synthetic21_train/soundscapes.tsv", "filename": "0.wav"}
    assert clip.source.endswith("soundscapes.tsv#2")
    assert clip.audio == str((desed / "audio/train/synthetic21_train/soundscapes/0.wav").resolve())


def test_empty_soundscape_rows_give_clips_without_events(desed: Path):
    by_id = {r.id: r for r in read(desed).records}
    for clip_id in ("2", "Y01pbt6aJV8Y_0.000_10.000"):
        assert by_id[clip_id].events == () and by_id[clip_id].labels == () and by_id[clip_id].strong


def test_weak_labels_are_split_and_deduplicated(desed: Path):
    by_id = {r.id: r for r in read(desed).records}
    weak = by_id["Y07fghylishw_20.000_30.000"]
    assert weak.labels == ("Cat", "Dog") and weak.events == () and not weak.strong
    assert weak.extra["tsv"] == "train/weak.tsv"
    assert weak.audio == str((desed / "audio/train/weak/Y07fghylishw_20.000_30.000.wav").resolve())


def test_audio_falls_back_to_16k_folder(desed: Path):
    val = [r for r in read(desed).records if r.split == "validation"]
    assert [Path(r.audio).parent.name for r in val] == ["validation_16k", "validation_16k"]
    assert val[0].labels == ("Dishes", "Running_water")


def test_plain_audio_folder_wins_over_16k(desed: Path):
    _clips(desed, "validation/validation", "Y00pbt6aJV8Y_350.000_360.000.wav", "Y01pbt6aJV8Y_0.000_10.000.wav")
    assert audio_folder(desed, Path("validation/validation.tsv")) == desed / "audio/validation/validation"
    val = [r for r in read(desed).records if r.split == "validation"]
    assert {Path(r.audio).parent.name for r in val} == {"validation"}


def test_same_synthetic_name_in_two_tsvs_is_not_a_duplicate(desed: Path):
    _tsv(desed, "validation/synthetic21_validation/soundscapes.tsv", STRONG + "0.wav\t1.0\t2.0\tBlender\n")
    _clips(desed, "validation/synthetic21_validation/soundscapes", "0.wav")
    zeros = [r for r in read(desed).records if r.id == "0"]
    assert [(r.split, r.extra["tsv"], r.labels) for r in zeros] == [
        ("train", "train/synthetic21_train/soundscapes.tsv", ("Dog", "Speech")),
        ("validation", "validation/synthetic21_validation/soundscapes.tsv", ("Blender",)),
    ]


@pytest.mark.parametrize(
    "row, problem",
    [
        ("3.wav\t0.0\t1.0\tBaby_cry", "unknown event label 'Baby_cry'"),
        ("3.wav\t2.0\t2.0\tDog", "onset 2.0 is not before offset 2.0"),
        ("3.wav\t3.0\t1.0\tDog", "onset 3.0 is not before offset 1.0"),
        ("3.wav\t-0.5\t1.0\tDog", "negative onset -0.5"),
        ("3.wav\tzero\t1.0\tDog", "onset 'zero' is not a number"),
        ("3.wav\t0.0\tinf\tDog", "offset 'inf' is not a finite number"),
        ("3.wav\t0.0\t1.0", "expected 4 tab-separated fields, got 3"),
        ("3.wav\t0.0\t\tDog", "partly empty row"),
    ],
)
def test_bad_strong_row_names_file_and_line(desed: Path, row: str, problem: str):
    tsv = _tsv(desed, "eval/public.tsv", STRONG + "4.wav\t0.0\t1.0\tCat\n" + row + "\n")
    _clips(desed, "eval/public", "3.wav", "4.wav")
    with pytest.raises(RecordError) as e:
        read(desed)
    assert e.value.source == str(tsv) and e.value.record == "line 3 (3.wav)"
    assert problem in e.value.problem


def test_bad_row_quarantines_its_whole_clip(desed: Path):
    tsv = _tsv(desed, "eval/public.tsv", STRONG + "3.wav\t0.0\t1.0\tCat\n4.wav\t0.0\t1.0\tDog\n3.wav\t5\t4\tCat\n")
    _clips(desed, "eval/public", "3.wav", "4.wav")
    res = read(desed, on_error="quarantine")
    assert [(r.id, r.labels) for r in res.records if r.split == "eval"] == [("4", ("Dog",))]
    assert len(res.quarantined) == 1
    assert (res.quarantined[0].source, res.quarantined[0].record) == (str(tsv), "line 4 (3.wav)")
    assert len(res.records) == 8


def test_empty_row_beside_events_is_an_error(desed: Path):
    tsv = _tsv(desed, "eval/public.tsv", STRONG + "3.wav\t\t\t\n3.wav\t0.0\t1.0\tCat\n")
    _clips(desed, "eval/public", "3.wav")
    with pytest.raises(RecordError, match="marks the clip as empty") as e:
        read(desed)
    assert (e.value.source, e.value.record) == (str(tsv), "line 2 (3.wav)")


def test_weak_unknown_label_and_duplicate_filename(desed: Path):
    tsv = _tsv(desed, "train/weak.tsv", WEAK + "a.wav\tDog,Doorbell\nb.wav\tCat\nb.wav\tDog\nc.wav\tSpeech\n")
    _clips(desed, "train/weak", "a.wav", "b.wav", "c.wav")
    with pytest.raises(RecordError, match=r"unknown event label\(s\) \['Doorbell'\]") as e:
        read(desed)
    assert (e.value.source, e.value.record) == (str(tsv), "line 2 (a.wav)")
    res = read(desed, on_error="quarantine")
    assert [q.record for q in res.quarantined] == ["line 2 (a.wav)", "line 4 (b.wav)"]
    assert "duplicate filename (first on line 3)" in str(res.quarantined[1])
    assert [r.id for r in res.records if r.extra["tsv"] == "train/weak.tsv"] == ["c"]


@pytest.mark.parametrize(
    "header, reason", [("filename\n", "unlabelled clip list"), ("filename\tduration\n", "clip durations")]
)
def test_label_free_tsvs_of_the_release_are_counted_not_errors(desed: Path, header: str, reason: str):
    _tsv(desed, "train/unlabel_in_domain.tsv", header + "x.wav\n")
    res = read(desed)
    assert res.filtered == {f"TSV without labels ({reason})": 1} and len(res.records) == 7


@pytest.mark.parametrize("header", ["filename\tonset\toffset\tlabel\n", "name\tevent_labels\n"])
def test_other_header_is_an_error_naming_the_file(desed: Path, header: str):
    tsv = _tsv(desed, "train/unlabel_in_domain.tsv", header + "x.wav\n")
    with pytest.raises(RecordError, match="is neither strong") as e:
        read(desed)
    assert e.value.source == str(tsv)
    res = read(desed, on_error="quarantine")
    assert len(res.quarantined) == 1 and len(res.records) == 7


def test_missing_audio(desed: Path):
    (desed / "audio/train/weak/Y07fghylishw_20.000_30.000.wav").unlink()
    with pytest.raises(RecordError, match="does not exist") as e:
        read(desed)
    assert e.value.record == "line 2 (Y07fghylishw_20.000_30.000.wav)"
    assert len(read(desed, check_audio_exists=False).records) == 7
    assert len(read(desed, on_error="quarantine").quarantined) == 1


def test_tsv_outside_a_split_folder_and_macos_forks(desed: Path):
    _tsv(desed, "._weak.tsv", "\x00\x05binary")
    _tsv(desed, "train/._weak.tsv", "\x00\x05binary")
    res = read(desed, on_error="quarantine")
    assert res.filtered == {"._ file": 2} and len(res.records) == 7
    _tsv(desed, "loose.tsv", WEAK)
    with pytest.raises(RecordError, match="not in a split folder"):
        read(desed)


def test_missing_metadata_folder(tmp_path: Path):
    with pytest.raises(RecordError, match="no metadata/ folder"):
        read(tmp_path)


def test_row_parsers_and_header_kind():
    assert tsv_kind(STRONG) == "strong" and tsv_kind(WEAK) == "weak" and tsv_kind("filename\tlabel") is None
    assert parse_strong_row(["a.wav", "NaN", "", "nan"]) == ("a.wav", None)
    assert parse_weak_row(["a.wav", "Vacuum_cleaner,Alarm_bell_ringing"]) == (
        "a.wav",
        ("Alarm_bell_ringing", "Vacuum_cleaner"),
    )
    assert len(DESED_CLASSES) == 10 and "Electric_shaver_toothbrush" in DESED_CLASSES


def test_through_registry(desed: Path):
    res = read_dataset("desed", desed)
    assert len(res.records) == 7 and res.records[0].events[0].label == "Dog"

"""VGGSound importer on a small ``vggsound.csv`` in the real layout (FORMATS.md, "VGGSound and AudioSetCaps")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioreason.datasets.formats import read_dataset
from audioreason.datasets.records import LabelledClip, RecordError
from audioreason.datasets.vggsound import clip_name, parse_row, read

# No header; the second label holds a comma and is quoted; ytids start with '-' and hold '_'.
CSV = (
    "---g-f_I2yQ,1,people marching,test\n"
    '--0PQM4-hqg,30,"people eating, crunching",train\n'
    "-HG3Omg_89c,290,dog barking,train\n"
)
CLIPS = ("---g-f_I2yQ_000001", "--0PQM4-hqg_000030", "-HG3Omg_89c_000290")


def _wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(3200) / 16000  # 0.2 s
    sf.write(path, (0.3 * np.sin(2 * np.pi * 550 * t)).astype(np.float32), 16000, subtype="PCM_16")


@pytest.fixture
def vgg(tmp_path: Path) -> Path:
    csv_path = tmp_path / "vggsound.csv"
    csv_path.write_text(CSV)
    for clip in CLIPS:
        _wav(tmp_path / "audio" / f"{clip}.wav")
    return csv_path


def test_reads_rows_in_file_order(vgg: Path):
    res = read(vgg)
    assert res.format == "vggsound" and res.quarantined == [] and res.filtered == {}
    assert [(r.id, r.ytid, r.start_s, r.label, r.split) for r in res.records] == [
        ("---g-f_I2yQ_000001", "---g-f_I2yQ", 1, "people marching", "test"),
        ("--0PQM4-hqg_000030", "--0PQM4-hqg", 30, "people eating, crunching", "train"),
        ("-HG3Omg_89c_000290", "-HG3Omg_89c", 290, "dog barking", "train"),
    ]
    first = res.records[0]
    assert isinstance(first, LabelledClip) and first.dataset == "vggsound"
    assert first.audio == str((vgg.parent / "audio" / "---g-f_I2yQ_000001.wav").resolve())
    assert first.source == f"{vgg}#1"


def test_quoted_label_with_comma_keeps_four_columns(vgg: Path):
    assert read(vgg).records[1].label == "people eating, crunching"
    assert parse_row(["a", "0", "x, y", "train"]) == ("a", 0, "x, y", "train")


@pytest.mark.parametrize(
    "line, problem",
    [
        ("abc,30,dog,train,extra", "expected 4 columns"),
        ("abc,30,dog barking", "expected 4 columns"),
        ("abc,30.5,dog,train", "start_seconds '30.5' is not a non-negative integer"),
        ("abc,-5,dog,train", "start_seconds '-5' is not a non-negative integer"),
        ("abc,ten,dog,train", "start_seconds 'ten' is not a non-negative integer"),
        ("abc,30,dog,val", "split 'val' is not one of train, test"),
        ("abc,30,,train", "empty label"),
        (",30,dog,train", "empty YouTube id"),
    ],
)
def test_bad_row_names_file_and_line(vgg: Path, line: str, problem: str):
    vgg.write_text(CSV + line + "\n")
    with pytest.raises(RecordError) as e:
        read(vgg)
    assert (e.value.source, e.value.record) == (str(vgg), "line 4")
    assert problem in e.value.problem
    res = read(vgg, on_error="quarantine")
    assert len(res.records) == 3 and len(res.quarantined) == 1


def test_duplicate_clip(vgg: Path):
    vgg.write_text(CSV + "--0PQM4-hqg,30,other label,test\n")
    with pytest.raises(RecordError, match=r"duplicate clip --0PQM4-hqg_000030 \(first on line 2\)") as e:
        read(vgg)
    assert e.value.record == "line 4 (--0PQM4-hqg_000030)"
    res = read(vgg, on_error="quarantine")
    assert [r.label for r in res.records] == ["people marching", "people eating, crunching", "dog barking"]
    assert len(res.quarantined) == 1


def test_line_numbers_count_quoted_newlines_and_skip_blank_lines(vgg: Path):
    vgg.write_text('abc,1,"two\nlines",train\n\nxyz,2,dog,dev\n')
    _wav(vgg.parent / "audio" / "abc_000001.wav")
    res = read(vgg, on_error="quarantine")
    assert [r.label for r in res.records] == ["two\nlines"]
    assert [q.record for q in res.quarantined] == ["line 4"]


def test_missing_audio(vgg: Path):
    (vgg.parent / "audio" / "-HG3Omg_89c_000290.wav").unlink()
    with pytest.raises(RecordError, match="does not exist") as e:
        read(vgg)
    assert e.value.record == "line 3 (-HG3Omg_89c_000290)"
    assert len(read(vgg, check_audio_exists=False).records) == 3


def test_clip_name_pads_start():
    assert clip_name("a_b-c", 0) == "a_b-c_000000" and clip_name("x", 123456) == "x_123456"


def test_through_registry(vgg: Path):
    assert [r.id for r in read_dataset("vggsound", vgg).records] == list(CLIPS)

"""AudioSetCaps importer on small caption CSVs in the real format (FORMATS.md, "VGGSound and AudioSetCaps")."""

from __future__ import annotations

from pathlib import Path

import pytest

from audioreason.datasets.audiosetcaps import parse_caption_id, read, read_captions
from audioreason.datasets.formats import read_dataset
from audioreason.datasets.records import Caption, RecordError

# Captions with commas, doubled quotes and a newline inside quotes; a VGGSound ytid with '_' and '-'.
CSV = (
    "id,caption\n"
    '-HG3Omg_89c_000030,"A dog barks, then a man speaks."\n'
    'Y--0w1YA1Hm4,"The speaker says ""hello""\nwhile music plays."\n'
    "Yabcdefghijk,Rain falls on a roof.\n"
)


@pytest.fixture
def caps(tmp_path: Path) -> Path:
    path = tmp_path / "AudioSetCaps_caption.csv"
    path.write_text(CSV)
    return path


def test_reads_both_id_shapes(caps: Path):
    res = read(caps)
    assert res.format == "audiosetcaps" and res.quarantined == [] and res.filtered == {}
    assert [(r.id, r.corpus, r.clip, r.ytid) for r in res.records] == [
        ("-HG3Omg_89c_000030", "vggsound", "-HG3Omg_89c_000030", "-HG3Omg_89c"),
        ("Y--0w1YA1Hm4", "audioset", "", "--0w1YA1Hm4"),
        ("Yabcdefghijk", "audioset", "", "abcdefghijk"),
    ]
    assert all(isinstance(r, Caption) and r.dataset == "audiosetcaps" for r in res.records)


def test_quoted_captions_keep_commas_quotes_and_newlines(caps: Path):
    records = read(caps).records
    assert records[0].caption == "A dog barks, then a man speaks."
    assert records[1].caption == 'The speaker says "hello"\nwhile music plays.'
    # The multi-line caption starts on line 3, so the next row starts on line 5.
    assert [r.source for r in records] == [f"{caps}#2", f"{caps}#3", f"{caps}#5"]


def test_vggsound_id_split_on_last_underscore_and_audioset_shape_first():
    assert parse_caption_id("a_b-c_d_000120") == ("vggsound", "a_b-c_d_000120", "a_b-c_d")
    # 'Y' + 11 characters is an AudioSet id even when it ends like '_<6 digits>'.
    assert parse_caption_id("Yabcd_123456") == ("audioset", "", "abcd_123456")
    assert parse_caption_id("Yabcdefghij_000010") == ("vggsound", "Yabcdefghij_000010", "Yabcdefghij")


@pytest.mark.parametrize(
    "row, problem",
    [
        ("-HG3Omg_89c_000031,", "empty caption"),
        ('-HG3Omg_89c_000031,"   "', "empty caption"),
        ("-HG3Omg_89c_30,A dog.", "is neither a VGGSound clip"),
        ("Yshort,A dog.", "is neither a VGGSound clip"),
        ("abc def_000030,A dog.", "is neither a VGGSound clip"),
        ("-HG3Omg_89c_000030,Another caption.", "duplicate id (first at"),
        ("-HG3Omg_89c_000031,A dog.,extra", "expected 2 columns"),
    ],
)
def test_bad_row_names_file_and_line(caps: Path, row: str, problem: str):
    caps.write_text(CSV + row + "\n")
    with pytest.raises(RecordError) as e:
        read(caps)
    assert e.value.source == str(caps) and str(e.value.record).startswith("line 6")
    assert problem in e.value.problem
    res = read(caps, on_error="quarantine")
    assert len(res.records) == 3 and len(res.quarantined) == 1


def test_wrong_header(caps: Path):
    caps.write_text("ytid,text\nYabcdefghijk,Rain.\n")
    with pytest.raises(RecordError, match="is not 'id,caption'") as e:
        read(caps)
    assert (e.value.source, e.value.record) == (str(caps), "line 1")
    res = read(caps, on_error="quarantine")
    assert res.records == [] and len(res.quarantined) == 1


def test_read_captions_merges_files_and_rejects_ids_across_them(caps: Path, tmp_path: Path):
    second = tmp_path / "vggsound_caps.csv"
    second.write_text("id,caption\nzzzzzzzzzzz_000000,A bell rings.\nYabcdefghijk,Duplicate.\n")
    res = read_captions([caps, second], on_error="quarantine")
    assert [r.id for r in res.records] == ["-HG3Omg_89c_000030", "Y--0w1YA1Hm4", "Yabcdefghijk", "zzzzzzzzzzz_000000"]
    assert len(res.quarantined) == 1
    err = res.quarantined[0]
    assert (err.source, err.record) == (str(second), "line 3 (Yabcdefghijk)")
    assert f"first at {caps}#5" in err.problem
    with pytest.raises(RecordError):
        read_captions([caps, second])


def test_check_audio_exists_is_ignored(caps: Path):
    assert read(caps, check_audio_exists=True).records == read(caps, check_audio_exists=False).records


def test_through_registry(caps: Path):
    res = read_dataset("audiosetcaps", caps)
    assert [r.corpus for r in res.records] == ["vggsound", "audioset", "audioset"]

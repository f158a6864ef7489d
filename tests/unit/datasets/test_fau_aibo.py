"""FAU-Aibo importer on a fixture in the real IS2009 layout (labels file + ``wav/``)."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioreason.datasets.fau_aibo import LABELS_FILE, parse_chunk_id, parse_label_line, read
from audioreason.datasets.formats import read_dataset
from audioreason.datasets.records import RecordError, Utterance

# Whitespace varies on purpose: the file is whitespace separated, not single-space.
LABEL_LINES = [
    "Ohm_01_001_00 N 1.000000",
    "Ohm_01_001_01 A 0.600000",
    "Ohm_02_010_00\tE\t0.8",
    "",
    "Mont_01_000_00  P  1.0",
    "Mont_03_005_02 R 0.4",
]
IDS = ["Ohm_01_001_00", "Ohm_01_001_01", "Ohm_02_010_00", "Mont_01_000_00", "Mont_03_005_02"]


def _wav(path: Path, sr: int = 16000, seconds: float = 0.2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * seconds)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), sr, subtype="PCM_16")


@pytest.fixture()
def aibo_root(tmp_path: Path) -> Path:
    root = tmp_path / "FAU_Aibo"
    labels = root / LABELS_FILE
    labels.parent.mkdir(parents=True)
    labels.write_text("\n".join(LABEL_LINES) + "\n")
    for chunk in IDS:
        _wav(root / "wav" / f"{chunk}.wav")
    return root


def _append(root: Path, line: str) -> int:
    labels = root / LABELS_FILE
    text = labels.read_text()
    labels.write_text(text + line + "\n")
    return len(text.splitlines()) + 1


def test_records_labels_splits_speakers(aibo_root: Path):
    res = read(aibo_root)
    assert res.format == "fau_aibo"
    assert [r.id for r in res.records] == IDS
    assert [r.label for r in res.records] == ["N", "A", "E", "P", "R"]
    assert [r.raw_label for r in res.records] == ["N", "A", "E", "P", "R"]
    assert [r.split for r in res.records] == ["train", "train", "train", "test", "test"]
    assert [r.session for r in res.records] == ["Ohm", "Ohm", "Ohm", "Mont", "Mont"]
    assert [r.speaker for r in res.records] == ["Ohm_01", "Ohm_01", "Ohm_02", "Mont_01", "Mont_03"]
    assert collections.Counter(r.split for r in res.records) == {"train": 3, "test": 2}
    assert {r.gender for r in res.records} == {""}
    assert {r.text for r in res.records} == {None}
    assert [r.extra["confidence"] for r in res.records] == [1.0, 0.6, 0.8, 1.0, 0.4]
    assert (res.quarantined, res.filtered) == ([], {})


def test_audio_and_source(aibo_root: Path):
    r = read(aibo_root).records[4]
    assert r.audio == str((aibo_root / "wav" / "Mont_03_005_02.wav").resolve())
    assert r.source == f"{aibo_root / LABELS_FILE}#6"  # line 4 is blank and still counts
    assert r.extra == {"confidence": 0.4, "turn": "005", "chunk": "02"}


def test_parse_chunk_id():
    assert parse_chunk_id("Ohm_01_001_00") == ("Ohm", "Ohm_01", "001", "00")
    assert parse_chunk_id("Mont_25_120_11") == ("Mont", "Mont_25", "120", "11")
    with pytest.raises(ValueError, match="names school 'Bonn'"):
        parse_chunk_id("Bonn_01_001_00")
    with pytest.raises(ValueError, match="is not <school>_<speaker>_<turn>_<chunk>"):
        parse_chunk_id("Ohm_01_001")


def test_parse_label_line():
    assert parse_label_line("Ohm_01_001_00 N 1.000000") == ("Ohm_01_001_00", "N", 1.0)
    assert parse_label_line("  Mont_01_000_00\tA\t0  ") == ("Mont_01_000_00", "A", 0.0)
    with pytest.raises(ValueError, match="class 'n'"):
        parse_label_line("Ohm_01_001_00 n 1.0")
    with pytest.raises(ValueError, match="outside"):
        parse_label_line("Ohm_01_001_00 N nan")


BAD_LINES = {
    "bad_class": ("Ohm_05_001_00 X 1.0", "class 'X' is not one of A E N P R"),
    "confidence_not_number": ("Ohm_05_001_00 N high", "confidence 'high' is not a number"),
    "confidence_above_one": ("Ohm_05_001_00 N 1.5", "confidence '1.5' is outside [0, 1]"),
    "confidence_negative": ("Ohm_05_001_00 N -0.1", "confidence '-0.1' is outside [0, 1]"),
    "two_fields": ("Ohm_05_001_00 N", "got 2 field(s)"),
    "unknown_school": ("Bonn_05_001_00 N 1.0", "names school 'Bonn'"),
    "malformed_id": ("Ohm_05_001 N 1.0", "is not <school>_<speaker>_<turn>_<chunk>"),
    "duplicate": ("Ohm_01_001_01 E 0.5", "duplicate chunk id (first on line 2)"),
    "missing_wav": ("Ohm_05_001_00 N 1.0", "does not exist"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_line_raises_naming_file_and_line(aibo_root: Path, case: str):
    line, problem = BAD_LINES[case]
    lineno = _append(aibo_root, line)
    with pytest.raises(RecordError) as info:
        read(aibo_root)
    assert problem in info.value.problem
    assert info.value.source == str(aibo_root / LABELS_FILE)
    assert info.value.record.startswith(f"line {lineno}")


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_line_is_quarantined_and_counted(aibo_root: Path, case: str):
    line, problem = BAD_LINES[case]
    _append(aibo_root, line)
    res = read(aibo_root, on_error="quarantine")
    assert [r.id for r in res.records] == IDS
    assert len(res.quarantined) == 1
    assert problem in res.quarantined[0].problem


def test_missing_wav_kept_without_audio_check(aibo_root: Path):
    _append(aibo_root, "Mont_09_001_00 E 0.7")
    res = read(aibo_root, check_audio_exists=False)
    assert [r.id for r in res.records] == IDS + ["Mont_09_001_00"]
    assert res.records[-1].split == "test"


def test_missing_labels_file(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="chunk_labels_5cl_corpus.txt"):
        read(tmp_path)


def test_through_the_registry(aibo_root: Path):
    res = read_dataset("fau_aibo", aibo_root)
    assert [r.id for r in res.records] == IDS
    assert all(isinstance(r, Utterance) for r in res.records)

"""Tests of the JSONL manifest: importer records round-trip byte for byte, and a bad line is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from audioreason.datasets.avqa import read_avqa
from audioreason.datasets.mmau import read_mmau
from audioreason.datasets.records import QARecord, RecordError, read_manifest, write_manifest
from helpers import write_avqa, write_mmau


def test_manifest_round_trip(tmp_path: Path):
    avqa_dir, mmau_dir = write_avqa(tmp_path / "avqa"), write_mmau(tmp_path / "mmau")
    records = (
        read_avqa(avqa_dir / "train_qa.json", avqa_dir / "audio", "train").records
        + read_mmau(mmau_dir / "mmau-test-mini.json", mmau_dir).records
    )
    path = tmp_path / "out" / "manifest.jsonl"
    assert write_manifest(records, path) == len(records)
    back = read_manifest(path)
    assert back == records
    assert [r.extra for r in back] == [r.extra for r in records]  # extra is not part of ==
    assert all(isinstance(r.choices, tuple) for r in back)
    # Deterministic bytes: writing the read-back records again gives the same file.
    again = tmp_path / "again.jsonl"
    write_manifest(back, again)
    assert again.read_bytes() == path.read_bytes()
    assert len(path.read_text().splitlines()) == len(records)


def test_manifest_unicode_and_blank_lines(tmp_path: Path):
    r = QARecord("1", "mmau", "test-mini", "/a.wav", "Qué suena? 音", ("perro", "gato"), "perro", task="sound")
    path = tmp_path / "m.jsonl"
    write_manifest([r], path)
    assert "Qué suena? 音" in path.read_text(encoding="utf-8")
    path.write_text(path.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    assert read_manifest(path) == [r]


@pytest.mark.parametrize(
    "bad_line",
    [
        '{"id": "2", "dataset": "avqa"',  # truncated
        '{"id": "2"}',  # missing fields
        '{"unexpected": 1, "choices": []}',
        "123",
        "null",
    ],
)
def test_corrupt_manifest_line_names_the_line(tmp_path: Path, bad_line: str):
    r = QARecord("1", "avqa", "train", "/a.wav", "Q?", ("a", "b"), "a")
    path = tmp_path / "m.jsonl"
    write_manifest([r, r], path)
    lines = path.read_text().splitlines()
    lines.insert(1, bad_line)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError) as excinfo:
        read_manifest(path)
    assert "line 2" in str(excinfo.value)
    assert str(path) in str(excinfo.value)


def test_manifest_line_that_is_a_json_string_names_the_line(tmp_path: Path):
    path = tmp_path / "m.jsonl"
    path.write_text('"abc"\n')
    with pytest.raises(RecordError) as excinfo:
        read_manifest(path)
    assert "line 1" in str(excinfo.value)

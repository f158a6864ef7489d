"""IEMOCAP importer on a two-session fixture in the real ``IEMOCAP_full_release/`` layout."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioreason.datasets.formats import read_dataset
from audioreason.datasets.iemocap import map_label, parse_summary_line, read, speaker_gender
from audioreason.datasets.records import RecordError, Utterance

HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
# (session, dialog, [(start, end, utterance id, code, vad)])
DIALOGS = [
    (
        1,
        "Ses01F_impro01",
        [
            (6.2901, 8.2357, "Ses01F_impro01_F000", "neu", (2.5, 2.5, 2.5)),
            (10.0, 11.5, "Ses01F_impro01_M012", "exc", (3.5, 4.0, 3.0)),
            (12.0, 13.25, "Ses01F_impro01_F001", "fru", (2.0, 3.5, 3.5)),
            (14.0, 15.0, "Ses01F_impro01_M000", "ang", (1.5, 4.5, 4.0)),
        ],
    ),
    (
        1,
        "Ses01M_impro05a",
        [
            (1.0, 2.0, "Ses01M_impro05a_F000", "sad", (1.5, 1.5, 2.0)),
            (3.0, 4.0, "Ses01M_impro05a_M001", "xxx", (2.5, 3.0, 3.0)),
            (5.0, 6.0, "Ses01M_impro05a_M002", "hap", (4.0, 3.5, 3.0)),
        ],
    ),
    (
        5,
        "Ses05M_script01_1b",
        [
            (0.5, 2.75, "Ses05M_script01_1b_F003", "neu", (3.0, 2.0, 2.5)),
            (3.0, 5.0, "Ses05M_script01_1b_M010", "exc", (4.5, 4.0, 3.5)),
            (6.0, 7.0, "Ses05M_script01_1b_F004", "sur", (3.0, 4.0, 2.0)),
        ],
    ),
]
KEPT = [
    "Ses01F_impro01_F000",
    "Ses01F_impro01_M012",
    "Ses01F_impro01_M000",
    "Ses01M_impro05a_F000",
    "Ses01M_impro05a_M002",
    "Ses05M_script01_1b_F003",
    "Ses05M_script01_1b_M010",
]


def _wav(path: Path, sr: int = 16000, seconds: float = 0.2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * seconds)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr, subtype="PCM_16")


def _summary(start: float, end: float, utt: str, code: str, vad: tuple[float, float, float]) -> str:
    return f"[{start:.4f} - {end:.4f}]\t{utt}\t{code}\t[{vad[0]:.4f}, {vad[1]:.4f}, {vad[2]:.4f}]\n"


def _emo_file(root: Path, session: int, dialog: str) -> Path:
    return root / f"Session{session}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"


def _append(path: Path, line: str) -> int:
    """Append one line; return its 1-based line number."""
    text = path.read_text()
    path.write_text(text + line)
    return len(text.splitlines()) + 1


@pytest.fixture()
def iemocap_root(tmp_path: Path) -> Path:
    root = tmp_path / "IEMOCAP_full_release"
    for session, dialog, lines in DIALOGS:
        body = HEADER
        for start, end, utt, code, vad in lines:
            body += _summary(start, end, utt, code, vad)
            body += "C-E2:\tNeutral state;\t()\nC-F1:\tNeutral state;\t(curious)\n"
            body += "A-E3:\tval 3; act 2; dom  2;\t()\nA-F1:\tval 3; act 2; dom  1;\t()\n\n"
            _wav(root / f"Session{session}" / "sentences" / "wav" / dialog / f"{utt}.wav")
        emo = _emo_file(root, session, dialog)
        emo.parent.mkdir(parents=True, exist_ok=True)
        emo.write_text(body)
    emo_dir = _emo_file(root, 1, "x").parent
    # AppleDouble companion: binary resource fork, not text.
    (emo_dir / "._Ses01F_impro01.txt").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    (root / "Session5" / "sentences" / "wav" / "Ses05M_script01_1b" / "._Ses05M_script01_1b_F003.wav").write_bytes(
        b"\x00\x05\x16\x07"
    )
    # Per-annotator sheets in subfolders: if they were read as dialogs, the summary-like
    # line below would be an utterance with no wav (a RecordError).
    for sub in ("Categorical", "Attribute", "Self-evaluation"):
        (emo_dir / sub).mkdir()
        (emo_dir / sub / f"Ses01F_impro01_{sub[:3].lower()}.txt").write_text(
            "Ses01F_impro01_F000 :Neutral state; ()\n"
            "[1.0000 - 2.0000]\tSes01F_impro01_F099\tneu\t[2.0000, 2.0000, 2.0000]\n"
        )
    return root


def _by_id(records: list[Utterance]) -> dict[str, Utterance]:
    return {r.id: r for r in records}


def test_four_way_counts_order_and_filtered(iemocap_root: Path):
    res = read(iemocap_root)
    assert res.format == "iemocap"
    assert [r.id for r in res.records] == KEPT
    assert collections.Counter(r.label for r in res.records) == {"neu": 2, "hap": 3, "ang": 1, "sad": 1}
    assert collections.Counter(r.raw_label for r in res.records) == {"neu": 2, "exc": 2, "hap": 1, "ang": 1, "sad": 1}
    assert collections.Counter(r.split for r in res.records) == {"train": 5, "test": 2}
    assert res.filtered == {
        "._ file": 2,
        "label fru outside the 4-way set": 1,
        "label sur outside the 4-way set": 1,
        "label xxx outside the 4-way set": 1,
    }
    assert res.quarantined == []


def test_exc_is_merged_into_hap(iemocap_root: Path):
    recs = _by_id(read(iemocap_root).records)
    assert (recs["Ses01F_impro01_M012"].label, recs["Ses01F_impro01_M012"].raw_label) == ("hap", "exc")
    assert (recs["Ses05M_script01_1b_M010"].label, recs["Ses05M_script01_1b_M010"].raw_label) == ("hap", "exc")
    assert (recs["Ses01M_impro05a_M002"].label, recs["Ses01M_impro05a_M002"].raw_label) == ("hap", "hap")


def test_gender_comes_from_the_last_segment_not_the_mocap_wearer(iemocap_root: Path):
    recs = _by_id(read(iemocap_root).records)
    # Ses01F: the woman wore the mocap markers, but M012 is the man speaking.
    assert (recs["Ses01F_impro01_M012"].gender, recs["Ses01F_impro01_M012"].speaker) == ("M", "Ses01_M")
    assert (recs["Ses01M_impro05a_F000"].gender, recs["Ses01M_impro05a_F000"].speaker) == ("F", "Ses01_F")
    assert (recs["Ses05M_script01_1b_F003"].gender, recs["Ses05M_script01_1b_F003"].speaker) == ("F", "Ses05_F")
    assert speaker_gender("Ses01F_impro01_M012") == "M"
    assert speaker_gender("Ses05M_script01_1b_F003") == "F"
    with pytest.raises(ValueError, match="Ses01F_impro01_X012"):
        speaker_gender("Ses01F_impro01_X012")


def test_suffixed_dialogs_session_split_audio_and_extra(iemocap_root: Path):
    recs = _by_id(read(iemocap_root).records)
    r = recs["Ses05M_script01_1b_F003"]
    expected_wav = (
        iemocap_root / "Session5" / "sentences" / "wav" / "Ses05M_script01_1b" / "Ses05M_script01_1b_F003.wav"
    )
    assert r.audio == str(expected_wav.resolve())
    assert Path(r.audio).is_absolute()
    assert (r.dataset, r.split, r.session, r.text) == ("iemocap", "test", "Session5", None)
    assert r.extra == {"dialog": "Ses05M_script01_1b", "start_s": 0.5, "end_s": 2.75, "vad": [3.0, 2.0, 2.5]}
    assert r.source == f"{_emo_file(iemocap_root, 5, 'Ses05M_script01_1b')}#3"
    a = recs["Ses01M_impro05a_F000"]
    assert (a.split, a.session, a.extra["dialog"]) == ("train", "Session1", "Ses01M_impro05a")
    assert a.audio.endswith("Session1/sentences/wav/Ses01M_impro05a/Ses01M_impro05a_F000.wav")


def test_subfolder_txt_files_are_not_dialogs(iemocap_root: Path):
    ids = {r.id for r in read(iemocap_root).records}
    assert "Ses01F_impro01_F099" not in ids


def test_appledouble_files_are_skipped_and_counted(iemocap_root: Path):
    emo_dir = _emo_file(iemocap_root, 5, "x").parent
    (emo_dir / "._Ses05M_script01_1b.txt").write_bytes(b"\x00\x05\x16\x07")
    res = read(iemocap_root)
    assert res.filtered["._ file"] == 3
    assert [r.id for r in res.records] == KEPT


def test_parse_summary_line():
    p = parse_summary_line("[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]")
    assert p == (6.2901, 8.2357, "Ses01F_impro01_F000", "neu", (2.5, 2.5, 2.5))
    for bad in (
        "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu",
        "[6.2901 8.2357]\tSes01F_impro01_F000\tneu\t[2.5, 2.5, 2.5]",
        "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5, 2.5]",
    ):
        with pytest.raises(ValueError, match="not a summary line"):
            parse_summary_line(bad)
    with pytest.raises(ValueError, match="before start"):
        parse_summary_line("[9.0 - 8.0]\tSes01F_impro01_F000\tneu\t[2.5, 2.5, 2.5]")


def test_map_label():
    assert [map_label(c) for c in ("ang", "hap", "exc", "neu", "sad")] == ["ang", "hap", "hap", "neu", "sad"]
    assert [map_label(c) for c in ("fru", "sur", "fea", "dis", "oth", "xxx")] == [None] * 6
    with pytest.raises(ValueError, match="unknown emotion code 'joy'"):
        map_label("joy")


BAD_LINES = {
    "malformed": ("[6.2 - ]\tSes01F_impro01_F050\tneu\t[2.5, 2.5, 2.5]\n", "not a summary line"),
    "unknown_code": (_summary(20.0, 21.0, "Ses01F_impro01_F050", "joy", (2.0, 2.0, 2.0)), "unknown emotion code 'joy'"),
    "other_dialog": (
        _summary(20.0, 21.0, "Ses01F_impro02_F050", "neu", (2.0, 2.0, 2.0)),
        "does not start with the file's dialog name 'Ses01F_impro01'",
    ),
    "other_session": (
        _summary(20.0, 21.0, "Ses02F_impro01_F050", "neu", (2.0, 2.0, 2.0)),
        "does not start with the file's dialog name",
    ),
    "bad_speaker_segment": (
        _summary(20.0, 21.0, "Ses01F_impro01_X050", "neu", (2.0, 2.0, 2.0)),
        "does not end in _F<digits> or _M<digits>",
    ),
    "duplicate": (_summary(20.0, 21.0, "Ses01F_impro01_F000", "neu", (2.0, 2.0, 2.0)), "duplicate utterance id"),
    "missing_wav": (_summary(20.0, 21.0, "Ses01F_impro01_F050", "neu", (2.0, 2.0, 2.0)), "does not exist"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_line_raises_naming_file_and_line(iemocap_root: Path, case: str):
    line, problem = BAD_LINES[case]
    emo = _emo_file(iemocap_root, 1, "Ses01F_impro01")
    lineno = _append(emo, line)
    with pytest.raises(RecordError, match=problem) as info:
        read(iemocap_root)
    assert info.value.source == str(emo)
    assert info.value.record.startswith(f"line {lineno}")


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_line_is_quarantined_and_counted(iemocap_root: Path, case: str):
    line, problem = BAD_LINES[case]
    lineno = _append(_emo_file(iemocap_root, 1, "Ses01F_impro01"), line)
    res = read(iemocap_root, on_error="quarantine")
    assert [r.id for r in res.records] == KEPT
    assert len(res.quarantined) == 1
    assert problem in res.quarantined[0].problem
    assert res.quarantined[0].record.startswith(f"line {lineno}")


def test_session_number_must_match_folder(iemocap_root: Path):
    # A Session2 dialog file misplaced under Session1: its ids name the wrong session.
    emo = _emo_file(iemocap_root, 1, "Ses02F_impro01")
    emo.write_text(HEADER + _summary(1.0, 2.0, "Ses02F_impro01_F000", "neu", (2.0, 2.0, 2.0)))
    with pytest.raises(RecordError, match="does not belong to Session1"):
        read(iemocap_root)


def test_missing_wav_is_kept_without_audio_check(iemocap_root: Path):
    _append(
        _emo_file(iemocap_root, 1, "Ses01F_impro01"),
        _summary(20.0, 21.0, "Ses01F_impro01_F050", "sad", (2.0, 2.0, 2.0)),
    )
    res = read(iemocap_root, check_audio_exists=False)
    assert [r.id for r in res.records] == KEPT[:3] + ["Ses01F_impro01_F050"] + KEPT[3:]


def test_no_session_folder_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="EmoEvaluation"):
        read(tmp_path)


def test_through_the_registry(iemocap_root: Path):
    res = read_dataset("iemocap", iemocap_root)
    assert [r.id for r in res.records] == KEPT
    assert all(isinstance(r, Utterance) for r in res.records)
    assert res.filtered["label fru outside the 4-way set"] == 1

"""VCTK 0.92 importer on a fixture in the real layout, with the p280 (no mic2) and p315 (no text) traps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioreason.datasets.formats import read_dataset
from audioreason.datasets.records import RecordError, Utterance
from audioreason.datasets.vctk import normalise_speaker_id, parse_speaker_line, read

SPEAKER_INFO = (
    "ID  AGE  GENDER  ACCENTS  REGION COMMENTS \n"
    "p225  23  F    English    Southern  England\n"
    "226  22  M    English    Surrey\n"  # id without the p, as in some copies
    "p248  23  F    Indian\n"  # no region
    "p280  25  F    French    France (mic2 files unavailable)\n"
    "p315  18  M    American    New  England (Text missing)\n"
    "\n"
    "p999  30  M    Scottish    Fife\n"  # listed, no audio in this copy
)
# speaker -> {utterance number: mics present}
AUDIO = {
    "p225": {"001": (1, 2), "002": (1, 2), "003": (2,)},
    "p226": {"001": (1, 2)},
    "p248": {"010": (1, 2)},
    "p280": {"001": (1,), "002": (1,)},
    "p315": {"001": (1, 2), "002": (1, 2)},
}
TEXTS = {
    "p225_001": "Please call Stella.\n",
    "p225_002": "  Ask her to bring these things with her from the store.  \n",
    "p225_003": "Six spoons of fresh snow peas.",
    "p225_004": "A transcript whose recording is absent.",
    "p226_001": "Please call Stella.",
    "p248_010": "People look, but no one ever finds it.",
    "p280_001": "Please call Stella.",
    "p280_002": "We also need a small plastic snake.",
}
IDS = ["p225_001", "p225_002", "p225_003", "p226_001", "p248_010", "p280_001", "p280_002", "p315_001", "p315_002"]


def _flac(path: Path, sr: int = 48000, seconds: float = 0.2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * seconds)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), sr, format="FLAC", subtype="PCM_16")


@pytest.fixture()
def vctk_root(tmp_path: Path) -> Path:
    root = tmp_path / "VCTK-Corpus-0.92"
    root.mkdir()
    (root / "speaker-info.txt").write_text(SPEAKER_INFO)
    wav = root / "wav48_silence_trimmed"
    for speaker, utts in AUDIO.items():
        for number, mics in utts.items():
            for mic in mics:
                _flac(wav / speaker / f"{speaker}_{number}_mic{mic}.flac")
    (wav / "log.txt").write_text("silence trimmed with a 30 dB threshold\n")  # not a speaker folder
    (wav / "p225" / "._p225_001_mic1.flac").write_bytes(b"\x00\x05\x16\x07")
    for utt, text in TEXTS.items():
        path = root / "txt" / utt.split("_")[0] / f"{utt}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _by_id(records: list[Utterance]) -> dict[str, Utterance]:
    return {r.id: r for r in records}


def test_one_record_per_utterance_in_order(vctk_root: Path):
    res = read(vctk_root)
    assert res.format == "vctk"
    assert [r.id for r in res.records] == IDS
    assert {(r.dataset, r.split, r.label, r.raw_label, r.session) for r in res.records} == {("vctk", "all", "", "", "")}
    assert [r.speaker for r in res.records] == ["p225"] * 3 + ["p226", "p248", "p280", "p280", "p315", "p315"]
    assert [r.gender for r in res.records] == ["F", "F", "F", "M", "F", "F", "F", "M", "M"]
    assert res.filtered == {"._ file": 1, "transcript without audio": 1}
    assert res.quarantined == []


def test_mic1_is_the_audio_and_mic2_in_extra(vctk_root: Path):
    r = _by_id(read(vctk_root).records)["p225_001"]
    speaker_dir = vctk_root / "wav48_silence_trimmed" / "p225"
    assert r.audio == str((speaker_dir / "p225_001_mic1.flac").resolve())
    assert r.extra == {
        "mic": "mic1",
        "mic1": str((speaker_dir / "p225_001_mic1.flac").resolve()),
        "mic2": str((speaker_dir / "p225_001_mic2.flac").resolve()),
        "age": 23,
        "accent": "English",
        "region": "Southern England",
        "comment": "",
    }
    assert r.text == "Please call Stella."


def test_p280_has_no_mic2_and_is_kept(vctk_root: Path):
    recs = _by_id(read(vctk_root).records)
    for utt in ("p280_001", "p280_002"):
        assert recs[utt].extra["mic2"] is None
        assert recs[utt].audio.endswith(f"p280/{utt}_mic1.flac")
    assert recs["p280_001"].extra["region"] == "France"
    assert recs["p280_001"].extra["comment"] == "mic2 files unavailable"


def test_p315_has_no_text_and_is_kept(vctk_root: Path):
    recs = _by_id(read(vctk_root).records)
    assert [recs[u].text for u in ("p315_001", "p315_002")] == [None, None]
    assert recs["p315_001"].extra["mic2"] is not None
    assert (recs["p315_001"].extra["region"], recs["p315_001"].extra["comment"]) == ("New England", "Text missing")
    assert sum(r.text is None for r in recs.values()) == 2


def test_utterance_with_only_mic2_uses_mic2(vctk_root: Path):
    r = _by_id(read(vctk_root).records)["p225_003"]
    mic2 = str((vctk_root / "wav48_silence_trimmed" / "p225" / "p225_003_mic2.flac").resolve())
    assert (r.audio, r.extra["mic"], r.extra["mic1"], r.extra["mic2"]) == (mic2, "mic2", None, mic2)


def test_transcripts_are_stripped(vctk_root: Path):
    assert _by_id(read(vctk_root).records)["p225_002"].text == "Ask her to bring these things with her from the store."


def test_bare_id_and_empty_region(vctk_root: Path):
    recs = _by_id(read(vctk_root).records)
    assert (recs["p226_001"].speaker, recs["p226_001"].gender, recs["p226_001"].extra["age"]) == ("p226", "M", 22)
    assert (recs["p248_010"].extra["accent"], recs["p248_010"].extra["region"]) == ("Indian", "")


def test_parse_speaker_line_and_ids():
    assert parse_speaker_line("p315  18  M    American    New  England (Text missing)") == (
        "p315",
        18,
        "M",
        "American",
        "New England",
        "Text missing",
    )
    assert parse_speaker_line("225 23 F English Southern England") == (
        "p225",
        23,
        "F",
        "English",
        "Southern England",
        "",
    )
    assert [normalise_speaker_id(s) for s in ("225", "p225", "s5")] == ["p225", "p225", "s5"]
    with pytest.raises(ValueError, match="age 'x23'"):
        parse_speaker_line("p225 x23 F English")
    with pytest.raises(ValueError, match="gender 'female'"):
        parse_speaker_line("p225 23 female English")
    with pytest.raises(ValueError, match="got 3 field"):
        parse_speaker_line("p225 23 F")
    with pytest.raises(ValueError, match="speaker id 'P-225'"):
        parse_speaker_line("P-225 23 F English")


def _unlisted_folder(root: Path) -> tuple[Path, str]:
    _flac(root / "wav48_silence_trimmed" / "p400" / "p400_001_mic1.flac")
    return root / "wav48_silence_trimmed" / "p400", "speaker folder not listed in"


def _misnamed_file(root: Path) -> tuple[Path, str]:
    path = root / "wav48_silence_trimmed" / "p225" / "p225_004.wav"
    path.write_bytes(b"RIFF")
    return path, "not an audio file named p225_<NNN>_mic{1,2}.flac"


def _foreign_file(root: Path) -> tuple[Path, str]:
    path = root / "wav48_silence_trimmed" / "p225" / "p226_005_mic1.flac"
    _flac(path)
    return path, "file of speaker 'p226' inside folder 'p225'"


def _empty_transcript(root: Path) -> tuple[Path, str]:
    path = root / "txt" / "p280" / "p280_002.txt"
    path.write_text("  \n")
    return path, "transcript file is empty"


def _duplicate_speaker(root: Path) -> tuple[Path, str]:
    info = root / "speaker-info.txt"
    info.write_text(info.read_text() + "p225  40  M  Welsh  Cardiff\n")
    return info, "duplicate speaker (first on line 2)"


BAD = {
    f.__name__.lstrip("_"): f
    for f in (_unlisted_folder, _misnamed_file, _foreign_file, _empty_transcript, _duplicate_speaker)
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_raises_naming_file(vctk_root: Path, case: str):
    source, problem = BAD[case](vctk_root)
    with pytest.raises(RecordError) as info:
        read(vctk_root)
    assert problem in info.value.problem
    assert info.value.source == str(source)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_quarantined_and_counted(vctk_root: Path, case: str):
    _, problem = BAD[case](vctk_root)
    res = read(vctk_root, on_error="quarantine")
    assert len(res.quarantined) == 1
    assert problem in res.quarantined[0].problem
    expected = [u for u in IDS if not (case == "empty_transcript" and u == "p280_002")]
    assert [r.id for r in res.records] == expected


def test_malformed_speaker_row_names_the_line(vctk_root: Path):
    info = vctk_root / "speaker-info.txt"
    info.write_text(info.read_text().replace("226  22  M", "226  22  X"))
    with pytest.raises(RecordError, match="gender 'X' is not F or M") as err:
        read(vctk_root)
    assert (err.value.source, err.value.record) == (str(info), "line 3")
    # Quarantined, the row and then the speaker's folder are both reported; p226 is not read.
    res = read(vctk_root, on_error="quarantine")
    assert [e.record for e in res.quarantined] == ["line 3", "p226"]
    assert [r.id for r in res.records] == [u for u in IDS if not u.startswith("p226")]


def test_missing_speaker_info(tmp_path: Path):
    (tmp_path / "wav48_silence_trimmed").mkdir()
    with pytest.raises(FileNotFoundError, match="speaker-info.txt"):
        read(tmp_path)


def test_through_the_registry(vctk_root: Path):
    res = read_dataset("vctk", vctk_root)
    assert [r.id for r in res.records] == IDS
    assert all(isinstance(r, Utterance) for r in res.records)

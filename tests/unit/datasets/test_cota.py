"""CoTA importer: parquet fixtures in both audio forms, both tag cases, and each known defect."""

from __future__ import annotations

import doctest
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from audioreason.datasets import cota
from audioreason.datasets.cota import (
    SYSTEM_PROMPT,
    load_cota_audio,
    parse_assistant_turn,
    parse_user_turn,
    read,
    trace_mismatch,
)
from audioreason.datasets.formats import read_dataset
from audioreason.datasets.records import CotaRecord, RecordError

SR = 16000


def _tone(freq: float = 440.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(0.2 * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _audio_bytes(fmt: str = "WAV", freq: float = 440.0) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, _tone(freq), SR, format=fmt)
    return buf.getvalue()


def _assistant(
    summary="The sound is (b) Cat meowing.",
    response="A cat meows. The answer is B.",
    *,
    lower=False,
    caption="A cat meows twice.",
) -> str:
    text = (
        f"<THINK>\n<PLANNING>Listen for the animal.</PLANNING>\n<CAPTION>{caption}</CAPTION>\n"
        f"<REASONING>Meowing comes from a cat.</REASONING>\n<SUMMARY>{summary}</SUMMARY>\n</THINK>\n"
        f"<RESPONSE>{response}</RESPONSE>"
    )
    if lower:
        for tag in ("THINK", "PLANNING", "CAPTION", "REASONING", "SUMMARY", "RESPONSE"):
            text = text.replace(f"<{tag}>", f"<{tag.lower()}>").replace(f"</{tag}>", f"</{tag.lower()}>")
    return text


USER = "<audio>\nWhich animal makes the sound? (a) Dog barking (b) Cat meowing (c) Bird singing"


def _row(user=USER, assistant=None, audio=None, **extra) -> dict:
    return {
        "audio": {"bytes": _audio_bytes(), "path": "x.wav"} if audio is None else audio,
        "user": user,
        "assistant": _assistant() if assistant is None else assistant,
        **extra,
    }


def _write(path: Path, rows: list[dict], *, array_form=False, row_group_size=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if array_form:
        audio_type = pa.struct([("array", pa.list_(pa.float32())), ("sampling_rate", pa.int64())])
    else:
        audio_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    fields = [("audio", audio_type), ("user", pa.string()), ("assistant", pa.string())]
    if rows and "id" in rows[0]:
        fields.append(("id", pa.string()))
    table = pa.Table.from_pylist(rows, schema=pa.schema(fields))
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def test_doctests():
    assert doctest.testmod(cota).failed == 0


def test_system_prompt_is_exact():
    assert SYSTEM_PROMPT == (
        "You are an audio deep-thinking model. Upon receiving a question, please respond in two parts: <THINK> and "
        "<RESPONSE>. The <THINK> section should be further divided into four parts: <PLANNING>, <CAPTION>, "
        "<REASONING>, and <SUMMARY>."
    )


def test_parse_user_turn_upper_case_and_eight_options():
    text = "<audio>Pick one: " + " ".join(f"({c}) opt{c}" for c in "ABCDEFGH")
    assert parse_user_turn(text) == ("Pick one:", tuple(f"opt{c}" for c in "ABCDEFGH"))


def test_parse_user_turn_errors():
    with pytest.raises(ValueError, match="does not start with <audio>"):
        parse_user_turn("What is it? (a) x (b) y")
    with pytest.raises(ValueError, match=r"option \(b\) is empty"):
        parse_user_turn("<audio>What is it? (a) x (b) (c) z")
    with pytest.raises(ValueError, match="question text is empty"):
        parse_user_turn("<audio> (a) x (b) y")


def test_parse_assistant_turn_both_cases_give_the_same_fields():
    upper, lower = parse_assistant_turn(_assistant()), parse_assistant_turn(_assistant(lower=True))
    assert (
        upper
        == lower
        == {
            "planning": "Listen for the animal.",
            "caption": "A cat meows twice.",
            "reasoning": "Meowing comes from a cat.",
            "summary": "The sound is (b) Cat meowing.",
            "response": "A cat meows. The answer is B.",
            "answer_letter": "B",
        }
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_assistant().replace("<REASONING>Meowing comes from a cat.</REASONING>\n", ""), "missing <REASONING>"),
        (_assistant().replace("<RESPONSE>A cat meows. The answer is B.</RESPONSE>", ""), "missing <RESPONSE>"),
        (_assistant(caption=" "), "empty <CAPTION>"),
        (_assistant() + "<RESPONSE>again</RESPONSE>", "2 <RESPONSE> blocks"),
        (
            _assistant()
            .replace("<PLANNING>Listen for the animal.</PLANNING>\n", "")
            .replace("</SUMMARY>", "</SUMMARY><PLANNING>late</PLANNING>"),
            "not in the order",
        ),
        ("Sure! " + _assistant(), "text outside"),
    ],
)
def test_parse_assistant_turn_defects(text, message):
    with pytest.raises(ValueError, match=message):
        parse_assistant_turn(text)


def test_trace_mismatch_ignores_letter_only_mentions():
    opts = ("Dog barking", "Cat meowing", "Bird singing")
    assert trace_mismatch(opts, "Options (a) and (c) are wrong; (b) is right.", "The answer is B.", "B") is None
    assert trace_mismatch(opts, "It is (B) 'cat meowing'.", "So: (b) the Cat Meowing. The answer is B.", "B") is None


def test_reads_bytes_form_with_mixed_tag_case(tmp_path):
    f = _write(
        tmp_path / "train-00000.parquet",
        [
            _row(),
            _row(assistant=_assistant(lower=True), audio={"bytes": _audio_bytes("FLAC", 660.0), "path": "y.flac"}),
        ],
    )
    res = read(f)
    assert res.format == "cota" and res.quarantined == [] and res.filtered == {}
    assert [r.id for r in res.records] == ["train-00000-0", "train-00000-1"]
    r = res.records[0]
    assert r == CotaRecord(
        id="train-00000-0",
        dataset="cota",
        split="train",
        audio=f"{f.resolve()}#0",
        question="Which animal makes the sound?",
        choices=("Dog barking", "Cat meowing", "Bird singing"),
        answer="Cat meowing",
        answer_letter="B",
        planning="Listen for the animal.",
        caption="A cat meows twice.",
        reasoning="Meowing comes from a cat.",
        summary="The sound is (b) Cat meowing.",
        response="A cat meows. The answer is B.",
        source=f"{f}#0",
    )
    assert res.records[1].summary == r.summary and res.records[1].answer_letter == "B"
    samples, sr = load_cota_audio(res.records[1])
    assert sr == SR and samples.dtype == np.float32 and samples.shape == (3200,)
    np.testing.assert_allclose(samples, _tone(660.0), atol=1e-4)


def test_reads_array_form_with_id_column_and_open_question(tmp_path):
    rows = [
        _row(audio={"array": _tone(330.0).tolist(), "sampling_rate": SR}, id="cota-17"),
        _row(
            user="<audio>Describe what you hear.",
            id="cota-18",
            audio={"array": _tone(550.0).tolist(), "sampling_rate": SR},
            assistant=_assistant(summary="A cat meows twice.", response="A cat meows twice in a quiet room."),
        ),
        _row(audio={"array": _tone(770.0).tolist(), "sampling_rate": SR}, id="cota-19"),
    ]
    f = _write(tmp_path / "export.parquet", rows, array_form=True, row_group_size=2)
    assert pq.ParquetFile(f).num_row_groups == 2
    res = read(f)
    assert [r.id for r in res.records] == ["cota-17", "cota-18", "cota-19"]
    open_q = res.records[1]
    assert (open_q.question, open_q.choices, open_q.answer_letter) == ("Describe what you hear.", (), "")
    assert open_q.answer == "A cat meows twice in a quiet room."
    samples, sr = load_cota_audio(res.records[2].audio)  # the second row group
    assert sr == SR
    np.testing.assert_allclose(samples, _tone(770.0), atol=1e-6)


def test_clips_of_one_row_group_read_it_once_and_a_rewritten_file_is_read_again(tmp_path, monkeypatch):
    import os

    rows = [_row(audio={"array": _tone(f).tolist(), "sampling_rate": SR}) for f in (330.0, 550.0, 770.0)]
    f = _write(tmp_path / "export.parquet", rows, array_form=True, row_group_size=2)
    reads = []
    real = pq.ParquetFile.read_row_group
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", lambda self, i, **kw: reads.append(i) or real(self, i, **kw))
    for row, freq in ((0, 330.0), (1, 550.0), (2, 770.0), (0, 330.0), (2, 770.0)):
        np.testing.assert_allclose(load_cota_audio(f"{f}#{row}")[0], _tone(freq), atol=1e-6)
    assert reads == [0, 1]  # each group once, though five clips were asked for
    with pytest.raises(IndexError, match="has 3 rows, no row 3"):
        load_cota_audio(f"{f}#3")
    _write(f, [_row(audio={"array": _tone(990.0).tolist(), "sampling_rate": SR})], array_form=True)
    os.utime(f, ns=(1, 1))  # a different mtime, however fast the rewrite
    np.testing.assert_allclose(load_cota_audio(f"{f}#0")[0], _tone(990.0), atol=1e-6)
    assert reads == [0, 1, 0]


def test_folder_is_searched_recursively_and_sorted(tmp_path):
    _write(tmp_path / "data" / "b" / "part-1.parquet", [_row()])
    _write(tmp_path / "data" / "a.parquet", [_row(), _row()])
    (tmp_path / "data" / "README.md").write_text("not parquet")
    res = read_dataset("cota", tmp_path / "data")
    assert [r.id for r in res.records] == ["a-0", "a-1", "part-1-0"]
    assert res.records[2].audio == f"{(tmp_path / 'data' / 'b' / 'part-1.parquet').resolve()}#0"


def test_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no \\*.parquet"):
        read(tmp_path)


MC_DEFECTS = {
    "missing stage": (
        _row(assistant=_assistant().replace("<CAPTION>A cat meows twice.</CAPTION>\n", "")),
        "missing <CAPTION>",
    ),
    "missing response": (_row(assistant=_assistant().split("<RESPONSE>")[0]), "missing <RESPONSE>"),
    "no final answer": (_row(assistant=_assistant(response="A cat meows.")), "no 'The answer is X.'"),
    "letter not an option": (
        _row(assistant=_assistant(summary="A cat.", response="The answer is E.")),
        "answer letter E is not an option letter",
    ),
    "summary from another question": (
        _row(assistant=_assistant(summary="The instrument is (b) Electric guitar.")),
        "mismatch: SUMMARY names \\(B\\) 'electric guitar' but option B of this question is 'Cat meowing'",
    ),
    "response from another question": (
        _row(assistant=_assistant(response="It is (c) Violin. The answer is C.", summary="A bird, so C.")),
        "mismatch: RESPONSE names \\(C\\) 'violin",
    ),
    "summary names a letter beyond the options": (
        _row(assistant=_assistant(summary="Clearly (d) Thunder.", response="The answer is B.")),
        "names \\(D\\) 'thunder' but this question has options A-C",
    ),
    "final letter contradicts summary": (
        _row(assistant=_assistant(response="A bird. The answer is C.")),
        "final letter C contradicts the option\\(s\\) B named in the SUMMARY",
    ),
    "open question with a letter": (
        _row(user="<audio>Describe the sound.", assistant=_assistant(summary="A cat.")),
        "answer letter B is not an option letter \\(the question has no inline options\\)",
    ),
    "no audio token": (_row(user=USER.replace("<audio>\n", "")), "does not start with <audio>"),
    "undecodable audio bytes": (
        _row(audio={"bytes": b"RIFF\x00\x00garbage", "path": "bad.wav"}),
        "undecodable audio bytes",
    ),
    "null audio": (_row(audio={"bytes": None, "path": "elsewhere.wav"}), "neither bytes nor a sample array"),
}


@pytest.mark.parametrize("case", list(MC_DEFECTS))
def test_defect_raises_naming_file_and_row(tmp_path, case):
    row, message = MC_DEFECTS[case]
    f = _write(tmp_path / "cota.parquet", [_row(), row])
    with pytest.raises(RecordError, match=message) as e:
        read(f)
    assert e.value.source == str(f) and e.value.record == "row 1 (id cota-1)"


def test_defects_are_quarantined_and_counted(tmp_path):
    f = _write(tmp_path / "cota.parquet", [_row()] + [row for row, _ in MC_DEFECTS.values()] + [_row()])
    res = read(f, on_error="quarantine")
    assert [r.id for r in res.records] == ["cota-0", f"cota-{len(MC_DEFECTS) + 1}"]
    assert len(res.quarantined) == len(MC_DEFECTS) == 12
    assert [e.record for e in res.quarantined] == [f"row {i} (id cota-{i})" for i in range(1, len(MC_DEFECTS) + 1)]


def test_audio_header_is_only_decoded_when_checking(tmp_path):
    f = _write(tmp_path / "cota.parquet", [_row(audio={"bytes": b"not audio at all", "path": "bad.wav"})])
    assert len(read(f, check_audio_exists=False).records) == 1
    assert len(read(f, on_error="quarantine").quarantined) == 1


def test_corrupt_parquet_is_counted_and_the_rest_read(tmp_path):
    good = _write(tmp_path / "a.parquet", [_row()])
    (tmp_path / "b.parquet").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(RecordError, match="cannot read parquet") as e:
        read(tmp_path)
    assert e.value.source == str(tmp_path / "b.parquet") and e.value.record == "(file)"
    res = read(tmp_path, on_error="quarantine")
    assert [r.id for r in res.records] == ["a-0"] and len(res.quarantined) == 1


def test_missing_column_and_bad_audio_type(tmp_path):
    pq.write_table(pa.table({"audio": [b"x"], "user": [USER], "assistant": [_assistant()]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"user": [USER], "assistant": [_assistant()]}), tmp_path / "b.parquet")
    res = read(tmp_path, on_error="quarantine")
    assert res.records == []
    assert [e.problem for e in res.quarantined] == [
        "audio column has type binary; expected a struct {bytes, path} or {array, sampling_rate}",
        "missing column(s) audio (has user, assistant)",
    ]


def test_duplicate_and_null_ids(tmp_path):
    f = _write(tmp_path / "c.parquet", [_row(id="x"), _row(id="x"), _row(id=None)])
    res = read(f, on_error="quarantine")
    assert [r.id for r in res.records] == ["x"]
    assert [e.problem for e in res.quarantined] == ["duplicate id x (first at " + f"{f}#0)", "id is null"]


def test_non_finite_array_is_bad_only_when_checking(tmp_path):
    samples = _tone().tolist()
    samples[5] = float("nan")
    f = _write(tmp_path / "c.parquet", [_row(audio={"array": samples, "sampling_rate": SR})], array_form=True)
    assert len(read(f, check_audio_exists=False).records) == 1
    with pytest.raises(RecordError, match="non-finite"):
        read(f)

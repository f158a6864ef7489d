"""IEMOCAP importer, 4-way emotion protocol (FORMATS.md, "IEMOCAP (4-way)").

Paper 01 (§4.1) reports speech emotion recognition on IEMOCAP Session 5; paper 04 (§III) uses the
4-way setup (angry, happy+excited, neutral, sad: 5,531 utterances) with Sessions 1-4 for
training and Session 5 for testing, and bins pitch/formant tokens per speaker gender.

Layout read (``PATH`` is the ``IEMOCAP_full_release/`` folder)::

    Session{1..5}/dialog/EmoEvaluation/<dialog>.txt     one file per dialog (top level only)
    Session{n}/sentences/wav/<dialog>/<utt>.wav         16 kHz audio of one utterance

Each EmoEvaluation file holds one summary line per utterance, tab separated::

    [6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]

followed by per-annotator lines (``C-E1:\\tNeutral state;\\t()``, ``A-E1:\\tval 3; act 2;
dom 2;\\t()``), blank lines and a ``% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]``
header; only lines starting with ``[`` are utterances.

Traps handled:

* ``EmoEvaluation/`` has subfolders (``Categorical/``, ``Attribute/``, ``Self-evaluation/``)
  whose ``.txt`` files are per-annotator sheets, not dialogs: only top-level files are read.
* macOS AppleDouble ``._*`` files sit beside the real ones (dialog files and wavs): skipped
  and counted (``filtered["._ file"]``) in the folders read, i.e. the top level of
  ``EmoEvaluation/`` and every ``sentences/wav/<dialog>/``.
* The speaker's gender is the first character of the segment after the LAST underscore
  (``Ses01F_impro01_M012`` is a man); the ``F``/``M`` in ``Ses01F`` names the mocap wearer.
* Dialog names carry suffixes (``Ses03M_impro05a``, ``Ses05M_script01_1b``), so ids are
  parsed by splitting on underscores, never by fixed offsets.
* ``exc`` is merged into ``hap`` (``raw_label`` keeps ``exc``); ``fru sur fea dis oth xxx``
  leave the 4-way set and are counted per code in ``filtered``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from audioreason.datasets.records import ImportResult, Problems, Utterance

FORMAT = "iemocap"
SESSIONS = (1, 2, 3, 4, 5)
TEST_SESSIONS = frozenset({5})
#: Every code an EmoEvaluation summary line may carry.
EMOTION_CODES = frozenset({"neu", "hap", "exc", "sad", "ang", "fru", "sur", "fea", "dis", "oth", "xxx"})
#: The 4-way protocol: raw code -> label; codes not here are left out.
FOUR_WAY = {"ang": "ang", "hap": "hap", "exc": "hap", "neu": "neu", "sad": "sad"}

_NUMBER = r"[-+]?\d+(?:\.\d*)?"
_SUMMARY = re.compile(
    rf"^\[\s*(?P<start>{_NUMBER})\s*-\s*(?P<end>{_NUMBER})\s*\]\s+(?P<utt>\S+)\s+(?P<code>\S+)\s+"
    rf"\[\s*(?P<v>{_NUMBER})\s*,\s*(?P<a>{_NUMBER})\s*,\s*(?P<d>{_NUMBER})\s*\]\s*$"
)
_SESSION_TAG = re.compile(r"^Ses(\d{2})[FM]$")
_SPEAKER_TAG = re.compile(r"^([FM])\d+$")


class SummaryLine(NamedTuple):
    """One parsed EmoEvaluation summary line (times in seconds from the dialog start)."""

    start_s: float
    end_s: float
    utterance_id: str
    code: str
    vad: tuple[float, float, float]


def parse_summary_line(line: str) -> SummaryLine:
    """Parse ``[start - end]\\tutt\\tcode\\t[v, a, d]``.

    >>> parse_summary_line("[6.2901 - 8.2357]\\tSes01F_impro01_F000\\tneu\\t[2.5000, 2.5000, 2.5000]")
    SummaryLine(start_s=6.2901, end_s=8.2357, utterance_id='Ses01F_impro01_F000', code='neu', vad=(2.5, 2.5, 2.5))

    Raises:
        ValueError: when the line does not have that shape or ends before it starts.
    """
    m = _SUMMARY.match(line.strip())
    if m is None:
        raise ValueError(
            f"not a summary line '[start - end]<TAB>utterance<TAB>emotion<TAB>[v, a, d]': {line.strip()!r}"
        )
    start, end = float(m["start"]), float(m["end"])
    if end < start:
        raise ValueError(f"end time {end} is before start time {start}")
    return SummaryLine(start, end, m["utt"], m["code"], (float(m["v"]), float(m["a"]), float(m["d"])))


def speaker_gender(utterance_id: str) -> str:
    """The speaker's gender: first character of the segment after the LAST underscore.

    >>> speaker_gender("Ses01F_impro01_M012"), speaker_gender("Ses05M_script01_1b_F003")
    ('M', 'F')

    Raises:
        ValueError: when that segment is not ``F<digits>`` or ``M<digits>``.
    """
    _, _, turn = utterance_id.rpartition("_")
    m = _SPEAKER_TAG.match(turn)
    if m is None:
        raise ValueError(f"utterance id {utterance_id!r} does not end in _F<digits> or _M<digits>")
    return m[1]


def map_label(code: str) -> str | None:
    """The 4-way label of an emotion code (``exc`` -> ``hap``), or ``None`` when the protocol leaves it out.

    Raises:
        ValueError: for a code IEMOCAP does not use.
    """
    if code not in EMOTION_CODES:
        raise ValueError(f"unknown emotion code {code!r} (known: {' '.join(sorted(EMOTION_CODES))})")
    return FOUR_WAY.get(code)


def split_of_session(session: int) -> str:
    """``train`` for Sessions 1-4, ``test`` for Session 5 (the papers' protocol)."""
    return "test" if session in TEST_SESSIONS else "train"


def read_emo_evaluation(
    txt: Path, session: int, problems: Problems, *, check_audio_exists: bool = True, seen: set[str] | None = None
) -> list[Utterance]:
    """Read one dialog's EmoEvaluation file into 4-way utterances.

    Args:
        txt: ``Session{n}/dialog/EmoEvaluation/<dialog>.txt``; the dialog name is its stem.
        session: The ``n`` of the ``Session{n}`` folder it lies in.
        problems: Where malformed lines go and left-out labels are counted.
        check_audio_exists: Report a missing ``sentences/wav/<dialog>/<utt>.wav``.
        seen: Utterance ids already read (shared across files to catch duplicates).
    """
    dialog = txt.stem
    wav_dir = txt.parents[2] / "sentences" / "wav" / dialog
    seen = set() if seen is None else seen
    out: list[Utterance] = []
    try:
        lines = txt.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        problems.bad(txt, "(file)", f"not UTF-8 text ({e})")
        return out
    for lineno, line in enumerate(lines, 1):
        if not line.startswith("["):
            continue  # header, blank, or a per-annotator line (C-E1:, A-F2:)
        try:
            parsed = parse_summary_line(line)
        except ValueError as e:
            problems.bad(txt, f"line {lineno}", str(e))
            continue
        utt = parsed.utterance_id
        where = f"line {lineno} ({utt})"
        if not utt.startswith(dialog + "_"):
            problems.bad(txt, where, f"utterance id does not start with the file's dialog name {dialog!r}")
            continue
        session_tag = _SESSION_TAG.match(utt.split("_", 1)[0])
        if session_tag is None or int(session_tag[1]) != session:
            problems.bad(
                txt, where, f"utterance id does not belong to Session{session} (expected prefix Ses{session:02d}F/M)"
            )
            continue
        try:
            gender = speaker_gender(utt)
            label = map_label(parsed.code)
        except ValueError as e:
            problems.bad(txt, where, str(e))
            continue
        if utt in seen:
            problems.bad(txt, where, "duplicate utterance id")
            continue
        seen.add(utt)
        if label is None:
            problems.filter(f"label {parsed.code} outside the 4-way set")
            continue
        audio = wav_dir / f"{utt}.wav"
        if problems.audio_missing(txt, where, audio, check_audio_exists):
            continue
        out.append(
            Utterance(
                id=utt,
                dataset=FORMAT,
                split=split_of_session(session),
                audio=str(audio.resolve()),
                speaker=f"Ses{session:02d}_{gender}",
                gender=gender,
                label=label,
                raw_label=parsed.code,
                text=None,
                session=f"Session{session}",
                source=f"{txt}#{lineno}",
                extra={"dialog": dialog, "start_s": parsed.start_s, "end_s": parsed.end_s, "vad": list(parsed.vad)},
            )
        )
    return out


def dialog_files(emo_dir: Path, problems: Problems) -> list[Path]:
    """The top-level ``<dialog>.txt`` files of an EmoEvaluation folder, sorted; ``._*`` counted and skipped."""
    return [p for p in problems.visible(emo_dir.iterdir()) if p.is_file() and p.suffix == ".txt"]


def count_appledouble_wavs(wav_root: Path, problems: Problems) -> None:
    """Count the ``._*`` companions in ``sentences/wav/<dialog>/`` folders (never read as audio)."""
    if not wav_root.is_dir():
        return
    for dialog_dir in sorted(p for p in wav_root.iterdir() if p.is_dir()):
        problems.visible(dialog_dir.iterdir())


def read(path: str | Path, *, on_error: str = "raise", check_audio_exists: bool = True) -> ImportResult:
    """Read ``IEMOCAP_full_release/`` into 4-way :class:`Utterance` records.

    Records come session by session, dialog files in sorted order, lines in file order.
    Sessions whose ``dialog/EmoEvaluation`` folder is absent are skipped (a partial copy),
    but at least one must be there.

    Raises:
        FileNotFoundError: when no ``Session{1..5}/dialog/EmoEvaluation`` folder exists.
        RecordError: (``on_error="raise"``) for a malformed summary line, an unknown code,
            an utterance id that does not match its file's dialog or session, a duplicate
            id, or a missing wav.
    """
    root = Path(path)
    problems = Problems(on_error)
    emo_dirs = {n: root / f"Session{n}" / "dialog" / "EmoEvaluation" for n in SESSIONS}
    emo_dirs = {n: d for n, d in emo_dirs.items() if d.is_dir()}
    if not emo_dirs:
        raise FileNotFoundError(f"{FORMAT}: no Session{{1..5}}/dialog/EmoEvaluation folder under {root}")
    records: list[Utterance] = []
    seen: set[str] = set()
    for session, emo_dir in emo_dirs.items():
        for txt in dialog_files(emo_dir, problems):
            records += read_emo_evaluation(txt, session, problems, check_audio_exists=check_audio_exists, seen=seen)
        count_appledouble_wavs(emo_dir.parents[1] / "sentences" / "wav", problems)
    return problems.result(FORMAT, records)

"""VCTK 0.92 importer (FORMATS.md, "VCTK 0.92").

Paper 05 (SSEU-Bench, §2.1) takes its clean foreground speech and the ASR references from
VCTK: 104 speakers, mixed with DESED / MAESTRO-Real backgrounds.

Layout read (``PATH`` is the VCTK 0.92 root)::

    speaker-info.txt                                   header, then ID AGE GENDER ACCENTS REGION...
    wav48_silence_trimmed/<spk>/<spk>_<NNN>_mic1.flac  48 kHz, the Omni microphone
    wav48_silence_trimmed/<spk>/<spk>_<NNN>_mic2.flac  48 kHz, the small-diaphragm condenser
    txt/<spk>/<spk>_<NNN>.txt                          the prompt read aloud

One :class:`~audioreason.datasets.records.Utterance` per (speaker, utterance number):
``audio`` is the mic1 file (mic2 when an utterance has only mic2), and ``extra`` holds both
paths (``extra["mic1"]``, ``extra["mic2"]``; ``None`` where absent) and the speaker's age,
accent, region and comment from ``speaker-info.txt``.

Traps handled:

* p280 has no mic2 files: ``extra["mic2"]`` is ``None`` and the record is kept.
* p315 has no transcripts: ``text`` is ``None`` and the record is kept (callers count
  ``text is None``; ASR scoring must leave those out).
* ``speaker-info.txt`` is whitespace separated with a free-text tail: REGION may hold
  spaces or be empty, and some rows end in a comment such as ``(mic2 files unavailable)``,
  which is split off into ``extra["comment"]``. Some copies write ids without the ``p``
  (``225``): they are normalised to ``p225``.
* macOS ``._*`` files are skipped and counted (``filtered["._ file"]``); transcripts with
  no audio are counted (``filtered["transcript without audio"]``).

Every audio file is found by listing the folders, so ``check_audio_exists`` has nothing
left to check.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from audioreason.datasets.records import ImportResult, Problems, Utterance

FORMAT = "vctk"
SPEAKER_INFO = "speaker-info.txt"
WAV_DIR = "wav48_silence_trimmed"
TXT_DIR = "txt"

_SPEAKER_ID = re.compile(r"^(?P<prefix>[a-z]*)(?P<number>\d+)$")
_AUDIO_NAME = re.compile(r"^(?P<speaker>[^_]+)_(?P<number>\d+)_mic(?P<mic>[12])\.flac$")
_TRAILING_COMMENT = re.compile(r"\s*\((?P<comment>[^()]*)\)\s*$")


class SpeakerInfo(NamedTuple):
    """One row of ``speaker-info.txt``."""

    speaker: str
    age: int
    gender: str
    accent: str
    region: str
    comment: str


def normalise_speaker_id(raw: str) -> str:
    """``"225"`` -> ``"p225"``; ``"p225"`` and 0.92's ``"s5"`` are kept.

    >>> normalise_speaker_id("225"), normalise_speaker_id("p225"), normalise_speaker_id("s5")
    ('p225', 'p225', 's5')

    Raises:
        ValueError: for anything but lower-case letters followed by digits.
    """
    m = _SPEAKER_ID.match(raw)
    if m is None:
        raise ValueError(f"speaker id {raw!r} is not like p225")
    return raw if m["prefix"] else f"p{raw}"


def parse_speaker_line(line: str) -> SpeakerInfo:
    """Parse one ``ID AGE GENDER ACCENTS REGION...`` row.

    >>> parse_speaker_line("p280  25  F    French    France (mic2 files unavailable)")
    SpeakerInfo(speaker='p280', age=25, gender='F', accent='French', region='France', comment='mic2 files unavailable')
    >>> parse_speaker_line("248  23  F    Indian")
    SpeakerInfo(speaker='p248', age=23, gender='F', accent='Indian', region='', comment='')

    Raises:
        ValueError: for fewer than four fields, a bad id, an age that is not a whole
            number, or a gender other than ``F`` / ``M``.
    """
    fields = line.split()
    if len(fields) < 4:
        raise ValueError(f"expected 'ID AGE GENDER ACCENTS [REGION...]', got {len(fields)} field(s): {line.strip()!r}")
    raw_id, age, gender, accent, *rest = fields
    speaker = normalise_speaker_id(raw_id)
    if not age.isdigit():
        raise ValueError(f"age {age!r} is not a whole number")
    if gender not in ("F", "M"):
        raise ValueError(f"gender {gender!r} is not F or M")
    tail = " ".join(rest)
    comment = ""
    m = _TRAILING_COMMENT.search(tail)
    if m is not None:
        comment, tail = m["comment"].strip(), tail[: m.start()]
    return SpeakerInfo(speaker, int(age), gender, accent, tail.strip(), comment)


def read_speaker_info(path: Path, problems: Problems) -> dict[str, SpeakerInfo]:
    """Read ``speaker-info.txt`` into ``{speaker: SpeakerInfo}``.

    The first line is skipped when it is the ``ID AGE ...`` header; blank lines are ignored.
    A malformed row or a repeated id goes to ``problems``.
    """
    speakers: dict[str, SpeakerInfo] = {}
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields or (lineno == 1 and fields[0].upper() == "ID"):
            continue
        try:
            info = parse_speaker_line(line)
        except ValueError as e:
            problems.bad(path, f"line {lineno}", str(e))
            continue
        if info.speaker in speakers:
            problems.bad(
                path, f"line {lineno} ({info.speaker})", f"duplicate speaker (first on line {first_line[info.speaker]})"
            )
            continue
        speakers[info.speaker] = info
        first_line[info.speaker] = lineno
    return speakers


def _audio_by_utterance(speaker_dir: Path, problems: Problems) -> dict[str, dict[int, Path]]:
    """``{utterance number: {mic: path}}`` for one speaker folder."""
    found: dict[str, dict[int, Path]] = {}
    for f in problems.visible(speaker_dir.iterdir()):
        m = _AUDIO_NAME.match(f.name)
        if m is None or not f.is_file():
            problems.bad(f, f.name, f"not an audio file named {speaker_dir.name}_<NNN>_mic{{1,2}}.flac")
            continue
        if m["speaker"] != speaker_dir.name:
            problems.bad(f, f.name, f"file of speaker {m['speaker']!r} inside folder {speaker_dir.name!r}")
            continue
        found.setdefault(m["number"], {})[int(m["mic"])] = f
    return found


def _read_transcript(txt: Path, problems: Problems) -> tuple[bool, str | None]:
    """``(usable, text)``: text ``None`` when the file is absent; unusable when unreadable or empty."""
    if not txt.is_file():
        return True, None
    try:
        text = txt.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError as e:
        problems.bad(txt, txt.stem, f"transcript is not UTF-8 text ({e})")
        return False, None
    if not text:
        problems.bad(txt, txt.stem, "transcript file is empty")
        return False, None
    return True, text


def _count_orphan_transcripts(txt_dir: Path, utterance_ids: set[str], problems: Problems) -> None:
    if not txt_dir.is_dir():
        return
    for f in problems.visible(txt_dir.iterdir()):
        if f.suffix == ".txt" and f.stem not in utterance_ids:
            problems.filter("transcript without audio")


def read(path: str | Path, *, on_error: str = "raise", check_audio_exists: bool = True) -> ImportResult:
    """Read a VCTK 0.92 root into :class:`Utterance` records, by speaker then utterance number.

    Raises:
        FileNotFoundError: when ``speaker-info.txt`` or ``wav48_silence_trimmed/`` is missing.
        RecordError: (``on_error="raise"``) for a malformed ``speaker-info.txt`` row, a speaker
            folder that ``speaker-info.txt`` does not list, a misnamed file in a speaker
            folder, or an unreadable or empty transcript.
    """
    root = Path(path)
    info_path, wav_root, txt_root = root / SPEAKER_INFO, root / WAV_DIR, root / TXT_DIR
    for needed in (info_path, wav_root):
        if not needed.exists():
            raise FileNotFoundError(f"{FORMAT}: {needed} does not exist (expected the VCTK 0.92 root)")
    problems = Problems(on_error)
    speakers = read_speaker_info(info_path, problems)
    records: list[Utterance] = []
    speaker_dirs = sorted(p for p in wav_root.iterdir() if p.is_dir())
    for speaker_dir in speaker_dirs:
        name = speaker_dir.name
        info = speakers.get(name)
        if info is None:
            problems.bad(speaker_dir, name, f"speaker folder not listed in {info_path}")
            continue
        utterance_ids: set[str] = set()
        audio = _audio_by_utterance(speaker_dir, problems)
        for number in sorted(audio, key=lambda n: (int(n), n)):
            mics = audio[number]
            utt = f"{name}_{number}"
            utterance_ids.add(utt)
            usable, text = _read_transcript(txt_root / name / f"{utt}.txt", problems)
            if not usable:
                continue
            main = mics.get(1, mics.get(2))
            records.append(
                Utterance(
                    id=utt,
                    dataset=FORMAT,
                    split="all",
                    audio=str(main.resolve()),
                    speaker=name,
                    gender=info.gender,
                    label="",
                    raw_label="",
                    text=text,
                    session="",
                    source=str(main),
                    extra={
                        "mic": "mic1" if 1 in mics else "mic2",
                        "mic1": str(mics[1].resolve()) if 1 in mics else None,
                        "mic2": str(mics[2].resolve()) if 2 in mics else None,
                        "age": info.age,
                        "accent": info.accent,
                        "region": info.region,
                        "comment": info.comment,
                    },
                )
            )
        _count_orphan_transcripts(txt_root / name, utterance_ids, problems)
    if txt_root.is_dir():
        # Speakers with text but no audio folder at all; folders of unlisted speakers are already errors.
        audio_speakers = {p.name for p in speaker_dirs}
        for txt_dir in sorted(p for p in txt_root.iterdir() if p.is_dir() and p.name not in audio_speakers):
            _count_orphan_transcripts(txt_dir, set(), problems)
    return problems.result(FORMAT, records)

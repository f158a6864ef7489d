"""VGGSound importer: one class label per 10-second YouTube clip.

Format (FORMATS.md, "VGGSound and AudioSetCaps"). PATH is ``vggsound.csv``, with NO
header; each row is ``ytid,start_seconds,label,train|test``. Layout::

    <dir>/vggsound.csv
    <dir>/audio/<ytid>_<start:06d>.wav

Paper 03 (Omni-R1, §III.C) generates VGGS-GPT questions over the VGGSound training clips
and pairs them with AudioSetCaps captions by the same clip name.

Traps handled:

* Labels holding a comma are quoted, so rows are read with :mod:`csv`, never split on
  commas.
* YouTube ids contain ``-`` and ``_``, and a leading ``-`` is common: the id is kept as
  written and the clip name ``{ytid}_{start:06d}`` is built from it.
* A row with a wrong column count, a start that is not a non-negative integer, a split
  other than ``train``/``test``, an empty id or label, or a clip name seen before is an
  error naming the line.
"""

from __future__ import annotations

import csv
from pathlib import Path

from audioreason.datasets.records import ImportResult, LabelledClip, Problems

FORMAT = "vggsound"
SPLITS = ("train", "test")


def clip_name(ytid: str, start_s: int) -> str:
    """The clip name VGGSound, AVQA and AudioSetCaps share.

    >>> clip_name("-HG3Omg_89c", 30)
    '-HG3Omg_89c_000030'
    """
    return f"{ytid}_{start_s:06d}"


def parse_row(row: list[str]) -> tuple[str, int, str, str]:
    """One CSV row -> ``(ytid, start_s, label, split)``.

    Raises:
        ValueError: wrong column count, empty id or label, a start that is not a
            non-negative integer, or a split other than ``train``/``test``.

    >>> parse_row(["---g-f_I2yQ", "1", "people eating, crunching", "test"])
    ('---g-f_I2yQ', 1, 'people eating, crunching', 'test')
    """
    if len(row) != 4:
        raise ValueError(f"expected 4 columns (ytid, start_seconds, label, split), got {len(row)}")
    ytid, start_s, label, split = (c.strip() for c in row)
    if not ytid:
        raise ValueError("empty YouTube id")
    if not start_s.isascii() or not start_s.isdigit():
        raise ValueError(f"start_seconds {start_s!r} is not a non-negative integer")
    if not label:
        raise ValueError("empty label")
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    return ytid, int(start_s), label, split


def read(path: str | Path, *, on_error: str = "raise", check_audio_exists: bool = True) -> ImportResult[LabelledClip]:
    """Read ``vggsound.csv`` into labelled clips, in file order.

    Args:
        path: The ``vggsound.csv`` file; audio is looked up in ``<its dir>/audio/``.
        on_error: ``"raise"`` or ``"quarantine"`` (see :class:`Problems`).
        check_audio_exists: Report clips whose audio file is missing.

    Raises:
        RecordError: with ``on_error="raise"``, for the first malformed row (naming the line).
    """
    path = Path(path)
    audio_dir = path.parent / "audio"
    problems = Problems(on_error)
    seen: dict[str, int] = {}
    records = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        end = 0
        for row in reader:
            # A quoted field may span lines: report the line the row starts on.
            lineno, end = end + 1, reader.line_num
            if not row or not any(c.strip() for c in row):
                continue
            where = f"line {lineno}"
            try:
                ytid, start_s, label, split = parse_row(row)
            except ValueError as e:
                problems.bad(path, where, str(e))
                continue
            clip = clip_name(ytid, start_s)
            where = f"{where} ({clip})"
            if clip in seen:
                problems.bad(path, where, f"duplicate clip {clip} (first on line {seen[clip]})")
                continue
            seen[clip] = lineno
            audio = audio_dir / f"{clip}.wav"
            if problems.audio_missing(path, where, audio, check_audio_exists):
                continue
            records.append(
                LabelledClip(
                    id=clip,
                    dataset=FORMAT,
                    split=split,
                    audio=str(audio.resolve()),
                    label=label,
                    ytid=ytid,
                    start_s=start_s,
                    source=f"{path}#{lineno}",
                )
            )
    return problems.result(FORMAT, records)

"""AudioSetCaps importer: generated captions of VGGSound and AudioSet clips.

Format (FORMATS.md, "VGGSound and AudioSetCaps"). PATH is a caption CSV with the header
``id,caption``; an id is either a VGGSound clip name ``<ytid>_<start:06d>`` or an AudioSet
id ``Y<ytid>``. Paper 03 (Omni-R1, §III.C) prompts ChatGPT with these captions (written
by Qwen2-Audio) to generate the AVQA-GPT and VGGS-GPT questions. Captions have no audio
of their own; they attach to clips by id.

Traps handled:

* Captions hold commas, quotes and newlines inside quoted fields: rows are read with
  :mod:`csv`, and errors name the line a row starts on.
* YouTube ids contain ``-`` and ``_``: a VGGSound id is split on its LAST underscore.
  ``Y`` followed by exactly 11 id characters is an AudioSet id (YouTube ids are 11
  characters long), tested first, so an AudioSet id whose YouTube id happens to end in
  ``_`` and six digits is not taken for a VGGSound clip.
* An empty caption, an id seen before (also across the files given to
  :func:`read_captions`) or an id of neither shape is an error naming the line.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Iterable

from audioreason.datasets.records import Caption, ImportResult, Problems

FORMAT = "audiosetcaps"
HEADER = ("id", "caption")
_AUDIOSET_ID = re.compile(r"^Y(?P<ytid>[A-Za-z0-9_-]{11})$")
_VGGSOUND_ID = re.compile(r"^(?P<ytid>[A-Za-z0-9_-]+)_(?P<start>\d{6})$")


def parse_caption_id(caption_id: str) -> tuple[str, str, str]:
    """A caption id -> ``(corpus, clip, ytid)``.

    Raises:
        ValueError: when the id is neither ``Y<ytid>`` nor ``<ytid>_<start:06d>``.

    >>> parse_caption_id("-HG3_mg_89c_000030")
    ('vggsound', '-HG3_mg_89c_000030', '-HG3_mg_89c')
    >>> parse_caption_id("Y--0w1YA1Hm4")
    ('audioset', '', '--0w1YA1Hm4')
    """
    m = _AUDIOSET_ID.match(caption_id)
    if m:
        return "audioset", "", m["ytid"]
    m = _VGGSOUND_ID.match(caption_id)
    if m:
        return "vggsound", caption_id, m["ytid"]
    raise ValueError(
        f"id {caption_id!r} is neither a VGGSound clip '<ytid>_<start:06d>' nor an AudioSet id 'Y<11-character ytid>'"
    )


def read_caption_file(path: str | Path, problems: Problems, seen: dict[str, str]) -> list[Caption]:
    """Read one caption CSV, in file order.

    Args:
        path: A CSV with the header ``id,caption``.
        problems: Where malformed rows (and a wrong header) are reported.
        seen: ``{id: "<file>#<line>"}`` of the ids read so far; updated.
    """
    path = Path(path)
    out = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(c.strip() for c in header) != HEADER:
            problems.bad(path, "line 1", f"header {header!r} is not {','.join(HEADER)!r}")
            return out
        end = reader.line_num
        for row in reader:
            # A quoted caption may span lines: report the line the row starts on.
            lineno, end = end + 1, reader.line_num
            if not row or not any(c.strip() for c in row):
                continue
            where = f"line {lineno}"
            if len(row) != 2:
                problems.bad(path, where, f"expected 2 columns (id, caption), got {len(row)}")
                continue
            caption_id, text = row[0].strip(), row[1].strip()
            where = f"{where} ({caption_id})"
            try:
                corpus, clip, ytid = parse_caption_id(caption_id)
            except ValueError as e:
                problems.bad(path, where, str(e))
                continue
            if not text:
                problems.bad(path, where, "empty caption")
                continue
            if caption_id in seen:
                problems.bad(path, where, f"duplicate id (first at {seen[caption_id]})")
                continue
            seen[caption_id] = f"{path}#{lineno}"
            out.append(
                Caption(
                    id=caption_id,
                    dataset=FORMAT,
                    caption=text,
                    corpus=corpus,
                    clip=clip,
                    ytid=ytid,
                    source=f"{path}#{lineno}",
                )
            )
    return out


def read_captions(paths: Iterable[str | Path], *, on_error: str = "raise") -> ImportResult[Caption]:
    """Read several caption CSVs into one result, in the order given; ids must be unique across them.

    Raises:
        RecordError: with ``on_error="raise"``, for the first wrong header or malformed row.
    """
    problems = Problems(on_error)
    seen: dict[str, str] = {}
    records = []
    for path in paths:
        records.extend(read_caption_file(path, problems, seen))
    return problems.result(FORMAT, records)


def read(path: str | Path, *, on_error: str = "raise", check_audio_exists: bool = True) -> ImportResult[Caption]:
    """Read one caption CSV. ``check_audio_exists`` is accepted for the registry and ignored: captions have no audio."""
    return read_captions([path], on_error=on_error)

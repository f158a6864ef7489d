"""DESED importer: strong and weak sound-event labels of domestic clips.

Format (FORMATS.md, "DESED"). PATH is DESED's ``dataset/`` root; every ``*.tsv`` under
``metadata/`` (recursively, in sorted order) is read, and its header says what it holds:

* strong: ``filename\\tonset\\toffset\\tevent_label``, one row per event (seconds);
* weak: ``filename\\tevent_labels``, one row per clip, labels comma-joined.

Paper 05 (SSEU-Bench, §2.1) draws its non-speech backgrounds from DESED (the "home" scene)
and MAESTRO-Real and scores audio tagging on their event labels.

Layout::

    dataset/
      metadata/<split>/<sub/path>.tsv        e.g. train/weak.tsv, validation/validation.tsv,
                                                  train/synthetic21_train/soundscapes.tsv
      audio/<split>/<sub/path>/<filename>     the TSV's path relative to metadata/ without .tsv
      audio/<split>/<sub/path>_16k/<filename> tried when the folder above does not exist
                                              (the DCASE baseline's resampled copy)

Traps handled:

* "Empty" soundscapes: real strong TSVs hold a row with only the filename (pandas NaN
  written as empty fields, or ``nan``) for a clip without events; it becomes a
  :class:`Soundscape` with no events, not an error.
* A clip's strong rows need not be contiguous: rows are grouped by filename and the
  events sorted by onset.
* Synthetic soundscapes are named ``0.wav``, ``1.wav``, ... in several TSVs, so ids are
  only unique within one TSV; the TSV's path relative to ``metadata/`` is kept in ``extra``.
* A clip with one malformed row is set aside whole (one error per bad row), so no clip
  comes out with part of its events missing.
* The release's TSVs that hold no labels (``unlabel_in_domain.tsv`` has only
  ``filename``, the baseline's ``*_durations.tsv`` has ``filename\\tduration``) are
  skipped and counted per file under ``filtered``; any other header is an error naming the
  file, never read as labels.
"""

from __future__ import annotations

from pathlib import Path

from audioreason.datasets.records import ImportResult, Problems, RecordError, SoundEvent, Soundscape, finite_number

FORMAT = "desed"

#: The 10 DESED event classes, exactly as written in the TSVs.
DESED_CLASSES: tuple[str, ...] = (
    "Alarm_bell_ringing",
    "Blender",
    "Cat",
    "Dishes",
    "Dog",
    "Electric_shaver_toothbrush",
    "Frying",
    "Running_water",
    "Speech",
    "Vacuum_cleaner",
)
STRONG_HEADER = ("filename", "onset", "offset", "event_label")
WEAK_HEADER = ("filename", "event_labels")
SCENE = "home"
_STRONG_TEXT = "\t".join(STRONG_HEADER)
_WEAK_TEXT = "\t".join(WEAK_HEADER)
_CLASS_SET = frozenset(DESED_CLASSES)
_MISSING = {"", "nan", "NaN", "NAN"}
#: Headers of the release's label-free TSVs -> what they are.
_UNLABELLED_HEADERS = {("filename",): "unlabelled clip list", ("filename", "duration"): "clip durations"}


def tsv_kind(header_line: str) -> str | None:
    """``"strong"``, ``"weak"`` or ``None`` for a TSV's first line.

    >>> tsv_kind("filename\\tonset\\toffset\\tevent_label\\n"), tsv_kind("filename\\tevent_labels")
    ('strong', 'weak')
    >>> tsv_kind("filename") is None
    True
    """
    cols = tuple(c.strip() for c in header_line.rstrip("\r\n").split("\t"))
    return {STRONG_HEADER: "strong", WEAK_HEADER: "weak"}.get(cols)


def parse_strong_row(fields: list[str]) -> tuple[str, SoundEvent | None]:
    """One data row of a strong TSV -> ``(filename, event)``; ``event`` is ``None`` for an empty clip.

    Raises:
        ValueError: wrong column count, partly empty row, non-numeric or non-finite time,
            negative onset, onset not before offset, or a label outside :data:`DESED_CLASSES`.

    >>> parse_strong_row(["a.wav", "0.5", "1.25", "Dog"])
    ('a.wav', SoundEvent(onset=0.5, offset=1.25, label='Dog', confidence=1.0))
    >>> parse_strong_row(["a.wav", "", "", ""])
    ('a.wav', None)
    """
    if len(fields) != 4:
        raise ValueError(f"expected 4 tab-separated fields, got {len(fields)}")
    filename, onset_s, offset_s, label = (f.strip() for f in fields)
    if not filename:
        raise ValueError("empty filename")
    missing = [v in _MISSING for v in (onset_s, offset_s, label)]
    if all(missing):
        return filename, None
    if any(missing):
        raise ValueError(f"onset {onset_s!r}, offset {offset_s!r}, label {label!r}: partly empty row")
    onset, offset = finite_number("onset", onset_s), finite_number("offset", offset_s)
    if onset < 0:
        raise ValueError(f"negative onset {onset}")
    if onset >= offset:
        raise ValueError(f"onset {onset} is not before offset {offset}")
    if label not in _CLASS_SET:
        raise ValueError(f"unknown event label {label!r} (not one of the 10 DESED classes)")
    return filename, SoundEvent(onset=onset, offset=offset, label=label)


def parse_weak_row(fields: list[str]) -> tuple[str, tuple[str, ...]]:
    """One data row of a weak TSV -> ``(filename, sorted distinct labels)``.

    Raises:
        ValueError: wrong column count, empty filename or label list, or an unknown label.

    >>> parse_weak_row(["a.wav", "Speech,Dog,Speech"])
    ('a.wav', ('Dog', 'Speech'))
    """
    if len(fields) != 2:
        raise ValueError(f"expected 2 tab-separated fields, got {len(fields)}")
    filename, joined = (f.strip() for f in fields)
    if not filename:
        raise ValueError("empty filename")
    labels = [x.strip() for x in joined.split(",")]
    if not joined or any(not x for x in labels):
        raise ValueError(f"event_labels {joined!r} holds an empty label")
    unknown = sorted(set(labels) - _CLASS_SET)
    if unknown:
        raise ValueError(f"unknown event label(s) {unknown} (not among the 10 DESED classes)")
    return filename, tuple(sorted(set(labels)))


def audio_folder(root: Path, rel_tsv: Path) -> Path:
    """Where a TSV's clips live: ``audio/<rel without .tsv>``, else its ``_16k`` twin when only that exists."""
    plain = root / "audio" / rel_tsv.with_suffix("")
    resampled = plain.with_name(plain.name + "_16k")
    if not plain.is_dir() and resampled.is_dir():
        return resampled
    return plain


def _data_rows(tsv: Path):
    """``(line number, fields)`` of every non-blank line after the header."""
    with tsv.open(encoding="utf-8-sig", newline="") as f:
        next(f, None)
        for lineno, line in enumerate(f, 2):
            line = line.rstrip("\r\n")
            if line.strip():
                yield lineno, line.split("\t")


def read_tsv(
    root: str | Path, tsv: str | Path, problems: Problems, *, check_audio_exists: bool = True
) -> list[Soundscape]:
    """Read one DESED metadata TSV (strong or weak by its header) into soundscapes, in first-row order.

    Args:
        root: DESED's ``dataset/`` folder (holds ``metadata/`` and ``audio/``).
        tsv: A TSV inside ``root/metadata/<split>/``.
        problems: Where malformed rows and files are reported.
        check_audio_exists: Report a clip whose audio file is missing.
    """
    root, tsv = Path(root), Path(tsv)
    rel = tsv.relative_to(root / "metadata")
    if len(rel.parts) < 2:
        problems.bad(tsv, "(file)", "TSV lies directly in metadata/, not in a split folder (train/validation/eval)")
        return []
    split = rel.parts[0]
    with tsv.open(encoding="utf-8-sig", newline="") as f:
        header = f.readline()
    kind = tsv_kind(header)
    columns = tuple(c.strip() for c in header.rstrip("\r\n").split("\t"))
    if kind is None and columns in _UNLABELLED_HEADERS:
        problems.filter(f"TSV without labels ({_UNLABELLED_HEADERS[columns]})")
        return []
    if kind is None:
        problems.bad(
            tsv, "line 1", f"header {header.strip()!r} is neither strong {_STRONG_TEXT!r} nor weak {_WEAK_TEXT!r}"
        )
        return []

    first_line: dict[str, int] = {}
    events: dict[str, list[SoundEvent]] = {}
    weak: dict[str, tuple[str, ...]] = {}
    empty_row: dict[str, int] = {}
    tainted: set[str] = set()
    for lineno, fields in _data_rows(tsv):
        where = f"line {lineno}"
        try:
            if kind == "strong":
                filename, event = parse_strong_row(fields)
            else:
                filename, labels = parse_weak_row(fields)
        except ValueError as e:
            name = fields[0].strip() if fields else ""
            problems.bad(tsv, f"{where} ({name})" if name else where, str(e))
            tainted.add(name)
            continue
        where = f"{where} ({filename})"
        if kind == "weak":
            if filename in first_line:
                problems.bad(tsv, where, f"duplicate filename (first on line {first_line[filename]})")
                tainted.add(filename)
                continue
            weak[filename] = labels
        elif event is None:
            empty_row.setdefault(filename, lineno)
            events.setdefault(filename, [])
        else:
            events.setdefault(filename, []).append(event)
        first_line.setdefault(filename, lineno)

    for filename, lineno in empty_row.items():
        if events[filename] and filename not in tainted:
            # An empty-clip row beside real events contradicts itself: say so rather than guess.
            problems.bad(
                tsv, f"line {lineno} ({filename})", "row marks the clip as empty but it has events on other lines"
            )
            tainted.add(filename)

    folder = audio_folder(root, rel)
    out = []
    for filename, lineno in first_line.items():
        if filename in tainted:
            continue
        audio = folder / filename
        if problems.audio_missing(tsv, f"line {lineno} ({filename})", audio, check_audio_exists):
            continue
        if kind == "strong":
            clip_events = tuple(sorted(events[filename], key=lambda e: (e.onset, e.offset, e.label)))
            labels = tuple(sorted({e.label for e in clip_events}))
        else:
            clip_events, labels = (), weak[filename]
        out.append(
            Soundscape(
                id=Path(filename).stem,
                dataset=FORMAT,
                split=split,
                audio=str(audio.resolve()),
                scene=SCENE,
                events=clip_events,
                labels=labels,
                strong=kind == "strong",
                source=f"{tsv}#{lineno}",
                extra={"tsv": rel.as_posix(), "filename": filename},
            )
        )
    return out


def read(path: str | Path, *, on_error: str = "raise", check_audio_exists: bool = True) -> ImportResult[Soundscape]:
    """Read every TSV under ``<path>/metadata/`` (sorted, recursive) into soundscapes.

    Args:
        path: DESED's ``dataset/`` root.
        on_error: ``"raise"`` or ``"quarantine"`` (see :class:`Problems`).
        check_audio_exists: Report clips whose audio file is missing.

    Raises:
        RecordError: when ``metadata/`` is missing or holds no TSV; with ``on_error="raise"``
            for the first malformed file or row (naming the file and the line).
    """
    root = Path(path)
    metadata = root / "metadata"
    if not metadata.is_dir():
        raise RecordError(root, "(folder)", "no metadata/ folder: PATH must be DESED's dataset/ root")
    problems = Problems(on_error)
    tsvs = problems.visible(metadata.rglob("*.tsv"))
    if not tsvs:
        raise RecordError(metadata, "(folder)", "no *.tsv file under metadata/")
    records = []
    for tsv in tsvs:
        records.extend(read_tsv(root, tsv, problems, check_audio_exists=check_audio_exists))
    return problems.result(FORMAT, records)

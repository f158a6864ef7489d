"""MAESTRO-Real importer: soft-labelled sound events in five real acoustic scenes.

Format (FORMATS.md, "MAESTRO-Real"). PATH is the MAESTRO-Real root::

    development_audio/<scene>/<scene>_NN.wav
    development_annotation/**/<scene>_NN.txt     at any depth below development_annotation/

An annotation has NO header; each line is ``onset\\toffset\\tevent_label\\tconfidence``
(seconds, seconds, one of :data:`MAESTRO_CLASSES`, a soft label in [0, 1] from annotator
agreement). Scenes: :data:`MAESTRO_SCENES`. Paper 05 (SSEU-Bench, §2.1) takes 739 of its
non-speech backgrounds from MAESTRO-Real and scores audio tagging on its event labels.

Traps handled:

* Labels hold spaces and a slash (``door opens/closes``): lines are split on tabs only.
* Soft labels: every event is kept with its confidence (nothing is thresholded on read);
  :func:`hard_events` gives the events at or above a threshold (0.5, as in the DCASE 2023
  task 4B evaluation). ``Soundscape.labels`` are the distinct labels of the hard events
  (0.5), so a sound most annotators did not hear is not a clip tag;
  ``extra["soft_labels"]`` lists every label that occurs.
* The annotation tree's depth differs between copies, hence the recursive search; an
  annotation found twice, a file named for no known scene, an annotation without audio
  or audio without an annotation are all errors naming the file.
* A file with one malformed line is set aside whole (one error per bad line), so no clip
  comes out with part of its events missing.
"""

from __future__ import annotations

import re
from pathlib import Path

from audioreason.datasets.records import ImportResult, Problems, RecordError, SoundEvent, Soundscape, finite_number

FORMAT = "maestro"
SPLIT = "development"

#: The five MAESTRO-Real scenes (audio folder names and file-name prefixes).
MAESTRO_SCENES: tuple[str, ...] = (
    "cafe_restaurant",
    "city_center",
    "grocery_store",
    "metro_station",
    "residential_area",
)
#: The 17 MAESTRO-Real event classes, exactly as written in the annotations.
MAESTRO_CLASSES: tuple[str, ...] = (
    "announcement",
    "birds singing",
    "brakes squeaking",
    "car",
    "cash register",
    "children voices",
    "coffee machine",
    "cutlery and dishes",
    "door opens/closes",
    "footsteps",
    "furniture dragging",
    "large vehicle",
    "metro approaching",
    "metro leaving",
    "people talking",
    "shopping cart",
    "wind blowing",
)
HARD_THRESHOLD = 0.5
_CLASS_SET = frozenset(MAESTRO_CLASSES)
_STEM = re.compile(r"^(?P<scene>[a-z_]+?)_(?P<number>\d+)$")


def parse_clip_name(stem: str) -> tuple[str, int]:
    """``"city_center_07"`` -> ``("city_center", 7)``.

    Raises:
        ValueError: when the stem is not ``<scene>_NN`` for one of :data:`MAESTRO_SCENES`.

    >>> parse_clip_name("residential_area_12")
    ('residential_area', 12)
    """
    m = _STEM.match(stem)
    if not m or m["scene"] not in MAESTRO_SCENES:
        raise ValueError(f"name {stem!r} is not '<scene>_NN' for a MAESTRO-Real scene ({', '.join(MAESTRO_SCENES)})")
    return m["scene"], int(m["number"])


def parse_annotation_line(line: str) -> SoundEvent:
    """One annotation line -> :class:`SoundEvent` with its soft confidence.

    Raises:
        ValueError: wrong field count, non-numeric or non-finite time or confidence,
            negative onset, onset not before offset, confidence outside [0, 1], or a label
            outside :data:`MAESTRO_CLASSES`.

    >>> parse_annotation_line("1.0\\t3.5\\tdoor opens/closes\\t0.67")
    SoundEvent(onset=1.0, offset=3.5, label='door opens/closes', confidence=0.67)
    """
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) != 4:
        raise ValueError(f"expected 4 tab-separated fields (onset, offset, event_label, confidence), got {len(fields)}")
    onset_s, offset_s, label, conf_s = (f.strip() for f in fields)
    onset, offset, confidence = (
        finite_number(n, t) for n, t in (("onset", onset_s), ("offset", offset_s), ("confidence", conf_s))
    )
    if onset < 0:
        raise ValueError(f"negative onset {onset}")
    if onset >= offset:
        raise ValueError(f"onset {onset} is not before offset {offset}")
    if not 0.0 <= confidence <= 1.0:
        raise ValueError(f"confidence {confidence} is outside [0, 1]")
    if label not in _CLASS_SET:
        raise ValueError(f"unknown event label {label!r} (not one of the 17 MAESTRO-Real classes)")
    return SoundEvent(onset=onset, offset=offset, label=label, confidence=confidence)


def hard_events(soundscape: Soundscape, threshold: float = HARD_THRESHOLD) -> tuple[SoundEvent, ...]:
    """The events whose soft label is at least ``threshold`` (order kept).

    >>> s = Soundscape("c_01", "maestro", "development", "", "city_center",
    ...                events=(SoundEvent(0, 1, "car", 0.5), SoundEvent(0, 1, "footsteps", 0.2)))
    >>> [e.label for e in hard_events(s)]
    ['car']
    """
    return tuple(e for e in soundscape.events if e.confidence >= threshold)


def read_annotation(path: Path, problems: Problems) -> list[SoundEvent] | None:
    """Every event of one annotation file, sorted by onset; ``None`` when a line was malformed."""
    events, ok = [], True
    with path.open(encoding="utf-8-sig", newline="") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                events.append(parse_annotation_line(line))
            except ValueError as e:
                problems.bad(path, f"line {lineno}", str(e))
                ok = False
    return sorted(events, key=lambda e: (e.onset, e.offset, e.label)) if ok else None


def read(path: str | Path, *, on_error: str = "raise", check_audio_exists: bool = True) -> ImportResult[Soundscape]:
    """Read MAESTRO-Real's development annotations (and pair them with their audio).

    Records come in scene order, then clip number.

    Args:
        path: The MAESTRO-Real root (holds ``development_annotation/`` and ``development_audio/``).
        on_error: ``"raise"`` or ``"quarantine"`` (see :class:`Problems`).
        check_audio_exists: Report annotations whose audio file is missing. Audio files
            without an annotation are reported either way.

    Raises:
        RecordError: when ``development_annotation/`` is missing or holds no ``.txt``; with
            ``on_error="raise"`` for the first malformed file or line.
    """
    root = Path(path)
    ann_root, audio_root = root / "development_annotation", root / "development_audio"
    if not ann_root.is_dir():
        raise RecordError(root, "(folder)", "no development_annotation/ folder: PATH must be the MAESTRO-Real root")
    problems = Problems(on_error)
    annotations = problems.visible(ann_root.rglob("*.txt"))
    if not annotations:
        raise RecordError(ann_root, "(folder)", "no .txt annotation under development_annotation/")

    by_clip: dict[tuple[str, int], Path] = {}
    for ann in annotations:
        try:
            key = parse_clip_name(ann.stem)
        except ValueError as e:
            problems.bad(ann, "(file)", str(e))
            continue
        if key in by_clip:
            problems.bad(ann, "(file)", f"second annotation of {ann.stem} (first: {by_clip[key]})")
            continue
        by_clip[key] = ann

    stems = {ann.stem for ann in by_clip.values()}
    for wav in problems.visible(audio_root.rglob("*.wav") if audio_root.is_dir() else []):
        try:
            scene, _ = parse_clip_name(wav.stem)
        except ValueError as e:
            problems.bad(wav, "(file)", str(e))
            continue
        if wav != audio_root / scene / wav.name:
            problems.bad(wav, "(file)", f"audio is not at development_audio/{scene}/{wav.name}")
        elif wav.stem not in stems:
            problems.bad(wav, "(file)", f"audio has no annotation {wav.stem}.txt under development_annotation/")

    records = []
    for (scene, _), ann in sorted(by_clip.items()):
        audio = audio_root / scene / f"{ann.stem}.wav"
        if check_audio_exists and not audio.is_file():
            problems.bad(ann, "(file)", f"annotation has no audio: {audio} does not exist")
            continue
        events = read_annotation(ann, problems)
        if events is None:
            continue
        tags = sorted({e.label for e in events if e.confidence >= HARD_THRESHOLD})
        records.append(
            Soundscape(
                id=ann.stem,
                dataset=FORMAT,
                split=SPLIT,
                audio=str(audio.resolve()),
                scene=scene,
                events=tuple(events),
                labels=tuple(tags),
                strong=True,
                source=str(ann),
                extra={
                    "annotation": ann.relative_to(root).as_posix(),
                    "soft_labels": sorted({e.label for e in events}),
                    "label_threshold": HARD_THRESHOLD,
                },
            )
        )
    return problems.result(FORMAT, records)

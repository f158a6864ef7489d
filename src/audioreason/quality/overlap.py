"""Train/evaluation overlap: the same clip by id, or the same audio by fingerprint.

For each configured ``(train, eval)`` pair (``validate.overlap``; a side is a manifest
name, or ``name:split`` for one split of a manifest, e.g. ``iemocap:train``), two checks:

- ``overlap.clip_id``: a clip id (:func:`clip_id`) appears on both sides;
- ``overlap.fingerprint``: a training file and an evaluation file under different clip
  ids carry the same audio (:mod:`audioreason.quality.fingerprint`): a re-encoded,
  resampled, re-levelled or renamed copy.

Each overlap is reported as a pair naming the records on both sides. The training-side
rows are the offending ones (quarantining them keeps the evaluation sets, whose numbers
are compared with the papers', intact).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from audioreason.quality.fingerprint import Fingerprint, match_fingerprints

__all__ = ["OverlapPair", "Side", "clip_id", "find_overlaps", "parse_side"]


def clip_id(record: Any) -> str | None:
    """The id of the clip a record is about (``None`` when it names none).

    ``QARecord``: the audio file's stem (AVQA ``<video_name>``, MMAU ``<id>``);
    ``OpenQARecord``: ``video_id``; ``Caption``: ``clip`` (or ``id`` for AudioSet ids);
    every other type describes one clip and uses its ``id``.
    """
    kind = type(record).__name__
    if kind == "QARecord":
        audio = getattr(record, "audio", None)
        return Path(audio).stem if isinstance(audio, str) and audio else None
    if kind == "OpenQARecord":
        value = getattr(record, "video_id", None)
    elif kind == "Caption":
        value = getattr(record, "clip", None) or getattr(record, "id", None)
    else:
        value = getattr(record, "id", None)
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) else None


def parse_side(selector: str) -> tuple[str, str | None]:
    """``"iemocap:train"`` -> ``("iemocap", "train")``; ``"avqa_val"`` -> ``("avqa_val", None)``."""
    name, _, split = selector.partition(":")
    return name, (split or None)


@dataclass(frozen=True)
class Side:
    """One side of an overlap pair.

    Attributes:
        selector: As configured (``name`` or ``name:split``).
        manifest: The manifest name.
        records: The manifest's records (all of them).
        rows: Positions in ``records`` that belong to this side (kept rows of the split).
    """

    selector: str
    manifest: str
    records: Sequence[Any]
    rows: Sequence[int]


@dataclass(frozen=True)
class OverlapPair:
    """Training records and evaluation records that share a clip.

    Attributes:
        check: ``overlap.clip_id`` or ``overlap.fingerprint``.
        train: The training side's selector; ``train_manifest`` its manifest.
        eval: The evaluation side's selector; ``eval_manifest`` its manifest.
        train_clip: Clip id on the training side; ``eval_clip`` on the evaluation side.
        train_rows: Training rows that use the clip; ``eval_rows`` evaluation rows.
        train_audio: The training file (fingerprint overlaps); ``eval_audio`` likewise.
        bit_error_rate: Fingerprint distance (``None`` for clip id overlaps).
    """

    check: str
    train: str
    train_manifest: str
    eval: str
    eval_manifest: str
    train_clip: str
    eval_clip: str
    train_rows: tuple[int, ...]
    eval_rows: tuple[int, ...]
    train_audio: str = ""
    eval_audio: str = ""
    bit_error_rate: float | None = None


def _by_clip(side: Side) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for row in side.rows:
        cid = clip_id(side.records[row])
        if cid is not None:
            out.setdefault(cid, []).append(row)
    return out


def _by_audio(side: Side) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for row in side.rows:
        audio = getattr(side.records[row], "audio", None)
        if isinstance(audio, str) and audio:
            out.setdefault(audio, []).append(row)
    return out


def find_overlaps(
    train: Side,
    eval: Side,
    fingerprints: Mapping[str, Fingerprint | None],
    *,
    max_bit_error_rate: float,
    min_compared_bits: int,
) -> list[OverlapPair]:
    """Clip id and fingerprint overlaps between two sides.

    Args:
        train: The training side.
        eval: The evaluation side.
        fingerprints: ``{audio path: fingerprint}`` (paths without one never match).
        max_bit_error_rate: See :func:`audioreason.quality.fingerprint.match_fingerprints`.
        min_compared_bits: Likewise.

    Returns:
        Clip id overlaps (by clip id), then fingerprint overlaps (by training file).
    """
    pairs: list[OverlapPair] = []
    train_clips, eval_clips = _by_clip(train), _by_clip(eval)
    for cid in sorted(set(train_clips) & set(eval_clips)):
        pairs.append(
            OverlapPair(
                "overlap.clip_id",
                train.selector,
                train.manifest,
                eval.selector,
                eval.manifest,
                cid,
                cid,
                tuple(train_clips[cid]),
                tuple(eval_clips[cid]),
            )
        )

    train_audio, eval_audio = _by_audio(train), _by_audio(eval)
    train_paths, eval_paths = list(train_audio), list(eval_audio)
    matches = match_fingerprints(
        [fingerprints.get(p) for p in train_paths],
        [fingerprints.get(p) for p in eval_paths],
        max_bit_error_rate=max_bit_error_rate,
        min_compared_bits=min_compared_bits,
    )
    for i, j, ber in matches:
        t_rows, e_rows = train_audio[train_paths[i]], eval_audio[eval_paths[j]]
        t_clip = clip_id(train.records[t_rows[0]]) or train_paths[i]
        e_clip = clip_id(eval.records[e_rows[0]]) or eval_paths[j]
        if t_clip == e_clip:
            continue  # the same clip under the same id: already an overlap.clip_id pair
        pairs.append(
            OverlapPair(
                "overlap.fingerprint",
                train.selector,
                train.manifest,
                eval.selector,
                eval.manifest,
                t_clip,
                e_clip,
                tuple(t_rows),
                tuple(e_rows),
                train_paths[i],
                eval_paths[j],
                round(ber, 4),
            )
        )
    return pairs

"""Captioning rows that teach a tiny student to hear (paper 01's student and the papers 02-03 bases).

The real checkpoints arrive able to hear; tiny random-init ones do not. These rows give
them that perception: each distinct clip with its AudioSetCaps caption, and each
emotional utterance with who speaks in which emotion ("A woman speaks in an angry voice.").
"""

from __future__ import annotations

from audioreason.datasets.records import Caption, QARecord, Utterance, read_manifest

EMOTION_WORDS = {"ang": "angry", "hap": "happy", "neu": "neutral", "sad": "sad"}
SPEAKERS = {"F": "A woman", "M": "A man"}


def emotion_caption(u: Utterance) -> str:
    """What a caption of an emotional utterance says: who speaks, in which emotion."""
    return (
        f"{SPEAKERS.get(u.gender, 'Someone')} speaks in {('an ' if EMOTION_WORDS[u.label][0] in 'aeiou' else 'a ')}"
        f"{EMOTION_WORDS[u.label]} voice."
    )


def clip_caption_rows(captions_manifest: str, clips_manifest: str, prompt: str) -> tuple[list[dict], dict[str, int]]:
    """Each distinct clip of ``clips_manifest`` with its first AudioSetCaps caption."""
    captions: dict[str, str] = {}
    for c in read_manifest(captions_manifest, Caption):
        if c.clip:
            captions.setdefault(c.clip, c.caption)
    rows, counts = [], {"clips": 0, "clips_without_caption": 0}
    seen = set()
    for r in read_manifest(clips_manifest, QARecord):
        clip = r.extra.get("video_name", r.id)
        if clip in seen:
            continue
        seen.add(clip)
        if clip not in captions:
            counts["clips_without_caption"] += 1
            continue
        rows.append({"id": clip, "audio": r.audio, "prompt": prompt, "completion": captions[clip]})
        counts["clips"] += 1
    return rows, counts

"""Builders shared by tests of several folders (``from helpers import ...``; ``tests/`` is on the path).

Fixtures and hooks live in the ``conftest.py`` files; what a test imports lives here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf


def shrink_world(w: dict) -> None:
    """Shrink the non-QA datasets of a params ``world`` mapping to a handful of items each (in place)."""
    w["music_avqa"].update(train_videos=2, val_videos=1, test_videos=2)
    w["iemocap"].update(dialogs_per_session=1, utterances_per_dialog=4)
    w["fau_aibo"].update(ohm_chunks=4, mont_chunks=3)
    w["vctk"].update(speakers=3, utterances_per_speaker=1)
    w["desed"].update(clip_seconds=2.0, strong_clips=2, weak_clips=1)
    w["maestro"].update(clip_seconds=3.0, files_per_scene=1)
    w["vggsound"].update(train_clips=3, test_clips=2, audioset_captions=1)
    w["cota"].update(items=10)


def write_tone(path: Path, sr: int, seconds: float = 0.25) -> None:
    """A 440 Hz 16-bit WAV at ``sr`` (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * seconds)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr, subtype="PCM_16")


def peak_rss_gib() -> float:
    """This process's peak resident memory so far, GiB (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def freeze_vocabulary_matrices(model) -> int:
    """Take ``model``'s input embedding and LM head out of the optimizer (they still run); how many weights."""
    matrices = {id(m.weight): m.weight for m in (model.get_input_embeddings(), model.get_output_embeddings())}
    for weight in matrices.values():
        weight.requires_grad_(False)
    return sum(w.numel() for w in matrices.values())


# Two AVQA questions in the released ``train_qa.json`` layout: one with a null choice slot,
# underscores in the YouTube id, and "video" words that the audio variant rewrites.
AVQA_RECORDS = [
    {
        "id": 7,
        "video_name": "-HG3Omg_89c_000030",
        "video_id": 1042,
        "question_text": "What is making the sound in the video?",
        "multi_choice": ["dog", "cat", None, "car"],
        "answer": 3,
        "question_relation": "Sound",
        "question_type": "Come From",
    },
    {
        "id": 8,
        "video_name": "a_b-c_d_000120",
        "video_id": 1043,
        "question_text": "Video shows what? Is the VIDEO loud? videos",
        "multi_choice": ["piano", "flute", "violin", "drum"],
        "answer": 0,
        "question_relation": "Both",
        "question_type": "Which",
    },
]


def write_avqa(root: Path) -> Path:
    """``root/train_qa.json`` holding :data:`AVQA_RECORDS` and a 32 kHz clip per video under ``root/audio``."""
    for r in AVQA_RECORDS:
        write_tone(root / "audio" / f"{r['video_name']}.wav", 32000)
    (root / "train_qa.json").write_text(json.dumps(AVQA_RECORDS, indent=1))
    return root


def mmau_item(i: int, **overrides) -> dict:
    """One MMAU test-mini item in the released layout (task cycles sound, music, speech with ``i``)."""
    item = {
        "id": f"00000000-0000-4000-8000-00000000000{i}",
        "audio_id": f"./test-mini-audios/00000000-0000-4000-8000-00000000000{i}.wav",
        "question": "Which sound source can be heard in the audio?",
        "choices": ["Man", "Woman", "Child", "Robot"],
        "answer": "Woman",
        "dataset": "fixture",
        "task": ["sound", "music", "speech"][i % 3],
        "split": "test-mini",
        "category": "Reasoning",
        "sub-category": "Acoustic Source Inference",
        "difficulty": "easy",
    }
    item.update(overrides)
    return item


def write_mmau(root: Path) -> Path:
    """``root/mmau-test-mini.json`` with three items (one category a one-element list) and their 16 kHz clips."""
    items = [mmau_item(0), mmau_item(1, category=["Information Extraction"]), mmau_item(2)]
    # Key order varies between items in the real file.
    items[2] = dict(reversed(list(items[2].items())))
    for it in items:
        write_tone(root / it["audio_id"], 16000)
    (root / "mmau-test-mini.json").write_text(json.dumps(items, indent=4))
    return root


def token_rows(n: int = 8) -> list[dict]:
    """``n`` SER test rows as the concept_tokens stage writes them (two speakers, the four IEMOCAP classes)."""
    levels = ("VERY_LOW", "LOW", "MID", "HIGH", "VERY_HIGH")
    return [
        {
            "id": f"u{i}",
            "split": "test",
            "audio": f"/a/{i}.wav",
            "speaker": f"s{i % 2}",
            "label": ("ang", "hap", "neu", "sad")[i % 4],
            "tokens": {
                "ENERGY": levels[i % 5],
                "PITCH": "MID",
                "BRIGHTNESS": "DARK",
                "DYNAMICS": "STATIC",
                "FORMANTS": "HIGH",
                "VOICE_QUALITY": "MODAL",
            },
        }
        for i in range(n)
    ]

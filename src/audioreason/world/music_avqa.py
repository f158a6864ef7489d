"""MUSIC-AVQA-format ensembles of the world: instruments on a stage, questions from the official templates.

Writes ``music_avqa/json_update/avqa-{train,val,test}.json`` (a JSON list of questions
with ``video_id``, ``question_id``, the JSON-encoded ``type``, ``question_content`` with
placeholders, ``templ_values``, ``question_deleted`` and the misspelled ``anser`` key, as
the real files) and ``music_avqa/audio/<video_id>.wav`` (16 kHz).

Each "video" is an ensemble of visible instruments at left / middle / right positions
(what the video shows, :func:`visual_record`); some of them sound, each with its own
loudness, rhythm (notes per second) and entry time, and some videos carry a voiceover.
Questions use the dataset's own templates and are answered from that ground truth, so
audio questions need the audio, visual ones the picture and audio-visual ones both
(paper 02 evaluates on the test split per type).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from audioreason.config import WorldConfig
from audioreason.world import sounds
from audioreason.world.audio_out import at_peak, place, write_audio
from audioreason.world.scenes import NUMBER_WORDS

POSITIONS = ("left", "middle", "right")
ORDINALS = ("first", "second", "third")


@dataclass(frozen=True)
class Player:
    """One visible instrument: where it stands and, if it sounds, how loud, how fast and when."""

    instrument: str
    position: str
    sounding: bool
    notes_per_s: float
    gain_db: float
    start_s: float
    end_s: float


def _ensemble(rng: np.random.Generator, seconds: float) -> tuple[list[Player], bool, bool]:
    """1-3 players (one may stay silent), whether a voiceover is heard and whether the stage is indoor."""
    n_visible = int(rng.integers(1, 4))
    insts = [
        sounds.ENSEMBLE_INSTRUMENTS[i] for i in rng.choice(len(sounds.ENSEMBLE_INSTRUMENTS), n_visible, replace=False)
    ]
    positions = [POSITIONS[i] for i in sorted(rng.choice(3, n_visible, replace=False))]
    n_sounding = max(1, n_visible - int(rng.random() < 0.3))
    sounding = set(rng.choice(n_visible, n_sounding, replace=False).tolist())
    players = []
    gains = rng.permutation(np.linspace(-12, 0, n_visible))
    rates = rng.permutation(np.array([1.5, 3.0, 5.0])[:n_visible])
    entries = rng.permutation(n_visible)
    for i, (inst, pos) in enumerate(zip(insts, positions)):
        start = 0.0 if n_visible == 1 else float(entries[i]) * seconds / (n_visible + 1)
        end = seconds if rng.random() < 0.7 else start + 0.6 * (seconds - start)
        players.append(
            Player(inst, pos, i in sounding, float(rates[i]), float(gains[i]), round(start, 3), round(end, 3))
        )
    return players, bool(rng.random() < 0.25), bool(rng.random() < 0.6)


def _render(rng, sr, seconds, players, voiceover) -> np.ndarray:
    """The ensemble's audio: a bed, each sounding player's melody from entry to exit, the voiceover."""
    bed = sounds.background(rng, sr, seconds).astype(np.float64)
    for p in players:
        if not p.sounding:
            continue
        dur = p.end_s - p.start_s
        n_notes = max(1, int(round(p.notes_per_s * dur)))
        x = sounds.melody(rng, sr, p.instrument, n_notes, dur) * 10 ** (p.gain_db / 20)
        place(bed, 0.5 * x, int(p.start_s * sr))
    if voiceover:
        place(bed, 0.3 * sounds.voice(rng, sr, "Man", 0.6 * seconds), int(0.2 * seconds * sr))
    return at_peak(bed, rng)


def _questions(
    rng, players: list[Player], voiceover: bool, indoor: bool, seconds: float
) -> list[tuple[str, str, list[str], str]]:
    """Every template this ensemble answers: (type JSON, question_content, templ_values, answer)."""
    snd = [p for p in players if p.sounding]
    by_entry = sorted(snd, key=lambda p: (p.start_s, POSITIONS.index(p.position)))
    yes = lambda b: "yes" if b else "no"  # noqa: E731
    other = [i for i in sounds.ENSEMBLE_INSTRUMENTS if i not in {p.instrument for p in players}]
    q = []
    q.append(
        (
            '["Audio", "Counting"]',
            "How many musical instruments were heard throughout the video?",
            [],
            NUMBER_WORDS[len(snd)],
        )
    )
    probe = snd[0].instrument if rng.random() < 0.5 else other[int(rng.integers(len(other)))]
    q.append(
        ('["Audio", "Counting"]', "Is there a <Object> sound?", [probe], yes(probe in {p.instrument for p in snd}))
    )
    q.append(
        (
            '["Visual", "Counting"]',
            "How many types of musical instruments appeared in the entire video?",
            [],
            NUMBER_WORDS[len(players)],
        )
    )
    q.append(('["Visual", "Location"]', "Where is the performance?", [], "indoor" if indoor else "outdoor"))
    q.append(
        ('["Audio-Visual", "Counting"]', "How many instruments are sounding in the video?", [], NUMBER_WORDS[len(snd)])
    )
    q.append(('["Audio-Visual", "Existential"]', "Is there a voiceover?", [], yes(voiceover)))
    q.append(
        (
            '["Audio-Visual", "Existential"]',
            "Is the <Object> in the video always playing?",
            [snd[0].instrument],
            yes(snd[0].start_s == 0.0 and snd[0].end_s >= seconds),
        )
    )
    if len(by_entry) >= 2 and by_entry[0].start_s < by_entry[1].start_s:
        k = int(rng.integers(len(by_entry)))
        if k == 0 or by_entry[k].start_s > by_entry[k - 1].start_s:
            q.append(
                (
                    '["Audio-Visual", "Temporal"]',
                    "What is the <TH> instrument that comes in?",
                    [ORDINALS[k]],
                    by_entry[k].instrument,
                )
            )
        q.append(
            ('["Audio-Visual", "Temporal"]', "Where is the <FL> sounding instrument?", ["first"], by_entry[0].position)
        )
    if len(snd) >= 2:
        a, b = snd[0], snd[1]
        q.append(
            (
                '["Audio", "Comparative"]',
                "Is the <Object> louder than the <Object>?",
                [a.instrument, b.instrument],
                yes(a.gain_db > b.gain_db),
            )
        )
        q.append(
            (
                '["Audio", "Comparative"]',
                "Is the <Object> more rhythmic than the <Object>?",
                [a.instrument, b.instrument],
                yes(a.notes_per_s > b.notes_per_s),
            )
        )
        q.append(
            (
                '["Audio-Visual", "Comparative"]',
                "Is the instrument on the <LR> louder than the instrument on the <LR>?",
                [a.position, b.position],
                yes(a.gain_db > b.gain_db),
            )
        )
    silent = sum(1 for p in players if not p.sounding or p.start_s > 0 or p.end_s < seconds)
    q.append(
        (
            '["Audio-Visual", "Counting"]',
            "How many instruments in the video did not sound from beginning to end?",
            [],
            NUMBER_WORDS[silent],
        )
    )
    return q


def write_music_avqa(out: Path, cfg: WorldConfig, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
    """Write ``music_avqa/json_update/avqa-{train,val,test}.json`` and ``music_avqa/audio/``.

    Returns:
        Questions per split and ``"<group>/<kind>"`` type (what the importer counts as types).
    """
    mcfg = cfg.music_avqa
    counts: dict = {}
    qid = 0
    vid = 0
    for split, n_videos, split_seq in zip(
        ("train", "val", "test"), (mcfg.train_videos, mcfg.val_videos, mcfg.test_videos), seed_seq.spawn(3)
    ):
        items = []
        for vseq in tqdm(split_seq.spawn(n_videos), desc=f"world music_avqa/{split}", leave=False, disable=None):
            rng = np.random.default_rng(vseq)
            vid += 1
            video_id = f"{vid:08d}" if rng.random() < 0.8 else f"vv{vid:08d}"
            players, voiceover, indoor = _ensemble(rng, cfg.clip_seconds)
            audio = _render(rng, mcfg.sample_rate, cfg.clip_seconds, players, voiceover)
            write_audio(out / "music_avqa" / "audio" / f"{video_id}.wav", audio, mcfg.sample_rate)
            qs = _questions(rng, players, voiceover, indoor, cfg.clip_seconds)
            for j in sorted(rng.choice(len(qs), min(mcfg.questions_per_video, len(qs)), replace=False)):
                typ, content, values, answer = qs[j]
                qid += 1
                # The real files end questions with '?' or the full-width '？' (the official rule drops it either way).
                mark = "？" if rng.random() < 0.1 else "?"
                items.append(
                    {
                        "video_id": video_id,
                        "question_id": qid,
                        "type": typ,
                        "question_content": content[:-1] + mark,
                        "templ_values": json.dumps(values),
                        "question_deleted": 0,
                        "anser": answer,
                    }
                )
                group, kind = json.loads(typ)
                counts.setdefault(split, {}).setdefault(f"{group}/{kind}", 0)
                counts[split][f"{group}/{kind}"] += 1
            truth.append(
                {
                    "dataset": "music_avqa",
                    "split": split,
                    "clip": f"music_avqa/audio/{video_id}.wav",
                    "players": [p.__dict__ for p in players],
                    "voiceover": voiceover,
                    "indoor": indoor,
                }
            )
        (out / "music_avqa" / "json_update").mkdir(parents=True, exist_ok=True)
        (out / "music_avqa" / "json_update" / f"avqa-{split}.json").write_text(json.dumps(items) + "\n")
    return counts


def visual_record(truth_line: dict) -> dict:
    """What the silent video shows: instruments and where they stand, indoor/outdoor; not who sounds."""
    players = truth_line["players"]
    return {
        "clip": truth_line["clip"],
        "visible": [f"{p['instrument']} ({p['position']})" for p in players],
        "setting": "indoor" if truth_line["indoor"] else "outdoor",
    }

"""Stage ``mix_sseu``: SSEU-Bench speech + background mixtures at controlled SNRs (paper 05 §2.1).

Each benchmark *item* pairs one VCTK utterance (with its transcript) with a window of one
background recording of a scene (DESED: home; MAESTRO-Real: restaurant, city center,
grocery store, metro station, residential area) and is rendered at every SNR of
``mix_sseu.snrs`` (+inf: speech only, -inf: background only), mono 44.1 kHz, by
:func:`audioreason.audio.mixing.mix_at_snr` (SNR over the speech's samples; both sources
scaled together, never clipped). Only the window of a long MAESTRO recording is read.

Manifest (``outputs/mix_sseu/manifest.jsonl``), one row per mixture: id, audio, snr_db,
snr key, the measured SNR, speech id, speaker, transcript, background id and dataset, scene,
events in the window (label, onset, offset in mixture seconds; MAESTRO soft labels kept at
confidence >= ``min_event_confidence``), their distinct labels, gains, onsets.

Documented handling of bad input, counted in ``outputs/mix_sseu/report.json`` and the metrics:

- a VCTK utterance without a transcript (p315) is not used: ``speech_missing_transcript``;
- a silent speech clip (RMS below ``min_speech_rms``) is not used and the next one is drawn:
  ``speech_silent``;
- a background shorter than the window is repeated to fill it: ``background_looped``;
- a weakly labelled DESED clip has no onsets and is not used: ``background_weak``;
- an event label outside ``event_classes`` (speech-like, or merged away) is dropped from the
  item's events: ``events_unmapped`` per label.

Deterministic from ``seed``; per-item resume: an item whose record (``items/<id>.json``)
matches its plan is not rendered again (the output folder is DVC ``persist``).

One MLflow run, ``p05.data.mix_sseu.mix_sseu``; metrics ``metrics/mix_sseu.json``.

    dvc repro mix_sseu           # or: python -m audioreason.stages.mix_sseu
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf

from audioreason.audio.io import load_audio
from audioreason.audio.mixing import MIX_RATE, measured_snr, mix_at_snr, read_window, snr_key
from audioreason.config import MixSseuConfig
from audioreason.datasets.records import Soundscape, Utterance, read_manifest
from audioreason.pipeline import OUTPUTS, stage_params, write_jsonl
from audioreason.tracking import NullTracker, stage_run

OUT = OUTPUTS / "mix_sseu"
PAPER = "p05"


def speech_pool(cfg: MixSseuConfig, counts: Counter) -> list[Utterance]:
    """VCTK utterances with a transcript, in a seeded order."""
    pool = []
    for u in read_manifest(cfg.speech, Utterance):
        if not (u.text or "").strip():
            counts["speech_missing_transcript"] += 1
            continue
        pool.append(u)
    order = np.random.default_rng(cfg.seed).permutation(len(pool))
    return [pool[i] for i in order]


def background_pool(cfg: MixSseuConfig, counts: Counter) -> dict[str, list[Soundscape]]:
    """Strongly labelled backgrounds per benchmark scene (``cfg.scenes`` maps dataset scenes to them)."""
    by_scene: dict[str, list[Soundscape]] = {s: [] for s in dict.fromkeys(cfg.scenes.values())}
    for manifest in cfg.backgrounds:
        for clip in read_manifest(manifest, Soundscape):
            if not clip.strong:
                counts["background_weak"] += 1
                continue
            if clip.scene not in cfg.scenes:
                counts[f"background_scene_unmapped.{clip.scene}"] += 1
                continue
            by_scene[cfg.scenes[clip.scene]].append(clip)
    empty = [s for s, clips in by_scene.items() if not clips]
    if empty:
        raise ValueError(f"mix_sseu: no strongly labelled background for scene(s) {empty}")
    return by_scene


def window_events(
    clip: Soundscape, start_s: float, seconds: float, cfg: MixSseuConfig, counts: Counter, duration: float | None = None
) -> list[dict]:
    """The clip's events that overlap the window by ``min_event_s``, in window seconds, benchmark labels.

    A recording of ``duration`` shorter than the window is repeated to fill it (``read_window``),
    and so are its events.
    """
    repeats = math.ceil(seconds / duration) if duration and duration < seconds else 1
    shifted = [(e, k * (duration or 0.0)) for k in range(repeats) for e in clip.events]
    out = []
    for e, shift in shifted:
        onset, offset = max(e.onset + shift, start_s), min(e.offset + shift, start_s + seconds)
        if offset - onset < cfg.min_event_s or e.confidence < cfg.min_event_confidence:
            continue
        if e.label not in cfg.event_classes:
            counts[f"events_unmapped.{e.label}"] += shift == 0.0
            continue
        out.append(
            {
                "label": cfg.event_classes[e.label],
                "onset": round(onset - start_s, 3),
                "offset": round(offset - start_s, 3),
            }
        )
    return out


def plan_items(cfg: MixSseuConfig, counts: Counter) -> list[dict]:
    """Which speech goes with which background window, where: the whole benchmark as data, before any mixing."""
    rng = np.random.default_rng(cfg.seed)
    speech = speech_pool(cfg, counts)
    backgrounds = background_pool(cfg, counts)
    items, next_speech, silent = [], 0, set()
    for scene, clips in backgrounds.items():
        for k in range(cfg.items_per_scene):
            clip = clips[k % len(clips)]
            for _ in range(len(speech)):  # the pool is reused in order when items outnumber utterances
                u = speech[next_speech % len(speech)]
                next_speech += 1
                x = load_audio(u.audio, MIX_RATE)
                if len(x) and float(np.sqrt(np.mean(np.square(x)))) >= cfg.min_speech_rms:
                    break
                silent.add(u.id)
                counts["speech_silent"] = len(silent)
            else:
                raise ValueError(f"mix_sseu: none of the {len(speech)} speech clips with a transcript is audible")
            speech_s = len(x) / MIX_RATE
            seconds = max(cfg.clip_seconds, speech_s + 0.5)
            duration = sf.info(clip.audio).duration
            start = float(rng.uniform(0, max(0.0, duration - seconds)))
            onset = float(rng.uniform(0, seconds - speech_s))
            item = {
                "id": f"{scene.replace(' ', '_')}_{k:03d}",
                "scene": scene,
                "speech_id": u.id,
                "speaker": u.speaker,
                "speech_audio": u.audio,
                "transcript": u.text,
                "background_id": clip.id,
                "background_dataset": clip.dataset,
                "background_audio": clip.audio,
                "window_start_s": round(start, 3),
                "seconds": round(seconds, 3),
                "speech_onset_s": round(onset, 3),
                "events": window_events(clip, start, seconds, cfg, counts, duration),
            }
            item["plan"] = hashlib.sha256(json.dumps([item, cfg.snrs, MIX_RATE], sort_keys=True).encode()).hexdigest()[
                :16
            ]
            items.append(item)
    return items


def render_item(item: dict, cfg: MixSseuConfig, out: Path, counts: Counter) -> list[dict]:
    """Every SNR of one item as wav files; returns its manifest rows."""
    speech = load_audio(item["speech_audio"], MIX_RATE)
    background, looped = read_window(item["background_audio"], item["window_start_s"], item["seconds"])
    onset = int(round(item["speech_onset_s"] * MIX_RATE))
    onset = min(onset, len(background) - len(speech))
    rows = []
    for snr in cfg.snrs:
        m = mix_at_snr(speech, background, snr, onset)
        span = slice(onset, onset + len(speech))
        key = snr_key(snr)
        path = out / "audio" / f"{item['id']}_{key}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, m.audio, MIX_RATE, subtype="PCM_16")
        achieved = measured_snr(m.speech_gain * speech, m.background_gain * background[span])
        rows.append(
            {
                "id": f"{item['id']}_{key}",
                "item": item["id"],
                "audio": str(path.resolve()),
                "snr_db": snr if math.isfinite(snr) else ("inf" if snr > 0 else "-inf"),
                "snr_key": key,
                "measured_snr_db": achieved if math.isfinite(achieved) else str(achieved),
                "speech_id": item["speech_id"],
                "speaker": item["speaker"],
                "transcript": item["transcript"],
                "background_id": item["background_id"],
                "background_dataset": item["background_dataset"],
                "scene": item["scene"],
                "events": item["events"],
                "event_labels": sorted({e["label"] for e in item["events"]}),
                "speech_onset_s": m.onset_s,
                "speech_s": m.speech_s,
                "window_start_s": item["window_start_s"],
                "speech_gain": m.speech_gain,
                "background_gain": m.background_gain,
                "headroom_gain": m.headroom_gain,
                "background_looped": looped,
            }
        )
    return rows


def run(cfg: MixSseuConfig, tracker: NullTracker) -> dict:
    from tqdm.auto import tqdm

    counts: Counter = Counter()
    items = plan_items(cfg, counts)
    (OUT / "items").mkdir(parents=True, exist_ok=True)
    rows, rendered, start = [], 0, time.perf_counter()
    audio_s = 0.0
    for item in tqdm(items, desc="mix_sseu", disable=None):
        record = OUT / "items" / f"{item['id']}.json"
        if record.is_file() and json.loads(record.read_text()).get("plan") == item["plan"]:
            item_rows = json.loads(record.read_text())["rows"]
            counts["items_resumed"] += 1
        else:
            item_rows = render_item(item, cfg, OUT, counts)
            record.write_text(json.dumps({"plan": item["plan"], "rows": item_rows}) + "\n")
            rendered += 1
            audio_s += item["seconds"] * len(cfg.snrs)
        rows.extend(item_rows)
    wall = time.perf_counter() - start
    counts["background_looped"] = sum(r["background_looped"] for r in rows if r["snr_key"] == rows[0]["snr_key"])
    keep = {Path(r["audio"]).name for r in rows}
    for stale in (OUT / "audio").glob("*.wav"):
        if stale.name not in keep:
            stale.unlink()
    keep_items = {f"{i['id']}.json" for i in items}
    for stale in (OUT / "items").glob("*.json"):
        if stale.name not in keep_items:
            stale.unlink()
    write_jsonl(rows, OUT / "manifest.jsonl")
    classes = sorted({e["label"] for r in rows for e in r["events"]})
    report = {
        "items": len(items),
        "mixtures": len(rows),
        "snrs": [snr_key(s) for s in cfg.snrs],
        "scenes": dict(Counter(i["scene"] for i in items)),
        "event_classes_present": classes,
        **{k: v for k, v in sorted(counts.items())},
    }
    (OUT / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    tracker.log_artifact(OUT / "report.json", "mix_sseu")
    worst = max(
        (
            abs(r["measured_snr_db"] - r["snr_db"])
            for r in rows
            if isinstance(r["snr_db"], float) and isinstance(r["measured_snr_db"], float)
        ),
        default=0.0,
    )
    return {
        "items": len(items),
        "mixtures": len(rows),
        "items_rendered": rendered,
        "items_resumed": counts["items_resumed"],
        "speech_missing_transcript": counts["speech_missing_transcript"],
        "speech_silent": counts["speech_silent"],
        "background_looped": counts["background_looped"],
        "background_weak": counts["background_weak"],
        "events_unmapped": sum(v for k, v in counts.items() if k.startswith("events_unmapped.")),
        "event_classes_present": len(classes),
        "max_snr_error_db": worst,
        **({"real_time_factor": wall / audio_s} if audio_s else {}),
    }  # none when every item resumed


def main() -> None:
    cfg, tracking = stage_params("mix_sseu", "tracking")
    with stage_run(
        "mix_sseu", tracking, cfg=cfg, paper=PAPER, table="data", deps=[cfg.speech, *cfg.backgrounds]
    ) as stage:
        stage.metrics = run(cfg, stage.tracker)
    print(f"mix_sseu: {stage.metrics}")


if __name__ == "__main__":
    main()

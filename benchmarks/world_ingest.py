"""Throughput of world generation and of ingest, measured in one run.

Writes the tiny world (params.yaml ``world`` section) into a temporary folder, timing each
dataset writer, then reads every dataset back through the importers (the ``ingest``
stage's code path). Prints clips per second and the real-time factor (seconds of audio
written or checked per second of wall time) per dataset and overall.

    .venv/bin/python benchmarks/world_ingest.py [--params params.yaml]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import soundfile as sf

from audioreason.config import load_params
from audioreason.datasets.formats import read_dataset
from audioreason.world.metadata import WORLD_DATASETS
from audioreason.world.write import write_world


def _audio_seconds(root: Path, top: str) -> tuple[int, float]:
    files = [p for p in (root / top).rglob("*") if p.suffix in (".wav", ".flac") and not p.name.startswith("._")]
    return len(files), sum(sf.info(p).duration for p in files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    cfg = load_params(args.params, sections=["world"])["world"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        t0 = time.perf_counter()
        write_world(out, cfg)
        gen_s = time.perf_counter() - t0
        n_files, audio_s = 0, 0.0
        for top in ("avqa", "mmau", "music_avqa", "iemocap", "fau_aibo", "vctk", "desed", "maestro", "vggsound"):
            n, s = _audio_seconds(out, top)
            n_files += n
            audio_s += s
        print(
            f"world: {n_files} audio files, {audio_s:.0f} s of audio in {gen_s:.1f} s wall: "
            f"{n_files / gen_s:.1f} clips/s, real-time factor {audio_s / gen_s:.1f}x"
        )
        rows = []
        t_all = time.perf_counter()
        for name, (fmt, path) in WORLD_DATASETS.items():
            t = time.perf_counter()
            result = read_dataset(fmt, out / path, on_error="quarantine")
            rows.append((name, len(result.records), time.perf_counter() - t))
        ingest_s = time.perf_counter() - t_all
        for name, n, s in rows:
            print(f"  ingest {name:<24} {n:>6} records  {n / max(s, 1e-9):>10.0f} records/s")
        total = sum(n for _, n, _ in rows)
        print(
            f"ingest: {total} records in {ingest_s:.2f} s: {total / ingest_s:.0f} records/s, "
            f"{audio_s / ingest_s:.0f}x real time over the world's audio"
        )
        print(
            json.dumps(
                {
                    "world_clips_per_s": round(n_files / gen_s, 1),
                    "world_rtf": round(audio_s / gen_s, 1),
                    "ingest_records_per_s": round(total / ingest_s),
                    "ingest_rtf": round(audio_s / ingest_s),
                }
            )
        )


if __name__ == "__main__":
    main()

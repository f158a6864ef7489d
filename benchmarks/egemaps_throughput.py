"""eGeMAPS (openSMILE) extraction throughput: files per second and real-time factor, 1 vs N processes.

Reads the utterances of a validated ``Utterance`` manifest (default: the world's IEMOCAP
and FAU-Aibo, as the ``concept_tokens`` stage does) and extracts the eGeMAPSv02 LLD means
of every file once per worker count, after one warm-up pass that is not timed (page cache,
openSMILE config parsing). Prints one line per worker count and the speed-up ratios,
measured in the same run.

    python benchmarks/egemaps_throughput.py                          # 1 and 2 processes
    python benchmarks/egemaps_throughput.py --workers 1 2 4 --repeat 3
"""

from __future__ import annotations

import argparse
import os

from audioreason.audio.egemaps import extract_features
from audioreason.datasets.records import Utterance, read_manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--manifests", nargs="+", default=["outputs/validate/iemocap.jsonl", "outputs/validate/fau_aibo.jsonl"]
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=2, help="timed passes per worker count (the best is kept)")
    args = parser.parse_args()
    paths = [u.audio for m in args.manifests for u in read_manifest(m, Utterance)]
    extract_features(paths[:20], workers=1, progress=False)  # warm-up
    print(f"{len(paths)} files, {os.cpu_count()} CPUs")
    best = {}
    for w in args.workers:
        runs = [extract_features(paths, workers=w, progress=False)[1] for _ in range(args.repeat)]
        best[w] = min(runs, key=lambda s: s.wall_s)
        s = best[w]
        print(
            f"workers {w}: {s.files_per_s:7.1f} files/s  real-time factor {s.real_time_factor:.4f}  "
            f"({s.audio_s:.0f} s of audio in {s.wall_s:.2f} s)"
        )
    base = best[args.workers[0]]
    for w in args.workers[1:]:
        print(
            f"speed-up {args.workers[0]} -> {w} processes: x{base.wall_s / best[w].wall_s:.2f} "
            f"(ideal x{w / args.workers[0]:.0f})"
        )


if __name__ == "__main__":
    main()

"""SSEU-Bench mixing on long backgrounds: real-time factor and peak memory, window reads vs whole-file reads.

Writes a MAESTRO-like background of ``--minutes`` minutes (44.1 kHz, 16-bit) and a few
speech-like clips to a temporary folder, then renders ``--items`` mixtures at the seven SNRs
twice, measured in the same run:

- ``window``: what ``mix_sseu`` does: :func:`audioreason.audio.mixing.read_window` reads only
  the frames of the mixture's window;
- ``whole``: the naive way, the whole recording decoded for every item, then sliced.

Prints the real-time factor (compute seconds per second of mixture audio) and the peak
Python-heap allocation (tracemalloc) of each, and their ratios.

    python benchmarks/sseu_mixing.py                      # 10-minute background, 20 items
    python benchmarks/sseu_mixing.py --minutes 30 --items 40
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import soundfile as sf

from audioreason.audio.mixing import MIX_RATE, SNR_LEVELS, mix_at_snr, read_window


def render(bg: Path, speech: list[np.ndarray], items: int, seconds: float, whole: bool) -> tuple[float, int, float]:
    rng = np.random.default_rng(0)
    duration = sf.info(str(bg)).duration
    tracemalloc.start()
    start = time.perf_counter()
    audio_s = 0.0
    for i in range(items):
        offset = float(rng.uniform(0, duration - seconds))
        if whole:
            x, _ = sf.read(str(bg), dtype="float32")
            window = x[int(offset * MIX_RATE) : int(offset * MIX_RATE) + int(seconds * MIX_RATE)]
        else:
            window, _ = read_window(bg, offset, seconds)
        s = speech[i % len(speech)]
        for snr in SNR_LEVELS:
            mix_at_snr(s, window, snr, int(0.5 * MIX_RATE))
            audio_s += seconds
    wall = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return wall, peak, audio_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="mixture length")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        bg = Path(tmp) / "maestro_like.wav"
        with sf.SoundFile(bg, "w", MIX_RATE, 1, subtype="PCM_16") as f:  # written in blocks, never whole in memory
            for _ in range(int(args.minutes * 60)):
                f.write((0.1 * rng.normal(size=MIX_RATE)).astype(np.float32))
        t = np.arange(int(3 * MIX_RATE)) / MIX_RATE
        speech = [
            0.3 * np.sin(2 * np.pi * (150 + 20 * k) * t) * (0.5 - 0.5 * np.cos(2 * np.pi * 3 * t)) for k in range(4)
        ]
        print(
            f"background {args.minutes:.0f} min ({bg.stat().st_size / 2**20:.0f} MiB), {args.items} items x "
            f"{len(SNR_LEVELS)} SNRs of {args.seconds:.0f} s"
        )
        results = {}
        for name, whole in (("window", False), ("whole", True)):
            wall, peak, audio_s = render(bg, speech, args.items, args.seconds, whole)
            results[name] = (wall, peak)
            print(
                f"{name:6s}: real-time factor {wall / audio_s:.5f} ({audio_s:.0f} s of mixtures in {wall:.2f} s), "
                f"peak allocation {peak / 2**20:.1f} MiB"
            )
        w, h = results["window"], results["whole"]
        print(f"window reads: x{h[0] / w[0]:.1f} faster, x{h[1] / w[1]:.1f} less peak memory than whole-file reads")


if __name__ == "__main__":
    main()

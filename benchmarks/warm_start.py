"""A stage command's wall time as a plain process and forked from the warm interpreter, in one run.

Runs the same stage command (default: the evaluation-only GRPO row ``grpo@base``, whose work is
small beside its imports) ``--repeat`` times each way in the repository's current workspace,
alternating, and prints the medians and their ratio. Needs the tiny pipeline's upstream outputs
(``make repro`` first). The stage rewrites its own outputs, with the same content.

    python benchmarks/warm_start.py
    python benchmarks/warm_start.py --repeat 5 -- audioreason.stages.report
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from audioreason import warm


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("module", nargs="?", default="audioreason.stages.grpo")
    parser.add_argument("args", nargs="*", default=["--row", "base"])
    args = parser.parse_args()
    cmd = [sys.executable, "-m", "audioreason.warm", "-m", args.module, *args.args]
    env = {k: v for k, v in os.environ.items() if k != warm.ENV}
    cold, forked = [], []
    with warm.server(env) as path:
        if path is None:
            sys.exit("the warm server did not start")
        for _ in range(args.repeat):
            cold.append(timed(cmd, env))
            forked.append(timed(cmd, {**env, warm.ENV: path}))
    c, f = statistics.median(cold), statistics.median(forked)
    print(f"{' '.join(cmd[3:])}: plain process {c:.2f} s, forked {f:.2f} s (medians of {args.repeat})")
    print(f"ratio plain / forked: {c / f:.2f}x; saved per stage run: {c - f:.2f} s")


if __name__ == "__main__":
    main()

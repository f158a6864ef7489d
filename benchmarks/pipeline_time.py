"""Per-stage wall time of the last ``dvc repro``, against the tiny pipeline's 10-minute budget.

DVC runs stages one after another and records no durations, so a stage's time is read
from the files it wrote: it ends when its last output (or metrics file) was written, and
it started when the stage that ran just before it ended (the first stage: when
``make repro`` touched ``.cache/repro_started``). Meaningful after a full run from
scratch (``make clean-outputs && make repro``): a stage that a partial run skipped keeps
its old timestamps and is listed as "not in this run".

    python benchmarks/pipeline_time.py            # table, total, share of the budget
    python benchmarks/pipeline_time.py --budget-min 10
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path


def stage_outputs() -> dict[str, list[Path]]:
    """``{stage: [paths it writes]}`` from DVC's own view of the pipeline (matrix stages expanded)."""
    out = subprocess.run(["dvc", "stage", "list", "--json"], capture_output=True, text=True)
    stages: dict[str, list[Path]] = {}
    if out.returncode == 0 and out.stdout.strip().startswith(("[", "{")):
        for entry in json.loads(out.stdout):
            stages[entry["name"]] = [Path(p) for p in entry.get("outs", [])]
        return stages
    import yaml

    lock = yaml.safe_load(Path("dvc.lock").read_text())["stages"]
    for name, entry in lock.items():
        stages[name] = [Path(o["path"]) for o in entry.get("outs", [])]
    return stages


def last_write(paths: list[Path]) -> float | None:
    times = []
    for p in paths:
        if p.is_file():
            times.append(p.stat().st_mtime)
        elif p.is_dir():
            times += [f.stat().st_mtime for f in p.rglob("*") if f.is_file()]
    return max(times) if times else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-min", type=float, default=10.0)
    parser.add_argument(
        "--gap-min",
        type=float,
        default=30.0,
        help="a stage that ended this long before the next is counted as not in this run",
    )
    args = parser.parse_args()
    ends = {name: t for name, paths in stage_outputs().items() if (t := last_write(paths)) is not None}
    order = sorted(ends, key=ends.get)
    # The last run is the longest tail of stages with no gap longer than --gap-min between them.
    start = len(order) - 1
    while start > 0 and ends[order[start]] - ends[order[start - 1]] < args.gap_min * 60:
        start -= 1
    run = order[start:]
    marker = Path(".cache/repro_started")
    began = marker.stat().st_mtime if marker.is_file() else None
    if began is not None and not (0 <= ends[run[0]] - began < args.gap_min * 60):
        began = None  # the marker belongs to another run
    print(f"{'stage':28s} {'seconds':>8s}")
    for name in order[:start]:
        print(f"{name:28s} {'-':>8s}  (not in this run)")
    total = 0.0
    for prev, name in zip([None] + run[:-1], run):
        t0 = ends[prev] if prev else began
        seconds = ends[name] - t0 if t0 is not None else float("nan")
        total += 0.0 if t0 is None else seconds
        print(f"{name:28s} {seconds:8.1f}" + ("  (its start is not recorded)" if t0 is None else ""))
    print(
        f"{'total':28s} {total:8.1f}   = {total / 60:.1f} min, "
        f"{total / (args.budget_min * 60):.2f} of the {args.budget_min:g}-minute budget"
    )


if __name__ == "__main__":
    main()

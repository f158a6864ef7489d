"""What every stage module shares: the params file it reads and where it writes."""

from __future__ import annotations

import os
from pathlib import Path

from audioreason.config import load_params

PARAMS_FILE = os.environ.get("AUDIOREASON_PARAMS", "params.yaml")
OUTPUTS = Path("outputs")
METRICS = Path("metrics")
PLOTS = Path("plots")


def sections(*names: str):
    """Build only the params sections a stage reads (their errors name ``section.key``)."""
    loaded = load_params(PARAMS_FILE, sections=list(names))
    return loaded if len(names) > 1 else loaded[names[0]]


def teacher(name: str):
    """The backend of ``teachers.<name>`` and its spec (a stage reads only its own teacher's entry)."""
    from audioreason.teachers.registry import build_backend, load_teacher

    spec = load_teacher(PARAMS_FILE, name)
    return build_backend(spec, f"teachers.{name}"), spec


def sampling_params(section):
    """A stage's ``sampling`` section as the backends' :class:`~audioreason.teachers.base.SamplingParams`."""
    import dataclasses

    from audioreason.teachers.base import SamplingParams

    return SamplingParams(**dataclasses.asdict(section))


def figure():
    """``matplotlib.pyplot`` on the file-only Agg backend (stages run headless)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, png: Path, dpi: int = 100) -> Path:
    """Lay out, write ``png`` (creating its folder) and free the figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=dpi)
    plt.close(fig)
    return png


def bar_plot(values: dict[str, float], png: Path, *, title: str, ylabel: str, ylim: tuple[float, float] | None = None,
             reference: float | None = None) -> Path:
    """One bar per key, the value written above it; ``reference`` draws a dashed line (a target share)."""
    plt = figure()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(values) + 2), 3))
    keys = list(values)
    ax.bar(keys, [values[k] for k in keys], color="#1f77b4")
    for i, k in enumerate(keys):
        ax.text(i, values[k], f"{values[k]:.2f}", ha="center", va="bottom", fontsize=8)
    if reference is not None:
        ax.axhline(reference, ls="--", color="#888")
    ax.set(title=title, ylabel=ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    return save_figure(fig, png)


def write_jsonl(rows, path: Path) -> int:
    """Plain dict rows as JSON Lines (sorted keys: identical inputs give identical bytes)."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSON Lines file a previous stage wrote."""
    import json

    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


GENERATIONS = OUTPUTS / "generations"  # per-stage generation caches (DVC `persist`: kept across reruns)


def generation_stage(stage: str, paper: str, run, deps) -> dict:
    """What ``main()`` of every generation stage does: read its section and its teacher, open one
    MLflow run (``<paper>.data.<stage>.<stage>``, the teacher's spec among the params), call
    ``run(cfg, backend, batch_size, tracker)``, write ``metrics/<stage>.json``.

    Args:
        deps: ``cfg -> [paths]`` whose DVC hashes the run records.
    """
    from audioreason.config import flatten
    from audioreason.tracking import start_run, write_metrics

    cfg, tracking = sections(stage, "tracking").values()
    backend, spec = teacher(cfg.teacher)
    params = {**flatten(cfg, stage), **flatten(spec, f"teachers.{cfg.teacher}")}
    with start_run(uri=tracking.uri, experiment=tracking.experiment, scale=tracking.scale, stage=stage, paper=paper, table="data",
                   row=stage, params=params, deps=deps(cfg)) as tracker:
        metrics = run(cfg, backend, spec.batch_size, tracker)
    write_metrics(metrics, METRICS / f"{stage}.json")
    return metrics


def training_stage(stage: str, paper: str, table: str, row: str, run, deps) -> dict:
    """What ``main()`` of a training stage does: read its section, open one MLflow run
    (``<paper>.<table>.<row>.<stage>``), call ``run(cfg, tracker)``, log and write ``metrics/<stage>.json``.

    Args:
        deps: ``cfg -> [paths]`` whose DVC hashes the run records.
    """
    from audioreason.config import flatten
    from audioreason.tracking import start_run, write_metrics

    cfg, tracking = sections(stage, "tracking").values()
    with start_run(uri=tracking.uri, experiment=tracking.experiment, scale=tracking.scale, stage=stage, paper=paper, table=table, row=row,
                   params=flatten(cfg, stage), deps=deps(cfg)) as tracker:
        metrics = run(cfg, tracker)
        tracker.log_metrics(metrics)
    write_metrics(metrics, METRICS / f"{stage}.json")
    print(f"{stage}: {metrics}")
    return metrics
